"""Load generator for section 7: N client threads, each from its own loopback address, in a process of its own.

    python -m bench.replicas_load URL N_CLIENTS PER_CLIENT MODE TAG

MODE "gradio": Gradio's HTTP API for /ask (POST /gradio_api/call/ask, then GET its event stream: the same
queue as gradio_client and the page); "json": POST /api/v1/ask. Thread i binds 127.0.0.(10+i), so that
nginx's per-address affinity spreads the clients as it would spread machines (gradio_client itself cannot
choose a source address per Client). Every question is made unique with TAG and a counter, so that no replica
answers from its question cache and each request embeds, as a new learner's would.
Prints one JSON line: {"rps", "wall", "latencies_ms", "errors"}.
"""

from __future__ import annotations

import json
import sys
import threading
import time


def main(argv: list[str]) -> int:
    import httpx

    from .common import gold_questions

    url, n_clients, per_client, mode, tag = argv[0].rstrip("/"), int(argv[1]), int(argv[2]), argv[3], argv[4]
    qs = gold_questions()
    clients = [httpx.Client(transport=httpx.HTTPTransport(local_address=f"127.0.0.{10 + i}"), timeout=120,
                            trust_env=False) for i in range(n_clients)]

    def send(c, q: str) -> None:
        if mode == "json":
            r = c.post(f"{url}/api/v1/ask", json={"question": q, "k": 5})
            r.raise_for_status()
            if "passages" not in r.json():
                raise RuntimeError(f"not a record: {r.text[:120]!r}")
            return
        r = c.post(f"{url}/gradio_api/call/ask", json={"data": [q, 5, None]})
        r.raise_for_status()
        r2 = c.get(f"{url}/gradio_api/call/ask/{r.json()['event_id']}")
        r2.raise_for_status()
        if "event: complete" not in r2.text:
            raise RuntimeError(f"/ask did not complete: {r2.text[:160]!r}")

    for i, c in enumerate(clients):  # connect (and warm) every client before the clock starts
        send(c, f"{qs[i % len(qs)]} (warm {tag} {i})")
    barrier = threading.Barrier(n_clients + 1)
    lat: list[float] = []
    errors: list[str] = []
    lock = threading.Lock()

    def worker(ci: int, c) -> None:
        barrier.wait()
        for j in range(per_client):
            n = ci * per_client + j
            q = f"{qs[n % len(qs)]} ({tag} {n})"
            t = time.perf_counter()
            err = None
            try:
                send(c, q)
            except Exception as e:  # noqa: BLE001 - counted and reported
                err = repr(e)[:200]
            with lock:
                lat.append((time.perf_counter() - t) * 1e3)
                if err:
                    errors.append(err)

    threads = [threading.Thread(target=worker, args=(i, c), daemon=True) for i, c in enumerate(clients)]
    for t in threads:
        t.start()
    barrier.wait()
    t1 = time.perf_counter()
    for t in threads:
        t.join(timeout=600)
    wall = time.perf_counter() - t1
    for c in clients:
        c.close()
    print(json.dumps({"rps": n_clients * per_client / wall, "wall": wall, "latencies_ms": lat, "errors": errors}))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

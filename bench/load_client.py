"""Load generator in a process of its own, so that the clients do not share the server's GIL.

    python -m bench.load_client URL N_CLIENTS PER_CLIENT [OFFSET] [--raw] [--echo]

Starts N_CLIENTS threads, each with its own gradio_client.Client (or, with --raw, its own httpx.Client
speaking Gradio's plain HTTP API: POST /gradio_api/call/ask, then GET the event's stream), waits until all
are connected, then has each send PER_CLIENT /ask (or /echo) requests back to back. Prints one JSON line:
{"rps", "wall", "latencies_ms", "errors", "connect_s"}.
"""

from __future__ import annotations

import json
import sys
import threading
import time


def raw_ask(h, url: str, q: str, api: str = "ask") -> None:
    data = [q, 5, None] if api == "ask" else [q]
    r = h.post(f"{url}gradio_api/call/{api}", json={"data": data})
    r.raise_for_status()
    event = r.json()["event_id"]
    r2 = h.get(f"{url}gradio_api/call/{api}/{event}")
    r2.raise_for_status()
    if "event: complete" not in r2.text:
        raise RuntimeError(f"/{api} did not complete: {r2.text[:200]!r}")


def main(argv: list[str]) -> int:
    raw = "--raw" in argv
    api = "echo" if "--echo" in argv else "ask"
    args = [a for a in argv if not a.startswith("--")]
    url, n_clients, per_client = args[0], int(args[1]), int(args[2])
    offset = int(args[3]) if len(args) > 3 else 0
    from .common import gold_questions

    qs = gold_questions()
    t0 = time.perf_counter()
    if raw:
        import httpx

        clients = [httpx.Client(timeout=120) for _ in range(n_clients)]

        def send(c, q):
            raw_ask(c, url, q, api)
    else:
        from .web import _ask, client

        clients = [client(url) for _ in range(n_clients)]

        def send(c, q):
            if api == "ask":
                _ask(c, q)
            elif c.predict(q, api_name="/echo") != q:
                raise RuntimeError("/echo did not echo")
    connect = time.perf_counter() - t0
    barrier = threading.Barrier(n_clients + 1)
    lat: list[float] = []
    errors: list[str] = []
    lock = threading.Lock()

    def worker(ci: int, c) -> None:
        barrier.wait()
        for j in range(per_client):
            q = qs[(offset + ci * per_client + j) % len(qs)]
            t = time.perf_counter()
            err = None
            try:
                send(c, q)
            except Exception as e:  # noqa: BLE001 - counted and reported
                err = repr(e)[:200]
            dt = (time.perf_counter() - t) * 1e3
            with lock:
                lat.append(dt)
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
        try:
            c.close()
        except Exception:  # noqa: BLE001
            pass
    print(json.dumps({"rps": n_clients * per_client / wall, "wall": wall, "latencies_ms": lat, "errors": errors,
                      "connect_s": connect}))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

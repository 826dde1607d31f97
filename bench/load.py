"""The load clients every web benchmark uses (sections 4, 5 and 6), and the load generator they run in a child
process of its own, so that its client threads do not share the server's GIL:

    python -m bench.load URL N_CLIENTS PER_CLIENT [--offset N] [--via gradio_client|http|json] [--echo]
                         [--spread] [--tag TAG]

`--via gradio_client` (default): each thread has its own gradio_client.Client. `http`: Gradio's plain HTTP
API (POST /gradio_api/call/ask, then GET the event's stream: the queue gradio_client and the page use).
`json`: POST /api/v1/ask. `--echo` sends /echo instead of /ask (the protocol's own cost). `--spread`: thread i
binds 127.0.0.(10+i), so that nginx's per-address affinity spreads the clients as it would spread machines.
`--tag TAG`: every question is made unique with TAG and a counter (no replica answers from its question
cache), and every client sends one untimed request first. All clients connect before the clock starts, then
each sends PER_CLIENT requests back to back. Prints one JSON line: {"rps", "wall", "latencies_ms", "errors",
"connect_s"}.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import subprocess
import sys
import threading
import time

from .common import ROOT, gold_questions, quiet_env

VIAS = ("gradio_client", "http", "json")


def client(url: str):
    """A gradio_client.Client as a learner's program would make it (default settings)."""
    from gradio_client import Client

    return Client(url, verbose=False, analytics_enabled=False, download_files=False)


def ask_ok(result) -> bool:
    """Does an /ask result look like an answer record (`Answer.to_dict()`, possibly as JSON text)?"""
    if isinstance(result, str):
        try:
            result = json.loads(result)
        except ValueError:
            return False
    return isinstance(result, dict) and "passages" in result and "abstained" in result


def gradio_ask(c, q: str):
    """/ask through a gradio_client.Client; the result is checked to be an answer record."""
    r = c.predict(q, 5, None, api_name="/ask")
    if not ask_ok(r):
        raise RuntimeError(f"/ask returned {str(r)[:120]!r}")
    return r


def gradio_echo(c, q: str) -> None:
    if c.predict(q, api_name="/echo") != q:
        raise RuntimeError("/echo did not echo")


def raw_ask(h, url: str, q: str, api: str = "ask") -> None:
    """/ask (or /echo) through Gradio's plain HTTP API with an httpx.Client: no client-side polling."""
    url = url.rstrip("/")
    data = [q, 5, None] if api == "ask" else [q]
    r = h.post(f"{url}/gradio_api/call/{api}", json={"data": data})
    r.raise_for_status()
    r2 = h.get(f"{url}/gradio_api/call/{api}/{r.json()['event_id']}")
    r2.raise_for_status()
    if "event: complete" not in r2.text:
        raise RuntimeError(f"/{api} did not complete: {r2.text[:200]!r}")


def json_ask(h, url: str, q: str) -> None:
    """POST /api/v1/ask; the reply is checked to be an answer record."""
    r = h.post(f"{url.rstrip('/')}/api/v1/ask", json={"question": q, "k": 5})
    r.raise_for_status()
    if not ask_ok(r.json()):
        raise RuntimeError(f"not a record: {r.text[:120]!r}")


def drive(clients: list, send, question, per_client: int) -> dict:
    """Each client in a thread of its own sends `per_client` requests back to back (`send(c, question(ci, j))`),
    all starting together. Errors are counted, not raised. Returns {"rps", "wall", "latencies_ms", "errors"}."""
    barrier = threading.Barrier(len(clients) + 1)
    lat: list[float] = []
    errors: list[str] = []
    lock = threading.Lock()

    def worker(ci: int, c) -> None:
        barrier.wait()
        for j in range(per_client):
            q = question(ci, j)
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
    return {"rps": len(clients) * per_client / wall, "wall": wall, "latencies_ms": lat, "errors": errors}


def run_child(url: str, n_clients: int, per_client: int, *, offset: int = 0, via: str = "gradio_client",
              echo: bool = False, spread: bool = False, tag: str | None = None, timeout: float = 900) -> dict:
    """Run `python -m bench.load` with these settings and return its JSON record."""
    cmd = [sys.executable, "-m", "bench.load", url, str(n_clients), str(per_client), "--offset", str(offset),
           "--via", via] + ["--echo"] * echo + ["--spread"] * spread + (["--tag", tag] if tag else [])
    out = subprocess.run(cmd, cwd=ROOT, env=quiet_env(), capture_output=True, text=True, timeout=timeout)
    if out.returncode:
        raise RuntimeError(f"bench.load failed: {out.stderr[-800:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def _sender(url: str, via: str, echo: bool):
    if via == "gradio_client":
        return gradio_echo if echo else gradio_ask
    if via == "http":
        return lambda h, q: raw_ask(h, url, q, "echo" if echo else "ask")
    if echo:
        raise SystemExit("--echo needs --via gradio_client or http (there is no /api/v1/echo)")
    return lambda h, q: json_ask(h, url, q)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m bench.load", description=__doc__.splitlines()[0])
    ap.add_argument("url")
    ap.add_argument("n_clients", type=int)
    ap.add_argument("per_client", type=int)
    ap.add_argument("--offset", type=int, default=0, help="first gold question to send")
    ap.add_argument("--via", choices=VIAS, default="gradio_client")
    ap.add_argument("--echo", action="store_true")
    ap.add_argument("--spread", action="store_true")
    ap.add_argument("--tag", default=None)
    args = ap.parse_args(argv)
    send = _sender(args.url, args.via, args.echo)
    qs = gold_questions()
    t0 = time.perf_counter()
    if args.via == "gradio_client":
        clients = [client(args.url) for _ in range(args.n_clients)]
    else:
        import httpx

        def transport(i):
            return httpx.HTTPTransport(local_address=f"127.0.0.{10 + i}") if args.spread else None

        clients = [httpx.Client(transport=transport(i), timeout=120, trust_env=False) for i in range(args.n_clients)]

    def question(ci: int, j: int) -> str:
        n = args.offset + ci * args.per_client + j
        return f"{qs[n % len(qs)]} ({args.tag} {n})" if args.tag else qs[n % len(qs)]

    if args.tag:  # connect (and warm) every client before the clock starts
        for i, c in enumerate(clients):
            send(c, f"{qs[i % len(qs)]} (warm {args.tag} {i})")
    connect = time.perf_counter() - t0
    out = drive(clients, send, question, args.per_client)
    for c in clients:
        with contextlib.suppress(Exception):  # closing is best effort: the figures are already taken
            c.close()
    print(json.dumps({**out, "connect_s": connect}))
    return 0


if __name__ == "__main__":
    sys.exit(main())

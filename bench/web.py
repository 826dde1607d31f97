"""2. Through the web API: gradio_client round trips to /ask against /echo on the same in-process server,
then many concurrent clients on loopback."""

from __future__ import annotations

import json
import subprocess
import sys

from .common import ROOT, Figure, Report, free_port, gold_questions, percentile, quiet_env, timed

SECTION = "2"


def start_app(searcher, tries: int = 3, ask_batch: int | None = None):
    """Build the real page (app.build_demo) for `searcher` and serve it on a free loopback port, without
    blocking. Returns (demo, url); `demo.close()` stops it. `ask_batch=1` builds /ask as it was before
    batching (each question on its own, the default concurrency limit)."""
    if str(ROOT) not in sys.path:
        sys.path.insert(0, str(ROOT))
    import app

    last = None
    for _ in range(tries):  # a free port can be taken by someone else between the probe and the bind
        saved = getattr(app, "ASK_BATCH", None)
        if ask_batch is not None:
            app.ASK_BATCH = ask_batch
        try:
            demo = app.build_demo(searcher)
        finally:
            if ask_batch is not None:
                app.ASK_BATCH = saved
        port = free_port()
        try:
            app.launch(demo, "127.0.0.1", port, prevent_thread_lock=True, quiet=True)
            return demo, f"http://127.0.0.1:{port}/"
        except OSError as e:
            last = e
            demo.close()
    raise RuntimeError(f"could not start the app: {last}")


def client(url: str):
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


def _ask(c, q):
    r = c.predict(q, 5, None, api_name="/ask")
    if not ask_ok(r):
        raise RuntimeError(f"/ask returned {str(r)[:120]!r}")
    return r


def load(url: str, n_clients: int, per_client: int, offset: int = 0, raw: bool = False,
         echo: bool = False) -> dict:
    """Run bench/load_client.py in a child process (its client threads then do not compete with the server
    for this process's GIL) and return its JSON record: rps, wall, latencies_ms, errors."""
    cmd = [sys.executable, "-m", "bench.load_client", url, str(n_clients), str(per_client), str(offset)]
    cmd += ["--raw"] * raw + ["--echo"] * echo
    out = subprocess.run(cmd, cwd=ROOT, env=quiet_env(), capture_output=True, text=True, timeout=900)
    if out.returncode:
        raise RuntimeError(f"bench.load_client failed: {out.stderr[-800:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def run(report: Report, searcher, n_clients: int = 32, total: int = 320, single: int = 40, rounds: int = 2) -> dict:
    from .latency import uncached_searcher

    qs = gold_questions()
    # Every /ask embeds its question (as a new learner's question would): the app gets a cache-less Searcher.
    s0 = uncached_searcher(searcher)
    t_launch, (demo, url) = timed(start_app, s0)
    report.note(SECTION, f"app launched in process at {url} in {t_launch:.2f} s (Searcher with cache_size=0)")
    try:
        c = client(url)
        if c.predict("ping", api_name="/echo") != "ping":
            raise RuntimeError("/echo did not echo")
        for q in qs[:10]:  # warm-up
            _ask(c, q)
            c.predict(q, api_name="/echo")

        echo, ask, paired = [], [], []
        for i, q in enumerate(qs):
            if i % 2:
                te, _ = timed(c.predict, q, api_name="/echo")
                ta, _ = timed(_ask, c, q)
            else:
                ta, _ = timed(_ask, c, q)
                te, _ = timed(c.predict, q, api_name="/echo")
            echo.append(te * 1e3)
            ask.append(ta * 1e3)
            paired.append(ta / te)
        report.add(Figure(SECTION, "gradio_client /ask round trip (one client)", "ms", ask,
                          "/echo round trip, same question text", echo, max_ratio=1.25, paired_ratios=paired))

        # The same through Gradio's plain HTTP API (POST /gradio_api/call/<api>, GET the event stream): no
        # client-side polling, so the server's own cost shows.
        import httpx

        from .load_client import raw_ask

        h = httpx.Client(timeout=120)
        for q in qs[:10]:
            raw_ask(h, url, q, "ask")
            raw_ask(h, url, q, "echo")
        echo_r, ask_r, paired_r = [], [], []
        for i, q in enumerate(qs):
            first, second = ("ask", "echo") if i % 2 == 0 else ("echo", "ask")
            t1, _ = timed(raw_ask, h, url, q, first)
            t2, _ = timed(raw_ask, h, url, q, second)
            ta, te = (t1, t2) if first == "ask" else (t2, t1)
            echo_r.append(te * 1e3)
            ask_r.append(ta * 1e3)
            paired_r.append(ta / te)
        h.close()
        report.add(Figure(SECTION, "plain HTTP /gradio_api/call/ask round trip (httpx)", "ms", ask_r,
                          "same for /echo", echo_r, paired_ratios=paired_r))

        # Throughput: load generators in child processes. Per round: one client, then n_clients on the
        # batched /ask, on the same app built as before batching (ASK_BATCH=1, on its own port, same
        # Searcher), and on /echo (the protocol's ceiling), so that each ratio is of the same minutes.
        before_demo, url_before = start_app(s0, ask_batch=1)
        per_client = max(1, total // n_clients)
        single_tp, conc_tp, single_lat, conc_lat, errors = [], [], [], [], []
        before_tp, before_lat, echo_tp, echo_lat = [], [], [], []
        try:
            for r in range(rounds):
                one = load(url, 1, single, offset=r * 7)
                many = load(url, n_clients, per_client, offset=r * 11)
                old = load(url_before, n_clients, per_client, offset=r * 11)
                echo_many = load(url, n_clients, per_client, echo=True)
                single_tp.append(one["rps"])
                single_lat += one["latencies_ms"]
                conc_tp.append(many["rps"])
                conc_lat += many["latencies_ms"]
                before_tp.append(old["rps"])
                before_lat += old["latencies_ms"]
                echo_tp.append(echo_many["rps"])
                echo_lat += echo_many["latencies_ms"]
                errors += one["errors"] + many["errors"] + old["errors"] + echo_many["errors"]
        finally:
            before_demo.close()
        sent = rounds * (single + 3 * n_clients * per_client)
        import app

        batch = getattr(app, "ASK_BATCH", 1)
        report.add(Figure(SECTION, f"/ask throughput at {n_clients} gradio_clients (batched, ASK_BATCH={batch}) vs "
                          f"/echo at {n_clients}, same rounds", "req/s", conc_tp, f"/echo, {n_clients} gradio_clients",
                          echo_tp, min_ratio=0.9, note=f"{rounds} rounds"))
        report.add(Figure(SECTION, f"before: /ask throughput at {n_clients} gradio_clients (unbatched) vs /echo",
                          "req/s", before_tp, f"/echo, {n_clients} gradio_clients", echo_tp))
        report.add(Figure(SECTION, f"/ask throughput at {n_clients} gradio_clients, batched vs before", "req/s",
                          conc_tp, "before (unbatched), same rounds", before_tp))
        report.add(Figure(SECTION, f"/ask latency under {n_clients} gradio_clients, batched", "ms", conc_lat,
                          "before (unbatched), same rounds", before_lat))
        report.add(Figure(SECTION, f"/ask latency under {n_clients} gradio_clients, batched", "ms", conc_lat,
                          f"/echo latency under {n_clients} gradio_clients", echo_lat))
        report.add(Figure(SECTION, f"/ask throughput, {n_clients} concurrent gradio_clients x {per_client} requests",
                          "req/s", conc_tp, "one gradio_client, back to back", single_tp, min_ratio=4.0,
                          note=f"{rounds} rounds; errors {len(errors)} of {sent}"))
        report.note(SECTION, f"errors: {len(errors)} of {sent} load requests"
                    + (f"; first: {errors[0]}" if errors else "") + f"; p95 latency with {n_clients} clients: "
                    f"batched {percentile(conc_lat, 95):.0f} ms, before {percentile(before_lat, 95):.0f} ms, /echo "
                    f"{percentile(echo_lat, 95):.0f} ms; one client alone {percentile(single_lat, 95):.0f} ms")
        short = max(1, per_client // 2)
        raw_one = load(url, 1, single // 2, raw=True)
        raw_many = load(url, n_clients, short, raw=True)
        report.add(Figure(SECTION, f"/ask throughput, {n_clients} concurrent plain-HTTP clients", "req/s",
                          [raw_many["rps"]], "one plain-HTTP client", [raw_one["rps"]]))
        errors += raw_one["errors"] + raw_many["errors"]
        sent += single // 2 + n_clients * short
        report.note(SECTION, f"errors over every load run (/ask, /echo, plain HTTP): {len(errors)} of {sent}")
        c.close()
        return {"errors": errors, "sent": sent}
    finally:
        demo.close()

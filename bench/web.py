"""5. Web load: the real page served in process, /ask against /echo (the protocol's own cost) on the same
server, with one client and then with many concurrent clients (load generators in child processes,
bench/load.py)."""

from __future__ import annotations

import sys

from .common import (
    ROOT,
    Figure,
    Report,
    free_port,
    gold_questions,
    interleaved,
    percentile,
    ratios,
    timed,
    uncached_searcher,
)
from .load import client, gradio_ask, gradio_echo, raw_ask, run_child

SECTION = "5"


def start_app(searcher, corpus_dir=None, tries: int = 3):
    """Build the real page (app.build_demo) for `searcher` and its corpus (default: the project's) and serve it
    on a free loopback port, without blocking. Returns (demo, url); `demo.close()` stops it."""
    if str(ROOT) not in sys.path:
        sys.path.insert(0, str(ROOT))
    import app

    last = None
    for _ in range(tries):  # a free port can be taken by someone else between the probe and the bind
        demo = app.build_demo(searcher, corpus_dir)
        port = free_port()
        try:
            app.launch(demo, "127.0.0.1", port, prevent_thread_lock=True, quiet=True)
            return demo, f"http://127.0.0.1:{port}/"
        except OSError as e:
            last = e
            demo.close()
    raise RuntimeError(f"could not start the app: {last}")


def run(report: Report, searcher, n_clients: int = 32, total: int = 320, single: int = 40, rounds: int = 2,
        questions: list[str] | None = None) -> dict:
    """One client: gradio_client and plain-HTTP round trips of /ask and /echo, alternating per question. Then
    `rounds` of: one client x `single` requests, `n_clients` x `total / n_clients` on /ask and on /echo; then
    the same concurrency over plain HTTP."""
    import httpx

    qs = questions or gold_questions()
    # Every /ask embeds its question (as a new learner's question would): the app gets a cache-less Searcher.
    t_launch, (demo, url) = timed(start_app, uncached_searcher(searcher))
    report.note(SECTION, f"app launched in process at {url} in {t_launch:.2f} s (Searcher with cache_size=0)")
    try:
        c = client(url)
        h = httpx.Client(timeout=120, trust_env=False)
        for q in qs[:10]:  # warm-up
            gradio_ask(c, q)
            gradio_echo(c, q)
            raw_ask(h, url, q, "ask")
            raw_ask(h, url, q, "echo")
        ask, echo = interleaved([lambda q: gradio_ask(c, q), lambda q: gradio_echo(c, q)], qs)
        report.add(Figure(SECTION, "gradio_client /ask round trip (one client)", "ms", ask,
                          "/echo round trip, same question text", echo, max_ratio=1.25,
                          paired_ratios=ratios(ask, echo)))
        # Gradio's plain HTTP API (POST /gradio_api/call/<api>, GET the event stream): no client-side polling,
        # so the server's own cost shows.
        ask_r, echo_r = interleaved([lambda q: raw_ask(h, url, q, "ask"), lambda q: raw_ask(h, url, q, "echo")], qs)
        report.add(Figure(SECTION, "plain HTTP /gradio_api/call/ask round trip (httpx)", "ms", ask_r,
                          "same for /echo", echo_r, paired_ratios=ratios(ask_r, echo_r)))
        h.close()
        c.close()

        per_client = max(1, total // n_clients)
        one_tp, many_tp, echo_tp, many_lat, one_lat, echo_lat, errors = [], [], [], [], [], [], []
        for r in range(rounds):
            one = run_child(url, 1, single, offset=r * 7)
            many = run_child(url, n_clients, per_client, offset=r * 11)
            echo_many = run_child(url, n_clients, per_client, echo=True)
            one_tp.append(one["rps"])
            many_tp.append(many["rps"])
            echo_tp.append(echo_many["rps"])
            one_lat += one["latencies_ms"]
            many_lat += many["latencies_ms"]
            echo_lat += echo_many["latencies_ms"]
            errors += one["errors"] + many["errors"] + echo_many["errors"]
        sent = rounds * (single + 2 * n_clients * per_client)
        report.add(Figure(SECTION, f"/ask throughput at {n_clients} gradio_clients vs /echo at {n_clients}, same "
                          "rounds", "req/s", many_tp, f"/echo, {n_clients} gradio_clients", echo_tp, min_ratio=0.9,
                          note=f"{rounds} rounds"))
        report.add(Figure(SECTION, f"/ask throughput, {n_clients} concurrent gradio_clients x {per_client} requests",
                          "req/s", many_tp, "one gradio_client, back to back", one_tp, min_ratio=4.0,
                          note=f"{rounds} rounds; errors {len(errors)} of {sent}"))
        report.add(Figure(SECTION, f"/ask latency under {n_clients} gradio_clients", "ms", many_lat,
                          f"/echo latency under {n_clients} gradio_clients", echo_lat))
        report.note(SECTION, f"p95 latency: /ask {percentile(many_lat, 95):.0f} ms with {n_clients} clients, "
                    f"/echo {percentile(echo_lat, 95):.0f} ms, one client alone {percentile(one_lat, 95):.0f} ms")

        short = max(1, per_client // 2)
        raw_one = run_child(url, 1, max(1, single // 2), via="http")
        raw_many = run_child(url, n_clients, short, via="http")
        report.add(Figure(SECTION, f"/ask throughput, {n_clients} concurrent plain-HTTP clients", "req/s",
                          [raw_many["rps"]], "one plain-HTTP client", [raw_one["rps"]]))
        errors += raw_one["errors"] + raw_many["errors"]
        sent += max(1, single // 2) + n_clients * short
        report.note(SECTION, f"errors over every load run (/ask, /echo, plain HTTP): {len(errors)} of {sent}"
                    + (f"; first: {errors[0]}" if errors else ""))
        return {"errors": errors, "sent": sent}
    finally:
        demo.close()

"""Case 4: load. 32 clients (threads, each with its own gradio_client.Client) send IPT_QA_LOAD_REQUESTS
(default 2,000) mixed questions to `/ask` of the real app (`python app.py`, a child process on 127.0.0.1).

Every response is compared with what the library answers in this process for the same question (same
abstained flag, same (source_id, start, end) list, same cleaned question; for a question the library refuses,
the same one-line error). Lost (no answer in time, or any other failure) and wrong responses must be zero;
queue rejections are counted apart. The app's resident memory is measured after a warm-up and at the end.
Throughput and latency percentiles are printed (run with -s to see them).
"""

from __future__ import annotations

import json
import os
import queue
import random
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from rel_support import BAD_QUESTIONS, ROOT, app_process, rss_bytes, spans

from qa.retrieve.query import QuestionError

pytestmark = pytest.mark.model

REQUESTS = int(os.environ.get("IPT_QA_LOAD_REQUESTS", "2000"))
CLIENTS = 32
HARD_TIMEOUT = float(os.environ.get("IPT_QA_LOAD_TIMEOUT", "240"))  # seconds for the whole load phase
REQUEST_TIMEOUT = 60.0
RSS_GROWTH_LIMIT = 150 << 20
WARM_UP = 400  # requests before the first RSS reading (the allocator's pools fill during the first few hundred)


def _client(url: str):
    """A gradio_client.Client for the app on loopback. ssl_verify=False: the URL is plain http://127.0.0.1, so
    there is no TLS to verify, and otherwise gradio_client builds a TLS context (loading the CA bundle) for
    every request, which made the 32 clients, not the app, the bottleneck (12 instead of ~55 requests/s)."""
    from gradio_client import Client

    assert url.startswith("http://127.0.0.1:"), url
    return Client(url, analytics_enabled=False, verbose=False, ssl_verify=False, download_files=False)


def _question_mix(n: int, seed: int = 7) -> list[str]:
    """Learner questions and off-topic ones from the gold set (~90%), hostile ones from case 1 (~10%, the 1 MB
    one 1%). The lone surrogate is left out: gradio_client cannot encode it (see test_bad_questions)."""
    gold = [json.loads(line)["question"] for line in (ROOT / "eval" / "gold.jsonl").read_text().splitlines() if line]
    bad = [q for name, q in BAD_QUESTIONS.items() if name not in ("lone_surrogate", "one_megabyte")]
    rng = random.Random(seed)
    out = []
    for i in range(n):
        if i % 100 == 50:
            out.append(BAD_QUESTIONS["one_megabyte"])
        elif rng.random() < 0.09:
            out.append(rng.choice(bad))
        else:
            out.append(rng.choice(gold))
    return out


def _reference(searcher, question: str):
    try:
        rec = searcher.ask(question).to_dict()
        return (rec["question"], rec["abstained"], spans(rec))
    except QuestionError as e:
        return str(e)


def _cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def test_32_clients_2000_mixed_questions(real_searcher, real_index_dir, tmp_path):
    from concurrent.futures import CancelledError

    from gradio_client.exceptions import AppError
    from gradio_client.utils import QueueError

    questions = _question_mix(REQUESTS)
    warm_up = _question_mix(WARM_UP, seed=8)
    expected = {q: _reference(real_searcher, q) for q in dict.fromkeys(questions + warm_up)}

    with app_process(real_index_dir, log=tmp_path / "app.log") as (url, proc):
        with ThreadPoolExecutor(CLIENTS) as pool:
            clients = list(pool.map(lambda _: _client(url), range(CLIENTS)))

        todo: queue.Queue[int] = queue.Queue()
        results: dict[int, tuple[str, float, str]] = {}  # i -> (outcome, seconds, detail)
        lock = threading.Lock()
        deadline = time.monotonic() + HARD_TIMEOUT

        def ask(client, q: str) -> tuple[str, str]:
            try:
                rec = client.submit(q, 5, None, api_name="/ask").result(timeout=REQUEST_TIMEOUT)
                got = (rec["question"], rec["abstained"], spans(rec))
                return ("ok", "") if got == expected[q] else ("wrong", f"{q[:60]!r}: {got} != {expected[q]}")
            except QueueError as e:
                return "rejected", str(e)
            except AppError as e:
                return ("ok", "") if str(e) == expected[q] else ("wrong", f"{q[:60]!r}: error {e} != {expected[q]}")
            except CancelledError:
                # gradio_client 2.7 can cancel a job itself when the server closes the session's event stream
                # just as the job is submitted (see RELIABILITY.md); the server did answer. Asked again on a
                # fresh client, and counted apart.
                return "client_cancelled", ""
            except Exception as e:  # noqa: BLE001 - anything else is a lost response
                return "lost", f"{type(e).__name__}: {e}"

        def worker(k: int, batch: list[str]) -> None:
            client = clients[k]
            while time.monotonic() < deadline:
                try:
                    i = todo.get_nowait()
                except queue.Empty:
                    return
                t0 = time.perf_counter()
                outcome, detail = ask(client, batch[i])
                if outcome == "client_cancelled":
                    client = clients[k] = _client(url)
                    again, detail = ask(client, batch[i])
                    outcome = "client_cancelled" if again == "ok" else f"lost after a client cancel ({again})"
                with lock:
                    results[i] = (outcome, time.perf_counter() - t0, detail)

        def run(batch: list[str]) -> float:
            results.clear()
            for i in range(len(batch)):
                todo.put(i)
            t0 = time.perf_counter()
            with ThreadPoolExecutor(CLIENTS) as pool:
                list(pool.map(lambda k: worker(k, batch), range(CLIENTS)))
            return time.perf_counter() - t0

        # Warm-up with the same mix and concurrency, so memory is measured past first-use costs.
        run(warm_up)
        assert all(o == "ok" for o, _, _ in results.values()), results
        rss_before, cpu_before = rss_bytes(proc.pid), _cpu_seconds(proc.pid)
        elapsed = run(questions)
        rss_after, cpu_after = rss_bytes(proc.pid), _cpu_seconds(proc.pid)
        assert proc.poll() is None, "the app died under load"

    outcomes = [o for o, _, _ in results.values()]
    counts = {k: outcomes.count(k) for k in ("ok", "wrong", "rejected", "client_cancelled")}
    counts["lost"] = sum(1 for o in outcomes if o.startswith("lost"))
    unanswered = len(questions) - len(results)
    latencies = sorted(t for o, t, _ in results.values() if o in ("ok", "wrong"))
    p50 = latencies[len(latencies) // 2]
    p95 = latencies[int(len(latencies) * 0.95)]
    growth = rss_after - rss_before
    print(f"\nload: {len(questions)} requests from {CLIENTS} clients in {elapsed:.1f} s = "
          f"{len(results) / elapsed:.1f} req/s; outcomes {counts}; not sent before the hard timeout: {unanswered}; "
          f"latency p50 {p50 * 1000:.0f} ms, p95 {p95 * 1000:.0f} ms, max {latencies[-1] * 1000:.0f} ms; "
          f"app CPU {cpu_after - cpu_before:.1f} s; app RSS after warm-up {rss_before / 2**20:.0f} MB, "
          f"after the load {rss_after / 2**20:.0f} MB ({growth / 2**20:+.1f} MB)")
    problems = [f"{o}: {d}" for o, _, d in results.values() if o not in ("ok", "rejected", "client_cancelled")]
    assert unanswered == 0, f"{unanswered} requests not sent within the hard timeout of {HARD_TIMEOUT:.0f} s"
    assert counts["wrong"] == 0 and counts["lost"] == 0, problems[:5]
    assert counts["ok"] + counts["client_cancelled"] + counts["rejected"] == len(questions)
    # 32 clients with one request each in flight never fill the queue (QUEUE_SIZE = 64 in app.py).
    assert counts["rejected"] == 0
    assert growth < RSS_GROWTH_LIMIT, f"RSS grew by {growth / 2**20:.0f} MB"

"""/ask batching (qa/serve/batcher.py): concurrent questions share one model call, and each still gets exactly what
`Searcher.ask` gives it alone, its own error included (a bad k or an unknown source fails only its caller)."""

from __future__ import annotations

import json
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest

from qa.serve.batcher import AskBatcher

# (question, k, sources): good ones of several groups, and one of each error
JOBS = [
    ("What is interpersonal psychotherapy?", 5, None),
    ("Who developed it?", 5, None),
    ("How long does treatment last?", 3, None),
    ("grief and role disputes", 5, ["beta"]),
    ("depression", 5, ["alpha", "beta"]),
    ("depression", 5, ["beta", "alpha"]),
    ("bad k", 0, None),
    ("bad k too", 99, None),
    ("unknown source", 5, ["nope"]),
    ("   ", 5, None),
    ("sessions weekly", 2, ["alpha"]),
    ("What is interpersonal psychotherapy?", 1, None),
]


def outcome(fn, question, k, sources):
    """What a caller sees: the answer's JSON record, or the error's type and message."""
    try:
        return json.dumps(fn(question, k=k, sources=sources).to_dict(), sort_keys=True)
    except Exception as e:  # noqa: BLE001 - compared, not hidden
        return f"{type(e).__name__}: {e}"


def held(batcher, jobs):
    """Run `jobs` from one thread each while the batcher's turn is held, so that all of them are waiting, then
    release it: they are answered as one batch. Returns what each caller got."""
    batcher._busy = True
    queued = sum(1 for q, _, _ in jobs if q.strip())  # an empty question is refused before it waits
    with ThreadPoolExecutor(len(jobs)) as pool:
        futures = [pool.submit(outcome, batcher.ask, *j) for j in jobs]
        deadline = time.monotonic() + 30
        while len(batcher._pending) < queued and time.monotonic() < deadline:
            time.sleep(0.005)
        with batcher._lock:
            batcher._pending[0].lead = True
            batcher._pending[0].done.set()
        return [f.result(timeout=60) for f in futures]


def test_concurrent_questions_share_model_calls_and_keep_their_own_answers_and_errors(tiny_searcher):
    from qa.search import Searcher

    expected = [outcome(tiny_searcher.ask, q, k, s) for q, k, s in JOBS]
    assert sum(e.startswith("QuestionError") for e in expected) == 4  # k 0, k 99, unknown source, empty

    searcher = Searcher(tiny_searcher.index, tiny_searcher.embedder, tiny_searcher.settings, cache_size=0)
    batcher = AskBatcher(searcher, max_batch=16)
    calls = searcher.embedder.calls
    assert held(batcher, JOBS) == expected
    # 8 good questions in 6 (k, sources) groups (source order does not matter): one model call per group
    assert (batcher.questions, batcher.batches, searcher.embedder.calls - calls) == (8, 6, 6)
    assert not batcher._busy and not batcher._pending

    # and without holding the turn: callers arriving together, batches forming as they come
    start = threading.Barrier(len(JOBS))

    def call(job):
        start.wait()
        return outcome(batcher.ask, *job)

    for _ in range(3):
        with ThreadPoolExecutor(len(JOBS)) as pool:
            assert list(pool.map(call, JOBS)) == expected
    assert not batcher._busy and not batcher._pending


def test_batch_of_one_is_the_searcher_itself(tiny_searcher):
    batcher = AskBatcher(tiny_searcher, max_batch=1)
    for job in JOBS:
        assert outcome(batcher.ask, *job) == outcome(tiny_searcher.ask, *job)
    assert batcher.batches == 0


def test_an_unexpected_failure_fails_only_its_own_question(tiny_searcher):
    from qa.search import Searcher

    class Flaky(Searcher):
        def _answer(self, question, *a, **kw):
            if "boom" in question:
                raise RuntimeError("boom")
            return super()._answer(question, *a, **kw)

    s = Flaky(tiny_searcher.index, tiny_searcher.embedder, tiny_searcher.settings)
    batcher = AskBatcher(s, max_batch=16)
    jobs = [("What is interpersonal psychotherapy?", 5, None), ("boom", 5, None), ("Who developed it?", 5, None)]
    got = held(batcher, jobs)
    assert got[1] == "RuntimeError: boom"
    assert got[0] == outcome(tiny_searcher.ask, *jobs[0]) and got[2] == outcome(tiny_searcher.ask, *jobs[2])


# --- through the real server ----------------------------------------------------------------------------


@pytest.mark.model
@pytest.mark.filterwarnings("ignore:.*no_silent_downcasting", "ignore:The copy keyword is deprecated")
def test_ask_endpoint_answers_concurrent_callers_as_one_caller_alone(real_searcher):
    from app_support import serve
    from gradio_client import Client

    from qa.serve.apitypes import as_record

    jobs = [("Who created IPT?", 5, None), ("How long does IPT last?", 3, None), ("what is a role dispute", 5, None),
            ("is ipt for anxiety", 2, None), ("grief", 5, [sorted(real_searcher.index.sources)[0]]),
            ("Who created IPT?", 0, None), ("Who created IPT?", 5, ["no-such-source"]),
            ("what is interpersonal inventory", 4, None)]
    expected = []
    for q, k, s in jobs:
        try:
            expected.append(as_record(real_searcher.ask(q, k=k, sources=s)))  # citations name `file`
        except Exception as e:  # noqa: BLE001
            expected.append(str(e))
    with serve(real_searcher) as url:
        clients = [Client(url, analytics_enabled=False, verbose=False) for _ in jobs]
        start = threading.Barrier(len(jobs))

        def call(i):
            start.wait()
            try:
                return clients[i].predict(*jobs[i], api_name="/ask")  # the record itself
            except Exception as e:  # noqa: BLE001 - gradio_client raises AppError with the server's message
                return str(e)

        with ThreadPoolExecutor(len(jobs)) as pool:
            got = list(pool.map(call, range(len(jobs))))
    for (q, k, s), g, e in zip(jobs, got, expected, strict=False):
        if isinstance(e, str):
            assert isinstance(g, str) and e in g, (q, k, s, g)
        else:
            assert g == e, (q, k, s)

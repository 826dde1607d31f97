"""Concurrent questions share one model call: `AskBatcher.ask` answers exactly as `Searcher.ask` does.

The model costs about 10 ms for one question and 2.5-3 ms per question in batches of 8-32 (bench/RESULTS.md),
so a web server answering many learners at once should embed their questions together. Gradio's own
batching (`batch=True`) is not used: it runs a whole batch as one call, so one question's error (k out of
range, an unknown source) would fail every question of its batch. Here each caller keeps its own thread and
its own result or error; the first caller to arrive while no batch runs answers, in one `ask_many` per
(k, sources) group, every question that is waiting, then hands over to a waiting caller if more came in
meanwhile. A lone question is answered at once (no waiting window): batches form only while the model is busy.
"""

from __future__ import annotations

import threading
from collections import deque
from typing import Any

from qa.errors import QAError
from qa.retrieve.query import clean_question


class _Job:
    __slots__ = ("question", "k", "sources", "done", "lead", "answer", "error")

    def __init__(self, question, k, sources):
        self.question, self.k, self.sources = question, k, sources
        self.done = threading.Event()
        self.lead = False  # woken to answer the next batch rather than with its answer
        self.answer = self.error = None

    def result(self):
        if self.error is not None:
            raise self.error
        return self.answer


class AskBatcher:
    """Thread-safe. `max_batch=1` answers each question on its own (no batching at all)."""

    def __init__(self, searcher, max_batch: int = 16):
        self.searcher = searcher
        self.max_batch = max(1, int(max_batch))
        self._lock = threading.Lock()
        self._pending: deque[_Job] = deque()
        self._busy = False
        self.batches = 0  # how many ask_many calls answered how many questions, for the benchmark
        self.questions = 0

    def ask(self, question: str, k: int = 5, sources: list[str] | None = None):
        if self.max_batch == 1:
            return self.searcher.ask(question, k=k, sources=sources)
        # An empty question is an error here, as in Searcher.ask (ask_many would answer it with an abstention).
        clean_question(question, self.searcher.settings.max_question_chars)
        job = _Job(question, k, sources)
        with self._lock:
            self._pending.append(job)
            lead = not self._busy
            self._busy = True
        if not lead:
            job.done.wait()
            if not job.lead:
                return job.result()
        self._serve()
        return job.result()

    def _serve(self) -> None:
        """Answer the waiting questions (the caller's own is first among them), then pass the turn on."""
        with self._lock:
            batch = [self._pending.popleft() for _ in range(min(self.max_batch, len(self._pending)))]
        try:
            self._answer(batch)
        finally:
            with self._lock:
                nxt = self._pending[0] if self._pending else None
                if nxt is None:
                    self._busy = False
                else:
                    nxt.lead = True
            for job in batch:
                job.done.set()
            if nxt is not None:
                nxt.done.set()

    def _answer(self, batch: list[_Job]) -> None:
        groups: dict[tuple[Any, ...], list[_Job]] = {}
        for job in batch:
            try:
                key: tuple[Any, ...] = (job.k, tuple(sorted(set(job.sources))) if job.sources else None)
            except TypeError:  # source ids that cannot be sorted: answered on its own, as Searcher.ask would
                key = ("single", id(job))
            groups.setdefault(key, []).append(job)
        for (k, sources), jobs in groups.items():
            if k == "single":
                self._one(jobs[0])
                continue
            try:
                answers = self.searcher.ask_many([j.question for j in jobs], k=k,
                                                 sources=list(sources) if sources else None)
            except QAError as e:  # k or sources wrong: the same for every question of the group
                for j in jobs:
                    j.error = e
                continue
            except Exception:  # noqa: BLE001 - unexpected: answer one by one, so only its question fails
                for j in jobs:
                    self._one(j)
                continue
            for j, a in zip(jobs, answers, strict=False):
                j.answer = a
            self.batches += 1
            self.questions += len(jobs)

    def _one(self, job: _Job) -> None:
        try:
            job.answer = self.searcher.ask(job.question, k=job.k, sources=job.sources)
        except Exception as e:  # noqa: BLE001 - handed to the caller, who reports it
            job.error = e

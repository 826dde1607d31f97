"""2. Batching in process: questions answered together share one model call.

* `ask_many` of 32 questions against the bare `model.encode` of the same 32 (what the search adds to a batch),
  and against the same 32 asked one by one (what batching saves);
* `AskBatcher` (qa/serve/batcher.py, what the page's /ask uses) with concurrent callers, batching as the app
  is configured (app.ASK_BATCH) against `max_batch=1` (each question on its own), in alternating rounds.
"""

from __future__ import annotations

import random

from .common import Figure, Report, gold_questions, interleaved, ratios, uncached_searcher
from .load import drive

SECTION = "2"


def run(report: Report, searcher, rounds: int = 2, batch: int = 32, callers: int = 16, per_caller: int = 8,
        max_batch: int | None = None, seed: int = 0) -> dict:
    from qa.serve.batcher import AskBatcher

    if max_batch is None:
        import app

        max_batch = app.ASK_BATCH
    qs = gold_questions()
    model = searcher.embedder  # the served embedder (ONNX Runtime); its encode is the bare model call
    s0 = uncached_searcher(searcher)
    rng = random.Random(seed)
    chunks = []
    for _ in range(rounds):
        order = qs[:]
        rng.shuffle(order)
        chunks += [order[j:j + batch] for j in range(0, len(order) - batch + 1, batch)]
    s0.ask_many(chunks[0])  # warm-up
    model.encode(chunks[0])

    def one_by_one(chunk):
        return [s0.ask(q) for q in chunk]

    many, enc, single = interleaved([s0.ask_many, model.encode, one_by_one], chunks)
    report.add(Figure(SECTION, f"ask_many({batch} questions), per call, question cache off", "ms", many,
                      f"model.encode({batch} questions)", enc, paired_ratios=ratios(many, enc)))
    report.add(Figure(SECTION, f"ask_many({batch} questions), per call", "ms", many,
                      f"the same {batch} questions through ask(q) one by one", single,
                      paired_ratios=ratios(many, single)))

    # Concurrent callers through the batcher, as the page's /ask threads call it.
    batched, alone, sizes = [], [], []
    for r in range(rounds):
        runs = [("batched", max_batch), ("alone", 1)]
        for name, mb in runs[r % 2:] + runs[:r % 2]:
            b = AskBatcher(s0, max_batch=mb)
            first = r * callers * per_caller  # each round asks other questions than the last
            out = drive([b] * callers, lambda b, q: b.ask(q),
                        lambda ci, j, first=first: qs[(first + ci * per_caller + j) % len(qs)], per_caller)
            if out["errors"]:
                raise RuntimeError(f"AskBatcher(max_batch={mb}) failed: {out['errors'][0]}")
            (batched if name == "batched" else alone).append(out["rps"])
            if name == "batched":
                sizes.append(b.questions / max(b.batches, 1))
    report.add(Figure(SECTION, f"AskBatcher(max_batch={max_batch}) throughput, {callers} concurrent callers",
                      "questions/s", batched, "AskBatcher(max_batch=1), same callers", alone,
                      note=f"{rounds} rounds, {per_caller} questions per caller"))
    report.note(SECTION, "questions per model call with the batcher: "
                + ", ".join(f"{s:.1f}" for s in sizes) + f" (max_batch {max_batch})")
    return {"ask_many_ms": many, "encode_ms": enc, "batched_qps": batched, "alone_qps": alone}

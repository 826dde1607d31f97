"""1. Query latency in process: `Searcher.ask` against the bare model call for the same question."""

from __future__ import annotations

import random

from .common import Figure, Report, gold_questions, timed

SECTION = "1"


def uncached_searcher(searcher):
    """A Searcher on the same index and embedder that never answers from its question cache.

    `cache_size=0` empties the cache at the end of every `encode` (checked here); if that ever stops
    working, the cache is cleared before each call instead."""
    from qa.search import Searcher

    s0 = Searcher(searcher.index, searcher.embedder, searcher.settings, cache_size=0)
    s0.ask("Who created IPT?")
    if len(s0.query.cache):
        raise RuntimeError("Searcher(cache_size=0) kept a question in its cache")
    return s0


def run(report: Report, searcher, rounds: int = 2, seed: int = 0) -> dict:
    """Interleaved pairs (bare encode, ask) per question, order alternating, over `rounds` shuffles of the
    gold questions; then the cached (repeat) ask; then a fully cold question (spell-fix cache cleared too);
    then batches through ask_many."""
    from qa.retrieve.query import clean_question

    qs = gold_questions()
    model = searcher.embedder.model
    s0 = uncached_searcher(searcher)
    rng = random.Random(seed)

    def floor(q):
        return model.encode([q])

    for q in qs[:20]:  # warm-up: first calls of torch, FAISS, the spell fixer's first misses
        floor(q)
        s0.ask(q)

    enc, ask, paired = [], [], []
    for r in range(rounds):
        order = qs[:]
        rng.shuffle(order)
        for i, q in enumerate(order):
            if (i + r) % 2:
                te, _ = timed(floor, q)
                ta, _ = timed(s0.ask, q)
            else:
                ta, _ = timed(s0.ask, q)
                te, _ = timed(floor, q)
            enc.append(te * 1e3)
            ask.append(ta * 1e3)
            paired.append(ta / te)
    report.add(Figure(SECTION, "ask(q) hybrid, highlight+grouping, question cache off", "ms", ask,
                      "model.encode([q])", enc, max_ratio=1.3, paired_ratios=paired,
                      note=f"{len(qs)} gold questions x {rounds} rounds, interleaved"))

    # Cached: the question vector comes from the LRU cache, so this is the search pipeline alone.
    for q in qs:
        searcher.ask(q)
    enc_c, cached, paired_c = [], [], []
    for i, q in enumerate(qs):
        if i % 2:
            te, _ = timed(floor, q)
            tc, _ = timed(searcher.ask, q)
        else:
            tc, _ = timed(searcher.ask, q)
            te, _ = timed(floor, q)
        enc_c.append(te * 1e3)
        cached.append(tc * 1e3)
        paired_c.append(tc / te)
    report.add(Figure(SECTION, "ask(q) repeated (vector from question cache) = pipeline without the model", "ms",
                      cached, "model.encode([q])", enc_c, paired_ratios=paired_c))

    # Cold: also the spell fixer's memo is emptied, as for a question the process has never seen words of.
    enc_n, cold, paired_n = [], [], []
    for i, q in enumerate(qs[::2]):  # half the questions: enough for a median, and a cold call is slow
        s0.query.spell.forget()
        if i % 2:
            te, _ = timed(floor, q)
            tn, _ = timed(s0.ask, q)
        else:
            tn, _ = timed(s0.ask, q)
            te, _ = timed(floor, q)
        enc_n.append(te * 1e3)
        cold.append(tn * 1e3)
        paired_n.append(tn / te)
    report.add(Figure(SECTION, "ask(q) never-seen words (question cache + spell-fix memo cleared)", "ms", cold,
                      "model.encode([q])", enc_n, paired_ratios=paired_n))

    # Batches: ask_many with one model call for 32 questions.
    batch_t, enc_b, paired_b = [], [], []
    for r in range(rounds):
        order = qs[:]
        rng.shuffle(order)
        for j in range(0, len(order) - 31, 32):
            chunk = order[j:j + 32]
            tb, _ = timed(s0.ask_many, chunk)
            te, _ = timed(model.encode, chunk)
            batch_t.append(tb * 1e3)
            enc_b.append(te * 1e3)
            paired_b.append(tb / te)
    report.add(Figure(SECTION, "ask_many(32 questions), per call, cache off", "ms", batch_t,
                      "model.encode(32 questions)", enc_b, paired_ratios=paired_b))
    # Where the time of one uncached ask goes, without a profiler's overhead: the model call, candidates()
    # (both retrievers, fusion) and the presentation (best sentence per candidate, twin grouping, abstention).
    enc_s, cand_s, pres_s = [], [], []
    for q in qs:
        text, warnings = clean_question(q, s0.settings.max_question_chars)
        # query.vectors: spelling repair and the one model call, giving the ranking and the judging vector.
        te, qvecs = timed(s0.query.vectors, [text])
        tc, _ = timed(s0.retriever.candidates, text, s0.query.terms(text), s0.query.implicit(text), qvecs[0][0],
                      "hybrid", None)
        tw, _ = timed(s0._answer, text, qvecs[0], 5, "hybrid", None, warnings)
        enc_s.append(te * 1e3)
        cand_s.append(tc * 1e3)
        pres_s.append(max(tw - tc, 0.0) * 1e3)
    report.add(Figure(SECTION, "stage: candidates() (BM25 + FAISS + fusion)", "ms", cand_s,
                      "stage: query.vectors([q]) (model call)", enc_s))
    report.add(Figure(SECTION, "stage: _answer() minus candidates() (highlight, grouping, abstain)", "ms", pres_s,
                      "stage: query.vectors([q]) (model call)", enc_s))
    return {"floor_ms": enc, "ask_ms": ask}

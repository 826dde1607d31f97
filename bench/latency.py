"""1. Query latency in process: `Searcher.ask` against the bare model call for the same question."""

from __future__ import annotations

import random

from .common import Figure, Report, gold_questions, interleaved, ratios, timed, uncached_searcher

SECTION = "1"


def run(report: Report, searcher, rounds: int = 2, seed: int = 0) -> dict:
    """Interleaved pairs (bare encode, ask) per question, order alternating, over `rounds` shuffles of the
    gold questions; then the cached (repeat) ask; then a fully cold question (spell-fix memo cleared too);
    then where the time of one uncached ask goes, stage by stage."""
    from qa.retrieve.query import clean_question

    qs = gold_questions()
    model = searcher.embedder  # the served embedder (ONNX Runtime); its encode is the bare model call
    s0 = uncached_searcher(searcher)
    rng = random.Random(seed)

    def floor(q):
        return model.encode([q])

    for q in qs[:20]:  # warm-up: first calls of torch, FAISS, the spell fixer's first misses
        floor(q)
        s0.ask(q)

    ask, enc = [], []
    for _ in range(rounds):
        order = qs[:]
        rng.shuffle(order)
        a, e = interleaved([s0.ask, floor], order)
        ask += a
        enc += e
    report.add(Figure(SECTION, "ask(q) hybrid, question cache off", "ms", ask, "model.encode([q])", enc,
                      max_ratio=1.3, paired_ratios=ratios(ask, enc),
                      note=f"{len(qs)} gold questions x {rounds} rounds, interleaved"))

    # Cached: the question vector comes from the LRU cache, so this is the search pipeline alone.
    for q in qs:
        searcher.ask(q)
    cached, enc_c = interleaved([searcher.ask, floor], qs)
    report.add(Figure(SECTION, "ask(q) repeated (vector from question cache) = pipeline without the model", "ms",
                      cached, "model.encode([q])", enc_c, paired_ratios=ratios(cached, enc_c)))

    # Cold: the spell fixer's memo is emptied too (untimed), as for a question whose words the process has never
    # seen. Half the questions: enough for a median, and a cold call is slow.
    cold, enc_n = interleaved([s0.ask, floor], qs[::2], before=lambda q: s0.query.spell.forget())
    report.add(Figure(SECTION, "ask(q) never-seen words (question cache + spell-fix memo cleared)", "ms", cold,
                      "model.encode([q])", enc_n, paired_ratios=ratios(cold, enc_n)))

    # Where the time of one uncached ask goes, without a profiler's overhead: the model call (with spelling
    # repair), candidates() (both retrievers, fusion) and the rest of _answer() (judging, highlight, grouping).
    enc_s, cand_s, pres_s = [], [], []
    for q in qs:
        text, warnings = clean_question(q, s0.settings.max_question_chars)
        te, qvecs = timed(s0.query.vectors, [text])
        tc, _ = timed(s0.retriever.candidates, text, s0.query.terms(text), s0.query.implicit(text), qvecs[0][0],
                      "hybrid", None)
        tw, _ = timed(s0._answer, text, qvecs[0], 5, "hybrid", None, warnings)
        enc_s.append(te * 1e3)
        cand_s.append(tc * 1e3)
        pres_s.append(max(tw - tc, 0.0) * 1e3)
    report.add(Figure(SECTION, "stage: candidates() (BM25 + dense + fusion)", "ms", cand_s,
                      "stage: query.vectors([q]) (spelling repair + model call)", enc_s))
    report.add(Figure(SECTION, "stage: _answer() minus candidates() (judging, highlight, grouping)", "ms", pres_s,
                      "stage: query.vectors([q]) (spelling repair + model call)", enc_s))
    return {"floor_ms": enc, "ask_ms": ask}

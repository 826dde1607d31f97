"""Scoring on the gold set: ranx metrics per mode, split, kind and source, abstention and label figures, each
with its 95% bootstrap interval (qa/evaluate/stats.py), and paired comparisons between modes.

"Recall@k" in the report is ranx's `hit_rate@k`: the share of answerable questions with at least one
acceptable passage in the first k (the question is answered). The stricter ranx `recall@k` (share of all
overlapping passages found) is in the JSON as `recall_all@k`.
"""

from __future__ import annotations

import warnings

import numpy as np
from ranx import Qrels, Run
from ranx import evaluate as ranx_evaluate

from qa.evaluate.gold import KINDS, SPLITS, GoldQuestion, first_relevant_rank, is_relevant, relevant_spans
from qa.evaluate.modes import MODES
from qa.evaluate.outcomes import outcome_figures
from qa.evaluate.stats import Bootstrap, paired_difference, randomization_p

LABELS = ("strong", "good", "partial")
KS = (1, 3, 5, 10)
METRICS = [f"hit_rate@{k}" for k in KS] + ["mrr@10", "ndcg@10"] + [f"recall@{k}" for k in KS]
# What the report compares modes on (paired differences and p-values).
COMPARE_METRICS = ["hit_rate@1", "hit_rate@5", "mrr@10", "ndcg@10"]


def groups(questions: list[GoldQuestion]) -> list[str]:
    """The groups figures are given for: each split present, "all", "split:kind" for each kind present,
    then "split@source" for each source that answers questions of the split (a question with answers in
    two sources counts for both)."""
    splits = [s for s in SPLITS if any(q.split == s for q in questions)]
    kinds = [f"{s}:{k}" for s in splits for k in KINDS if any(q.split == s and q.kind == k for q in questions)]
    sources = sorted({a.source_id for q in questions for a in q.answers})
    by_source = [f"{s}@{src}" for s in [*splits, "all"] for src in sources
                 if any(in_group(q, f"{s}@{src}") for q in questions)]
    return splits + ["all"] + kinds + by_source


def in_group(q: GoldQuestion, group: str) -> bool:
    group, _, source = group.partition("@")
    split, _, kind = group.partition(":")
    return ((split == "all" or q.split == split) and (not kind or q.kind == kind)
            and (not source or any(a.source_id == source for a in q.answers)))


def figure_name(metric: str) -> str:
    """The report's name for a ranx metric: hit_rate@k is "Recall@k", ranx's recall@k is "recall_all@k"."""
    if metric.startswith("hit_rate"):
        return metric.replace("hit_rate", "Recall")
    return metric.replace("recall", "recall_all") if metric.startswith("recall") else metric


def per_query_scores(ranked: dict[str, list[str]], qrels: dict[str, dict[str, int]], metrics: list[str],
                     name: str = "run") -> dict[str, dict[str, float]]:
    """ranx's score of every question and metric: {metric: {question id: score}}."""
    if not qrels:
        return {m: {} for m in metrics}
    run = Run({q: {pid: float(len(ids) - r) for r, pid in enumerate(ids)} or {"__empty__": 0.0}
               for q, ids in ranked.items() if q in qrels}, name=name)
    ranx_evaluate(Qrels(qrels), run, metrics, make_comparable=True)
    return {m: {q: float(v) for q, v in run.scores[m].items()} for m in metrics}


def group_figures(qs: list[GoldQuestion], scores: dict[str, dict[str, float]], abstained: dict[str, bool],
                  metrics: list[str], group: str) -> dict:
    """Figures of one system over one group of questions, each with its 95% bootstrap interval in "ci"."""
    ans = [q for q in qs if q.answerable]
    off = [q for q in qs if not q.answerable]
    figures: dict = {"answerable": len(ans), "off_topic": len(off)}
    ci: dict = {}

    def put(name: str, value: float, interval) -> None:
        figures[name] = round(float(value), 4)
        ci[name] = [round(float(interval[0]), 4), round(float(interval[1]), 4)]

    if ans:
        boot = Bootstrap(len(ans), f"{group}/answerable")
        values = np.array([[scores[m][q.id] for m in metrics] for q in ans])
        for m, mean, interval in zip(metrics, values.mean(axis=0), boot.mean_interval(values), strict=False):
            put(figure_name(m), mean, interval)
        wrong = np.array([abstained[q.id] for q in ans], dtype=float)
        put("wrongly_abstained", wrong.mean(), boot.mean_interval(wrong))
    if off:
        hit = np.array([abstained[q.id] for q in off], dtype=float)
        put("abstain_recall", hit.mean(), Bootstrap(len(off), f"{group}/unanswerable").mean_interval(hit))
        num = np.array([abstained[q.id] and not q.answerable for q in qs], dtype=float)
        den = np.array([abstained[q.id] for q in qs], dtype=float)
        put("abstain_precision", num.sum() / den.sum() if den.sum() else 1.0,
            Bootstrap(len(qs), f"{group}/all").ratio_interval(num, den))
    figures["ci"] = ci
    return figures


def mode_pairs(modes) -> list[tuple[str, str]]:
    """The comparisons the report states: hybrid against each retriever alone, or every pair otherwise."""
    modes = list(modes)
    if "hybrid" in modes:
        return [("hybrid", m) for m in modes if m != "hybrid"]
    return [(a, b) for i, a in enumerate(modes) for b in modes[i + 1:]]


def compare_systems(scores: dict[str, dict[str, dict[str, float]]], qs: list[GoldQuestion],
                    pairs: list[tuple[str, str]], group: str, metrics: list[str] = COMPARE_METRICS) -> dict:
    """For each pair (a, b): per metric, mean(a) - mean(b) over the answerable questions of the group, its
    paired bootstrap interval (the same resamples as the figures' intervals) and the p-value of Fisher's
    paired randomization test."""
    ans = [q for q in qs if q.answerable]
    if not ans or not pairs:
        return {}
    boot = Bootstrap(len(ans), f"{group}/answerable")
    out: dict = {}
    for a, b in pairs:
        out[f"{a} vs {b}"] = {}
        for m in metrics:
            va, vb = [scores[a][m][q.id] for q in ans], [scores[b][m][q.id] for q in ans]
            out[f"{a} vs {b}"][figure_name(m)] = {**paired_difference(va, vb, boot),
                                                  "p_value": round(randomization_p(va, vb), 4)}
    return out


def score_systems(systems: dict[str, dict[str, dict]], questions: list[GoldQuestion],
                  spans: dict[str, list], qrels: dict[str, dict[str, int]], metrics: list[str],
                  pairs: list[tuple[str, str]] | None = None) -> dict:
    """Figures per system and group, with intervals, and the paired comparisons per split.

    `systems[name][question id]`: {"abstained", "ids" (passage ids, best first), "hits" (objects with
    source_id, start, end)}; `qrels[question id]`: the acceptable passage ids of an answerable question."""
    results: dict = {"modes": {}, "questions": systems, "spans": spans, "per_query": {}, "ranks": {},
                     "comparisons": {}}
    for name, per_q in systems.items():
        ranked = {q.id: per_q[q.id]["ids"] for q in questions}
        scores = per_query_scores(ranked, qrels, metrics, name)
        abstained = {q.id: bool(per_q[q.id]["abstained"]) for q in questions}
        results["per_query"][name] = scores
        results["ranks"][name] = {q.id: (None if per_q[q.id]["abstained"] else
                                         first_relevant_rank(per_q[q.id]["hits"], spans[q.id]))
                                  for q in questions if q.answerable}
        results["modes"][name] = {g: group_figures([q for q in questions if in_group(q, g)], scores, abstained,
                                                   metrics, g) for g in groups(questions)}
    pairs = mode_pairs(systems) if pairs is None else pairs
    for g in [s for s in (*SPLITS, "all") if any(in_group(q, s) for q in questions)]:
        cmp = compare_systems(results["per_query"], [q for q in questions if in_group(q, g)],
                              pairs, g, [m for m in COMPARE_METRICS if m in metrics])
        if cmp:
            results["comparisons"][g] = cmp
    return results


def label_figures(qs: list[GoldQuestion], per_q: dict, spans: dict) -> dict:
    """Precision of each relevance label: among the first five passages shown for questions answered (not
    refused), the share of those with the label that are acceptable answers (none are, for off-topic ones)."""
    out: dict[str, float] = {}
    for label in LABELS:
        shown = [is_relevant(h.source_id, h.start, h.end, spans.get(q.id, []))
                 for q in qs if not per_q[q.id]["abstained"] for h in per_q[q.id]["hits"][:5]
                 if getattr(h, "label", "") == label]
        out[f"label_{label}_shown"] = len(shown)
        if shown:
            out[f"label_{label}_precision"] = round(sum(shown) / len(shown), 4)
    return out


def evaluate(searcher, questions: list[GoldQuestion], texts: dict[str, str], modes=MODES, k: int = 10) -> dict:
    """Run every question in every mode; return figures per mode and group (with 95% intervals), paired
    comparisons between modes, and per-question details. `texts`: source id -> text, to locate the gold
    quotes."""
    # ranx's numba kernels warn about an integer cast on every call; the figures are unaffected.
    warnings.filterwarnings("ignore", message=".*unsafe cast.*")

    span_id = {(p.source_id, p.start, p.end): p.id for p in searcher.index.passages}
    spans = {q.id: relevant_spans(q, texts) for q in questions}
    # Qrels: every passage of the index that overlaps an acceptable quote.
    qrels_dict = {}
    for q in questions:
        if q.answerable:
            rel = {p.id: 1 for p in searcher.index.passages if is_relevant(p.source_id, p.start, p.end, spans[q.id])}
            qrels_dict[q.id] = rel or {"__none__": 1}
    systems = {}
    for mode in modes:
        answers = searcher.ask_many([q.question for q in questions], k=k, mode=mode)
        systems[mode] = {q.id: {"abstained": ans.abstained, "hits": ans.passages, "signals": ans.signals,
                                "answer": ans,
                                "ids": [span_id.get((h.source_id, h.start, h.end), f"{h.source_id}@{h.start}")
                                        for h in ans.passages]}
                         for q, ans in zip(questions, answers, strict=False)}
    results = score_systems(systems, questions, spans, qrels_dict, METRICS)
    for mode, per_q in systems.items():
        for g, figs in results["modes"][mode].items():
            figs.update(label_figures([q for q in questions if in_group(q, g)], per_q, spans))
            figs.update(outcome_figures([q for q in questions if in_group(q, g)], per_q, spans))
    results["qrels"] = qrels_dict
    return results

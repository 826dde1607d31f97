"""Evaluation on the gold set: validation, ranx metrics per mode and split, abstention, report and plot.

Gold answers are anchored to source text, not to passage ids: each question lists acceptable answers as
(source id, exact quote). A retrieved passage is relevant when its character span overlaps the span of an
acceptable quote in the same source, so the gold set survives re-segmentation.

"Recall@k" in the report is ranx's `hit_rate@k`: the share of answerable questions with at least one
acceptable passage in the first k (the question is answered). The stricter ranx `recall@k` (share of all
overlapping passages found) is in the JSON as `recall_all@k`.

Every figure carries a 95% bootstrap interval (qa/evalstats.py), modes are compared with paired tests, and
the figures are also given per kind of question and per source. Saved runs, run files of other systems and
the BEIR export live in qa/runs.py and qa/beir.py; gold-row checks in qa/goldcheck.py.
"""

from __future__ import annotations

import json
import os
import sys
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from qa.ingest.corpus import load_corpus
from qa.errors import GoldError
from qa.evaluate.stats import (BOOTSTRAP_RESAMPLES, BOOTSTRAP_SEED, PERMUTATIONS, Bootstrap, compare_runs, format_p,
                        paired_difference)

PROJECT_DIR = Path(__file__).resolve().parents[2]
DEFAULT_GOLD = PROJECT_DIR / "eval" / "gold.jsonl"
DEFAULT_REPORT = PROJECT_DIR / "eval" / "report.md"
MODES = ("bm25", "dense", "hybrid")
# dev: tuned and calibrated on; test, test2: held out, only reported. test2 holds questions written later,
# blind, that leave the topic implicit (see eval/README in docs/evaluation.md).
SPLITS = ("dev", "test", "test2")
HELD_OUT = ("test", "test2")
# What kind of question a gold row is: names the corpus topic ("named"), leaves it implicit ("implicit"),
# another subject altogether ("off-topic"), or about the topic but not answered by the sources ("near-miss").
KINDS = ("named", "implicit", "off-topic", "near-miss")
LABELS = ("strong", "good", "partial")
KS = (1, 3, 5, 10)
METRICS = [f"hit_rate@{k}" for k in KS] + ["mrr@10", "ndcg@10"] + [f"recall@{k}" for k in KS]
# What the report compares modes on (paired differences and p-values).
COMPARE_METRICS = ["hit_rate@1", "hit_rate@5", "mrr@10", "ndcg@10"]


@dataclass
class GoldAnswer:
    source_id: str
    quote: str


@dataclass
class GoldQuestion:
    id: str
    question: str
    split: str
    answers: list[GoldAnswer] = field(default_factory=list)
    kind: str = ""

    @property
    def answerable(self) -> bool:
        return bool(self.answers)


def load_gold(path: str | os.PathLike) -> list[GoldQuestion]:
    path = Path(path)
    if not path.is_file():
        raise GoldError(f"{path}: no gold set there; pass --gold FILE")
    out, seen = [], set()
    for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        try:
            r = json.loads(line)
            q = GoldQuestion(id=str(r["id"]), question=str(r["question"]), split=str(r.get("split", "dev")),
                             answers=[GoldAnswer(str(a["source_id"]), str(a["quote"])) for a in r.get("answers", [])],
                             kind=str(r.get("kind", "")))
        except (ValueError, KeyError, TypeError) as e:
            raise GoldError(f"{path}:{n}: not a gold record ({e}); expected "
                            '{"id", "question", "split", "answers": [{"source_id", "quote"}]}') from None
        if q.id in seen:
            raise GoldError(f"{path}:{n}: id {q.id!r} appears twice")
        if q.split not in SPLITS:
            raise GoldError(f"{path}:{n}: split must be one of {', '.join(SPLITS)}, not {q.split!r}")
        if q.kind and q.kind not in KINDS:
            raise GoldError(f"{path}:{n}: kind must be one of {', '.join(KINDS)}, not {q.kind!r}")
        if q.kind and (q.kind in ("named", "implicit")) != q.answerable:
            raise GoldError(f"{path}:{n}: kind {q.kind!r} does not fit a question with "
                            f"{len(q.answers)} answer(s)")
        seen.add(q.id)
        out.append(q)
    return out


def quote_spans(text: str, quote: str) -> list[tuple[int, int]]:
    """Every (start, end) where `quote` occurs in `text`."""
    spans, i = [], text.find(quote)
    while quote and i >= 0:
        spans.append((i, i + len(quote)))
        i = text.find(quote, i + 1)
    return spans


def overlaps(a_start: int, a_end: int, b_start: int, b_end: int) -> bool:
    """Half-open character spans share at least one character (an empty span shares none)."""
    return max(a_start, b_start) < min(a_end, b_end)


def validate_gold(questions: list[GoldQuestion], texts: dict[str, str]) -> list[str]:
    """Problems, one line each, naming the question: unknown source, or quote not found in its source."""
    problems = []
    for q in questions:
        for a in q.answers:
            if a.source_id not in texts:
                problems.append(f"{q.id}: source {a.source_id!r} is not in the corpus (quote {a.quote[:60]!r})")
            elif not quote_spans(texts[a.source_id], a.quote):
                problems.append(f"{q.id}: quote not found in {a.source_id}: {a.quote[:80]!r}")
    return problems


def validate_gold_file(gold: str | os.PathLike, corpus_dir: str | os.PathLike) -> list[str]:
    texts = {s.id: s.text for s in load_corpus(corpus_dir)}
    return validate_gold(load_gold(gold), texts)


def relevant_spans(q: GoldQuestion, texts: dict[str, str]) -> list[tuple[str, int, int]]:
    return [(a.source_id, s, e) for a in q.answers for s, e in quote_spans(texts[a.source_id], a.quote)]


def is_relevant(source_id: str, start: int, end: int, spans: list[tuple[str, int, int]]) -> bool:
    return any(sid == source_id and overlaps(start, end, s, e) for sid, s, e in spans)


# ---------------------------------------------------------------------------------------------------------
# scoring


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


def first_relevant_rank(hits, spans) -> int | None:
    """1-based position of the first acceptable passage in a best-first list, None when there is none."""
    return next((i for i, h in enumerate(hits, 1) if is_relevant(h.source_id, h.start, h.end, spans)), None)


def per_query_scores(ranked: dict[str, list[str]], qrels: dict[str, dict[str, int]], metrics: list[str],
                     name: str = "run") -> dict[str, dict[str, float]]:
    """ranx's score of every question and metric: {metric: {question id: score}}."""
    from ranx import Qrels, Run, evaluate as ranx_evaluate

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
        for m, mean, interval in zip(metrics, values.mean(axis=0), boot.mean_interval(values)):
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


def compare_systems(scores: dict[str, dict[str, dict[str, float]]], ranked: dict[str, dict[str, list[str]]],
                    qrels: dict[str, dict[str, int]], qs: list[GoldQuestion], pairs: list[tuple[str, str]],
                    group: str, metrics: list[str] = COMPARE_METRICS) -> dict:
    """For each pair (a, b): per metric, mean(a) - mean(b) over the answerable questions of the group, its
    paired bootstrap interval (the same resamples as the figures' intervals) and ranx's Fisher p-value."""
    from ranx import Qrels, Run

    ans = [q for q in qs if q.answerable]
    if not ans or not pairs:
        return {}
    boot = Bootstrap(len(ans), f"{group}/answerable")
    names = sorted({n for pair in pairs for n in pair})
    runs = [Run({q.id: {pid: float(len(ranked[n][q.id]) - r) for r, pid in enumerate(ranked[n][q.id])}
                 or {"__empty__": 0.0} for q in ans}, name=n) for n in names]
    p_values = compare_runs(Qrels({q.id: qrels[q.id] for q in ans}), runs, metrics)
    out = {}
    for a, b in pairs:
        ps = p_values.get((a, b)) or p_values[(b, a)]
        out[f"{a} vs {b}"] = {figure_name(m): {**paired_difference([scores[a][m][q.id] for q in ans],
                                                                   [scores[b][m][q.id] for q in ans], boot),
                                               "p_value": round(ps[m], 4)} for m in metrics}
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
    ranked_all = {n: {q.id: systems[n][q.id]["ids"] for q in questions} for n in systems}
    for g in [s for s in (*SPLITS, "all") if any(in_group(q, s) for q in questions)]:
        cmp = compare_systems(results["per_query"], ranked_all, qrels, [q for q in questions if in_group(q, g)],
                              pairs, g, [m for m in COMPARE_METRICS if m in metrics])
        if cmp:
            results["comparisons"][g] = cmp
    return results


def label_figures(qs: list[GoldQuestion], per_q: dict, spans: dict) -> dict:
    """Precision of each relevance label: among the first five passages shown for questions answered (not
    refused), the share of those with the label that are acceptable answers (none are, for off-topic ones)."""
    out = {}
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
    import warnings

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
                         for q, ans in zip(questions, answers)}
    results = score_systems(systems, questions, spans, qrels_dict, METRICS)
    for mode, per_q in systems.items():
        for g, figs in results["modes"][mode].items():
            figs.update(label_figures([q for q in questions if in_group(q, g)], per_q, spans))
    results["qrels"] = qrels_dict
    return results


# ---------------------------------------------------------------------------------------------------------
# report

TABLE_COLUMNS = ["Recall@1", "Recall@3", "Recall@5", "Recall@10", "mrr@10", "ndcg@10", "wrongly_abstained",
                 "abstain_recall", "abstain_precision"]
HEADERS = {"mrr@10": "MRR@10", "ndcg@10": "nDCG@10", "wrongly_abstained": "answerable abstained",
           "abstain_recall": "off-topic abstained", "abstain_precision": "abstention precision"}
INTERVAL_NOTE = (f"Each figure is followed by its 95% interval (percentile bootstrap over the questions of "
                 f"the group, {BOOTSTRAP_RESAMPLES:,} resamples, fixed seed {BOOTSTRAP_SEED}; the same "
                 "resamples for every mode, so the intervals are paired).")


def cell(f: dict, c: str, interval: bool = True) -> str:
    """One figure as the tables print it: "0.667 (0.54-0.78)", or "–" when the group has none."""
    if c not in f:
        return "–"
    ci = f.get("ci", {}).get(c)
    return f"{f[c]:.3f} ({ci[0]:.2f}–{ci[1]:.2f})" if interval and ci else f"{f[c]:.3f}"


def table(results: dict, split: str, columns: list[str] | None = None, interval: bool = True) -> str:
    """A Markdown table of the figures of every mode for one group."""
    cols = [c for c in (columns or TABLE_COLUMNS)
            if any(c in per[split] for per in results["modes"].values())]
    lines = ["| mode | " + " | ".join(HEADERS.get(c, c) for c in cols) + " |",
             "| --- | " + " | ".join("---:" for _ in cols) + " |"]
    for mode, per_split in results["modes"].items():
        f = per_split[split]
        lines.append(f"| {mode} | " + " | ".join(cell(f, c, interval) for c in cols) + " |")
    return "\n".join(lines)


def comparison_table(results: dict) -> str:
    """Paired differences between modes per split: difference, 95% interval, Fisher p-value."""
    lines = ["| split | comparison | " + " | ".join(HEADERS.get(figure_name(m), figure_name(m))
                                                 for m in COMPARE_METRICS) + " |",
             "| --- | --- | " + " | ".join("---:" for _ in COMPARE_METRICS) + " |"]
    for split, per_pair in results["comparisons"].items():
        for pair, per_metric in per_pair.items():
            cells = []
            for m in COMPARE_METRICS:
                d = per_metric.get(figure_name(m))
                cells.append(f"{d['difference']:+.3f} ({d['ci'][0]:+.2f}–{d['ci'][1]:+.2f}), "
                             f"p {format_p(d['p_value'])}" if d else "–")
            lines.append(f"| {split} | {pair} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def failures(results: dict, questions: list[GoldQuestion], mode: str, texts: dict[str, str]) -> list[str]:
    """Lines for the report: answerable questions whose first passage is not an acceptable one, what came
    first instead; off-topic questions that were answered; answerable ones that were abstained on."""
    out = []
    for q in questions:
        r = results["questions"][mode][q.id]
        hits = r["hits"]
        if q.answerable:
            spans = results["spans"][q.id]
            if r["abstained"]:
                out.append(f"- `{q.id}` ({q.split}) **{q.question}**: abstained, but the sources answer it")
            elif not hits or not is_relevant(hits[0].source_id, hits[0].start, hits[0].end, spans):
                rank = first_relevant_rank(hits, spans)
                first = hits[0] if hits else None
                shown = (f"`{first.source_id}` {first.section or '(no heading)'!s}: "
                         f"\u201c{' '.join(first.text.split())[:110]}\u2026\u201d") if first else "nothing"
                out.append(f"- `{q.id}` ({q.split}) **{q.question}**: first was {shown}; acceptable at rank "
                           f"{rank if rank else '>10'}; expected e.g. `{q.answers[0].source_id}` "
                           f"\u201c{q.answers[0].quote[:80]}\u201d")
        elif not r["abstained"]:
            out.append(f"- `{q.id}` ({q.split}) **{q.question}** (off-topic): answered with "
                       f"`{hits[0].source_id}` {hits[0].section!s} (probability unanswered "
                       f"{r.get('signals', {}).get('p_unanswered', 0):.2f})")
    return out


def plot_recall(results: dict, path: Path, splits=HELD_OUT) -> None:
    """Recall at k per mode, one panel per held-out split present, the 95% intervals as bands."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    any_mode = next(iter(results["modes"].values()))
    splits = [s for s in splits if any_mode.get(s, {}).get("answerable")] or ["all"]
    fig, axes = plt.subplots(1, len(splits), figsize=(6 * len(splits), 4), dpi=100, squeeze=False)
    for ax, split in zip(axes[0], splits):
        for mode, per_split in results["modes"].items():
            f = per_split[split]
            line, = ax.plot(KS, [f[f"Recall@{k}"] for k in KS], marker="o", label=mode)
            lo, hi = zip(*(f["ci"][f"Recall@{k}"] for k in KS))
            ax.fill_between(KS, lo, hi, color=line.get_color(), alpha=0.15, linewidth=0)
        ax.set_xlabel("k (passages shown)")
        ax.set_ylabel("Recall@k (answered in the first k)")
        ax.set_title(f"{split} ({any_mode[split]['answerable']} answerable); bands: 95% intervals")
        ax.set_xticks(KS)
        ax.set_ylim(0, 1.02)
        ax.grid(alpha=0.3)
        ax.legend(loc="lower right")
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


def breakdown_table(results: dict, mode: str, sep: str, label: str) -> str:
    """Figures of one mode per group whose name holds `sep` (":" kinds, "@" sources), with intervals."""
    cols = ["answerable", "off_topic", "Recall@1", "Recall@5", "mrr@10", "wrongly_abstained", "abstain_recall"]
    heads = {**HEADERS, "answerable": "answerable", "off_topic": "unanswerable"}
    rows = {g: f for g, f in results["modes"][mode].items() if sep in g}
    cols = [c for c in cols if any(c in f and (c != "off_topic" or f[c]) for f in rows.values())]
    lines = [f"| {label} | " + " | ".join(heads.get(c, c) for c in cols) + " |",
             "| --- | " + " | ".join("---:" for _ in cols) + " |"]
    for group, f in rows.items():
        lines.append(f"| {group} | " + " | ".join(
            (str(f[c]) if c in ("answerable", "off_topic") else cell(f, c)) if c in f else "–" for c in cols) + " |")
    return "\n".join(lines)


def kind_table(results: dict, mode: str = "hybrid") -> str:
    """Figures of one mode per split and kind of question (named topic, implicit topic, off-topic, near-miss)."""
    return breakdown_table(results, mode, ":", "split:kind")


def label_table(results: dict, mode: str = "hybrid") -> str:
    lines = ["| split | " + " | ".join(f"{lb} (shown, precision)" for lb in LABELS) + " |",
             "| --- | " + " | ".join("---:" for _ in LABELS) + " |"]
    for split in SPLITS:
        f = results["modes"][mode].get(split)
        if f is None:
            continue
        cells = [f"{f.get(f'label_{lb}_shown', 0)}, " + (f"{f[f'label_{lb}_precision']:.3f}"
                                                           if f"label_{lb}_precision" in f else "–") for lb in LABELS]
        lines.append(f"| {split} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def split_sections(results: dict, questions: list[GoldQuestion]) -> list[str]:
    out = []
    for split in SPLITS:
        n = sum(q.split == split for q in questions)
        if not n:
            continue
        role = "tuned and calibrated on" if split == "dev" else "held out from tuning, only reported"
        out += [f"## {split} ({n} questions; {role})", "", table(results, split), ""]
    return out


def main_mode(results: dict) -> str:
    """The mode the detailed sections are about: hybrid when it was run, else the first one."""
    return "hybrid" if "hybrid" in results["modes"] else next(iter(results["modes"]))


def write_report(results: dict, questions: list[GoldQuestion], texts: dict[str, str], path: Path,
                 gold_path: Path, skipped: list[str] = (), extra: list[str] = ()) -> None:
    png = path.with_name("recall_at_k.png" if path.name == "report.md" else path.stem + "_recall_at_k.png")
    plot_recall(results, png)
    mode = main_mode(results)
    counts = ", ".join(f"{split} {sum(q.split == split for q in questions)}" for split in SPLITS)
    parts = [
        "# Retrieval evaluation",
        "",
        f"Gold set: `{gold_path.name}`, {len(questions)} learner-style questions "
        f"({sum(q.answerable for q in questions)} answerable, {sum(not q.answerable for q in questions)} "
        f"off-topic or unanswerable), in splits ({counts}): **dev** is used for tuning and calibration, **test** "
        "and **test2** (questions that leave the topic implicit, written blind) are only reported. Written by "
        "`ipt-qa eval`; regenerate it after any change.",
        "",
        *([f"**{len(skipped)} gold row(s) left out** because their quote no longer occurs in its source "
           "(fix them in the gold set):", "", *[f"- {p}" for p in skipped], ""] if skipped else []),
        "Recall@k is the share of answerable questions with an acceptable passage among the first k "
        "(a passage is acceptable when its span overlaps a gold quote). MRR@10 and nDCG@10 come from ranx. "
        "Abstention figures are over the off-topic questions; \"answerable abstained\" is the share of "
        "answerable questions wrongly refused. " + INTERVAL_NOTE,
        "",
        *split_sections(results, questions),
    ]
    if results.get("comparisons"):
        parts += ["## Paired comparisons between modes", "",
                  "Difference of the means over the same answerable questions (first mode minus second), its "
                  "95% paired bootstrap interval, and the two-sided p-value of Fisher's paired randomization "
                  f"test (ranx `compare`, {PERMUTATIONS:,} permutations).", "", comparison_table(results), ""]
    parts += [
        f"## Relevance labels ({mode})",
        "",
        "Each card's label (strong / good / partial match) comes from the score that orders the cards times the "
        "confidence that the sources answer at all (qa/search.py `label_of`; cut-offs fitted on dev by "
        "`python -m qa.evaluate.calibrate`). Precision: among the first five passages shown for questions not refused, "
        "the share of those with the label that are acceptable answers.",
        "",
        label_table(results, mode),
        "",
        f"## {mode} by kind of question",
        "",
        "named: the question names the topic; implicit: it leaves the topic unsaid; off-topic: another subject; "
        "near-miss: about the topic, but the sources do not answer it.",
        "",
        kind_table(results, mode),
        "",
        f"## {mode} by source",
        "",
        "Answerable questions grouped by the source of their gold answers (a question answered in two "
        "sources counts for both).",
        "",
        breakdown_table(results, mode, "@", "split@source"),
        "",
        f"![Recall at k per mode]({png.name})",
        "",
        *extra,
        f"## Where {mode} fails (every split)",
        "",
        *(failures(results, questions, mode, texts) or ["- none"]),
        "",
        f"## Abstention ({mode}): off-topic and near-miss questions, and the least certain answerable ones",
        "",
        "The refusal rule (qa/abstain.py) weighs several signals into a probability that the sources do not "
        "answer; it refuses from the cut-off fitted on dev (qa/abstain_model.json).",
        "",
        "| question | kind | split | probability unanswered | abstained |",
        "| --- | --- | --- | ---: | --- |",
    ]
    rows = []
    for q in questions:
        r = results["questions"][mode][q.id]
        rows.append((r.get("signals", {}).get("p_unanswered", 0.0), q, r["abstained"]))
    weakest = sorted((x for x in rows if x[1].answerable), key=lambda x: -x[0])[:12]
    for sim, q, abst in sorted([x for x in rows if not x[1].answerable] + weakest, key=lambda x: -x[0]):
        parts.append(f"| {q.question} | {q.kind or ('answerable' if q.answerable else 'off-topic')} | {q.split} | "
                     f"{sim:.3f} | {'yes' if abst else 'no'} |")
    path.write_text("\n".join(parts) + "\n", encoding="utf-8")


def _source_files(corpus_dir) -> dict[str, str]:
    """File name and citation path of every source -> its id (a run may name passages by file)."""
    out = {}
    for s in load_corpus(corpus_dir):
        out[s.path.name] = out[s.display_path] = out[str(s.path)] = s.id
    return out


def _print_tables(results: dict, splits: list[str], interval: bool = True) -> None:
    for sp in splits:
        print(f"\n{sp} ({'tuned on' if sp == 'dev' else 'held out' if sp in HELD_OUT else 'every split'}):")
        print(table(results, sp, interval=interval))


def _json_figures(results: dict, modes) -> dict:
    return {m: results["modes"][m] for m in modes}


def run_eval_command(args) -> int:
    """`ipt-qa eval`: check the gold set, score every mode (or a run file), print the tables with their
    intervals, write the report; optionally save the run, compare with a saved one, export for BEIR.
    Exit 1 when gold rows had to be left out (they are named), 2 for bad usage."""
    from qa.evaluate.goldcheck import broken_rows, gold_warnings

    if args.run and (args.baseline or args.save_run or args.export_beir):
        raise GoldError("--run scores a file of another system; it does not combine with --baseline, "
                        "--save-run or --export-beir")
    if args.report is not None and str(args.report) != "-":
        where = Path(args.report)
        if where.is_dir():
            raise GoldError(f"--report {where}: is a directory; give the report's file name, e.g. {where / 'report.md'}")
        if not where.parent.is_dir():
            raise GoldError(f"--report {where}: no directory {where.parent}; create it or choose another place")
    gold_path = Path(args.gold or DEFAULT_GOLD)
    questions = load_gold(gold_path)
    texts = {s.id: s.text for s in load_corpus(args.corpus)}
    broken = broken_rows(questions, texts)
    from qa.evaluate.beir import corpus_passages

    warnings = gold_warnings(questions, texts, corpus_passages(args.corpus)[1])
    for msgs in broken.values():
        for m in msgs:
            print(f"ipt-qa: gold row {m}", file=sys.stderr)
    if broken:
        print(f"ipt-qa: {gold_path}: {len(broken)} gold row(s) left out (quote not in its source); "
              f"{'checked' if args.check else 'scoring'} the other {len(questions) - len(broken)}", file=sys.stderr)
    if args.check:
        for w in warnings:
            print(f"warning: {w}")
        print(f"{gold_path}: {len(questions)} rows, {len(broken)} broken, {len(warnings)} warning(s)")
        return 1 if broken else 0
    if warnings:
        print(f"ipt-qa: note: {len(warnings)} gold warning(s) (weak rows); `ipt-qa eval --check` lists them",
              file=sys.stderr)
    skipped = [m for msgs in broken.values() for m in msgs]
    questions = [q for q in questions if q.id not in broken]
    status = 1 if broken else 0
    modes = tuple(dict.fromkeys(args.modes or MODES))
    present = [sp for sp in SPLITS if any(q.split == sp for q in questions)]
    splits = [args.split] if args.split else [sp for sp in (*HELD_OUT, "dev") if sp in present]

    if args.export_beir:
        from qa.evaluate.beir import export_beir

        counts = export_beir(args.export_beir, questions, texts, args.corpus)
        print(f"BEIR files written to {args.export_beir}: " + ", ".join(f"{v} {k}" for k, v in counts.items()))
        return status
    if args.run:
        from qa.evaluate.runs import score_run_file

        results = score_run_file(args.run, questions, texts, _source_files(args.corpus), name=Path(args.run).stem)
        info = results["run"]
        facts = (f"{info['records']} records, {info['passages']} passages, passage length mean "
                 f"{info['passage_chars']['mean']:.0f} / max {info['passage_chars']['max']} characters")
        if info["missing"]:
            print(f"ipt-qa: note: {len(info['missing'])} gold question(s) have no record in {args.run}; "
                  "scored as answered with nothing", file=sys.stderr)
        if info["unlocated"]:
            print(f"ipt-qa: note: {info['unlocated']} passage text(s) not found in any source; counted as "
                  "not acceptable", file=sys.stderr)
        if args.json:
            print(json.dumps({"gold": str(gold_path), "run": info, "skipped": skipped,
                              "modes": results["modes"]}, indent=1))
        else:
            print(f"{args.run}: {facts}")
            _print_tables(results, splits)
        if args.report is not None and str(args.report) != "-":
            lines = ["# Scored run", "", f"Run file `{args.run}`: {facts}. Longer passages make recall easier. "
                     "Only figures that do not depend on the segmentation are given. " + INTERVAL_NOTE, ""]
            for sp in [*splits, "all"]:
                lines += [f"## {sp}", "", table(results, sp), ""]
            Path(args.report).write_text("\n".join(lines), encoding="utf-8")
        return status

    from qa.serve.service import open_searcher

    if args.baseline:
        from qa.evaluate.runs import check_baseline_dir

        check_baseline_dir(args.baseline, modes)  # before the model is loaded: a typo fails at once
    if args.save_run and Path(args.save_run).exists() and not Path(args.save_run).is_dir():
        raise GoldError(f"{args.save_run}: exists and is not a directory; pass --save-run with a directory")
    searcher = open_searcher(args.index, args.corpus)
    results = evaluate(searcher, questions, texts, modes=modes)
    cmp = None
    if args.baseline:
        from qa.evaluate.runs import compare_with_baseline

        cmp = compare_with_baseline(args.baseline, results, questions, texts, _source_files(args.corpus))
    if args.save_run:
        from qa.evaluate.runs import save_run

        written = save_run(args.save_run, results, questions, searcher, gold_path)
        if not args.json:
            print(f"run saved to {args.save_run} ({len(written)} files)")
    if args.json:
        out = {"gold": str(gold_path), "questions": len(questions), "skipped": skipped,
               "bootstrap": {"resamples": BOOTSTRAP_RESAMPLES, "seed": BOOTSTRAP_SEED, "confidence": 0.95},
               "modes": _json_figures(results, modes), "comparisons": results["comparisons"]}
        if cmp:
            out["baseline"] = cmp
        print(json.dumps(out, indent=1))
    else:
        _print_tables(results, splits)
        if results["comparisons"]:
            print("\npaired comparisons (difference, 95% interval, Fisher p):")
            print(comparison_table(results))
        if cmp:
            from qa.evaluate.runs import baseline_lines

            print("\n" + "\n".join(baseline_lines(cmp)))
    report = args.report if args.report is not None else DEFAULT_REPORT
    if str(report) != "-":
        extra = []
        if cmp:
            from qa.evaluate.runs import baseline_lines

            extra = baseline_lines(cmp)
        write_report(results, questions, texts, Path(report), gold_path, skipped=skipped, extra=extra)
        if not args.json:
            print(f"\nreport written to {report}")
    return status

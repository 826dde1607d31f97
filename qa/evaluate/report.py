"""The Markdown report `ipt-qa eval` writes (eval/report.md) and the tables it prints: figures per split, kind
and source with their intervals, paired comparisons, label precision, the recall-at-k plot and every failure."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from qa.evaluate.gold import HELD_OUT, SPLITS, GoldQuestion, first_relevant_rank, is_relevant
from qa.evaluate.outcomes import outcome_table
from qa.evaluate.scoring import COMPARE_METRICS, KS, LABELS, figure_name
from qa.evaluate.stats import BOOTSTRAP_RESAMPLES, BOOTSTRAP_SEED, PERMUTATIONS, format_p

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
    import matplotlib  # deferred: matplotlib only when a report is drawn

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt  # deferred with matplotlib

    any_mode = next(iter(results["modes"].values()))
    splits = [s for s in splits if any_mode.get(s, {}).get("answerable")] or ["all"]
    fig, axes = plt.subplots(1, len(splits), figsize=(6 * len(splits), 4), dpi=100, squeeze=False)
    for ax, split in zip(axes[0], splits, strict=False):
        for mode, per_split in results["modes"].items():
            f = per_split[split]
            line, = ax.plot(KS, [f[f"Recall@{k}"] for k in KS], marker="o", label=mode)
            lo, hi = zip(*(f["ci"][f"Recall@{k}"] for k in KS), strict=False)
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
                 gold_path: Path, skipped: Sequence[str] = (), extra: Sequence[str] = ()) -> None:
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
        "**test2** (questions that leave the topic implicit, written blind) and **test3** (written blind for the "
        "refusal rule, half unanswerable) are only reported. Written by "
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
                  f"test ({PERMUTATIONS:,} seeded permutations).", "", comparison_table(results), ""]
    outcome_groups = [g for g in results["modes"][mode] if "@" not in g]
    parts += [
        f"## What a learner meets ({mode}): answered, may not answer, refused",
        "",
        "One rule (qa/judge/outcome.py) decides each answer's outcome and its cards' labels from one calibrated "
        "probability: *answered* (first card strong or good), *may not answer* (passages under a weak-match "
        "note, every card partial) or *refused*. Shares of each group's answerable and unanswerable questions; "
        "\"right & answered\": answered with an acceptable first card.",
        "",
        outcome_table(results, mode, outcome_groups),
        "",
        f"## Relevance labels ({mode})",
        "",
        "Each card's label (strong / good / partial match) comes from the same rule: the first card's from the "
        "probability that the sources do not answer, a later card's no higher, and \"good\" only when its score "
        "is close to the first's (cut-offs fitted on dev by `python -m qa.evaluate.calibrate`). Precision: among "
        "the first five passages shown for questions not refused, the share of those with the label that are "
        "acceptable answers.",
        "",
        label_table(results, mode),
        "",
        f"## {mode} by kind of question",
        "",
        "named: the question names the topic; implicit: it leaves the topic unsaid; off-topic: another subject; "
        "near-miss: about the topic, but the sources do not answer it; nonsense: nothing to search for; "
        "other-language: not in English.",
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
        "The rule (qa/judge/abstain.py, qa/judge/outcome.py) weighs several signals into a probability that the "
        "sources do not answer; it refuses from the cut-off fitted on dev (qa/judge/abstain_model.json). "
        "Questions with nothing to search for are refused before it (probability shown as 1).",
        "",
        "| question | kind | split | probability unanswered | abstained |",
        "| --- | --- | --- | ---: | --- |",
    ]
    rows = []
    for q in questions:
        r = results["questions"][mode][q.id]
        rows.append((r.get("signals", {}).get("p_unanswered", 1.0 if r["abstained"] else 0.0), q, r["abstained"]))
    weakest = sorted((x for x in rows if x[1].answerable), key=lambda x: -x[0])[:12]
    for sim, q, abst in sorted([x for x in rows if not x[1].answerable] + weakest, key=lambda x: -x[0]):
        parts.append(f"| {q.question} | {q.kind or ('answerable' if q.answerable else 'off-topic')} | {q.split} | "
                     f"{sim:.3f} | {'yes' if abst else 'no'} |")
    path.write_text("\n".join(parts) + "\n", encoding="utf-8")

"""Evaluation on the gold set: validation, ranx metrics per mode and split, abstention, report and plot.

Gold answers are anchored to source text, not to passage ids: each question lists acceptable answers as
(source id, exact quote). A retrieved passage is relevant when its character span overlaps the span of an
acceptable quote in the same source, so the gold set survives re-segmentation.

"Recall@k" in the report is ranx's `hit_rate@k`: the share of answerable questions with at least one
acceptable passage in the first k (the question is answered). The stricter ranx `recall@k` (share of all
overlapping passages found) is in the JSON as `recall_all@k`.
"""

from __future__ import annotations

import json
import os
import sys
from dataclasses import dataclass, field
from pathlib import Path

from .corpus import load_corpus
from .errors import GoldError

PROJECT_DIR = Path(__file__).resolve().parent.parent
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


def groups(questions: list[GoldQuestion]) -> list[str]:
    """The groups figures are given for: each split present, "all", then "split:kind" for each kind present."""
    splits = [s for s in SPLITS if any(q.split == s for q in questions)]
    kinds = [f"{s}:{k}" for s in splits for k in KINDS if any(q.split == s and q.kind == k for q in questions)]
    return splits + ["all"] + kinds


def in_group(q: GoldQuestion, group: str) -> bool:
    split, _, kind = group.partition(":")
    return (split == "all" or q.split == split) and (not kind or q.kind == kind)


def evaluate(searcher, questions: list[GoldQuestion], texts: dict[str, str], modes=MODES, k: int = 10) -> dict:
    """Run every question in every mode; return figures per mode and split, plus per-question details.
    `texts`: source id -> text, to locate the gold quotes."""
    import warnings

    from ranx import Qrels, Run, evaluate as ranx_evaluate

    # ranx's numba kernels warn about an integer cast on every call; the figures are unaffected.
    warnings.filterwarnings("ignore", message=".*unsafe cast.*")

    span_id = {(p.source_id, p.start, p.end): p.id for p in searcher.index.passages}
    spans = {q.id: relevant_spans(q, texts) for q in questions if q.answerable}
    # Qrels: every passage of the index that overlaps an acceptable quote.
    qrels_dict = {}
    for q in questions:
        if q.answerable:
            rel = {p.id: 1 for p in searcher.index.passages if is_relevant(p.source_id, p.start, p.end, spans[q.id])}
            qrels_dict[q.id] = rel or {"__none__": 1}
    results: dict = {"modes": {}, "questions": {}}
    for mode in modes:
        answers = searcher.ask_many([q.question for q in questions], k=k, mode=mode)
        per_q = {}
        for q, ans in zip(questions, answers):
            ids = [span_id.get((h.source_id, h.start, h.end), f"{h.source_id}@{h.start}") for h in ans.passages]
            per_q[q.id] = {"abstained": ans.abstained, "ids": ids, "hits": ans.passages, "signals": ans.signals}
        results["questions"][mode] = per_q
        results["modes"][mode] = {}
        for split in groups(questions):
            qs = [q for q in questions if in_group(q, split)]
            ans_qs = [q for q in qs if q.answerable]
            off = [q for q in qs if not q.answerable]
            figures: dict = {"answerable": len(ans_qs), "off_topic": len(off)}
            if ans_qs:
                qrels = Qrels({q.id: qrels_dict[q.id] for q in ans_qs})
                run_dict = {}
                for q in ans_qs:
                    ids = per_q[q.id]["ids"]
                    run_dict[q.id] = {pid: float(len(ids) - r) for r, pid in enumerate(ids)} or {"__empty__": 0.0}
                run = Run(run_dict, name=mode)
                scores = ranx_evaluate(qrels, run, METRICS, make_comparable=True)
                for m in METRICS:
                    name = m.replace("hit_rate", "Recall") if m.startswith("hit_rate") else (
                        m.replace("recall", "recall_all") if m.startswith("recall") else m)
                    figures[name] = round(float(scores[m]), 4)
                figures["wrongly_abstained"] = round(sum(per_q[q.id]["abstained"] for q in ans_qs) / len(ans_qs), 4)
            # Precision of each relevance label: among the first five passages shown (questions answered, not
            # refused), the share of those labelled so that are acceptable answers (none are, off-topic).
            for label in LABELS:
                shown = [is_relevant(h.source_id, h.start, h.end, spans.get(q.id, []))
                         for q in qs if not per_q[q.id]["abstained"] for h in per_q[q.id]["hits"][:5]
                         if h.label == label]
                figures[f"label_{label}_shown"] = len(shown)
                if shown:
                    figures[f"label_{label}_precision"] = round(sum(shown) / len(shown), 4)
            if off:
                abst_off = sum(per_q[q.id]["abstained"] for q in off)
                abst_all = sum(per_q[q.id]["abstained"] for q in qs)
                figures["abstain_recall"] = round(abst_off / len(off), 4)
                figures["abstain_precision"] = round(abst_off / abst_all, 4) if abst_all else 1.0
            results["modes"][mode][split] = figures
    results["spans"] = spans
    return results


# ---------------------------------------------------------------------------------------------------------
# report

TABLE_COLUMNS = ["Recall@1", "Recall@3", "Recall@5", "Recall@10", "mrr@10", "ndcg@10", "wrongly_abstained",
                 "abstain_recall", "abstain_precision"]
HEADERS = {"mrr@10": "MRR@10", "ndcg@10": "nDCG@10", "wrongly_abstained": "answerable abstained",
           "abstain_recall": "off-topic abstained", "abstain_precision": "abstention precision"}


def table(results: dict, split: str) -> str:
    """A Markdown table of the figures of every mode for one split."""
    cols = TABLE_COLUMNS
    lines = ["| mode | " + " | ".join(HEADERS.get(c, c) for c in cols) + " |",
             "| --- | " + " | ".join("---:" for _ in cols) + " |"]
    for mode, per_split in results["modes"].items():
        f = per_split[split]
        lines.append(f"| {mode} | " + " | ".join(f"{f[c]:.3f}" if c in f else "–" for c in cols) + " |")
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
                rank = next((h.rank for h in hits if is_relevant(h.source_id, h.start, h.end, spans)), None)
                first = hits[0] if hits else None
                shown = (f"`{first.source_id}` {first.section or '(no heading)'!s}: "
                         f"\u201c{' '.join(first.text.split())[:110]}\u2026\u201d") if first else "nothing"
                out.append(f"- `{q.id}` ({q.split}) **{q.question}**: first was {shown}; acceptable at rank "
                           f"{rank if rank else '>10'}; expected e.g. `{q.answers[0].source_id}` "
                           f"\u201c{q.answers[0].quote[:80]}\u201d")
        elif not r["abstained"]:
            out.append(f"- `{q.id}` ({q.split}) **{q.question}** (off-topic): answered with "
                       f"`{hits[0].source_id}` {hits[0].section!s} (probability unanswered "
                       f"{r['signals'].get('p_unanswered', 0):.2f})")
    return out


def plot_recall(results: dict, path: Path, split: str = "test") -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 4), dpi=100)
    for mode, per_split in results["modes"].items():
        f = per_split[split]
        ax.plot(KS, [f[f"Recall@{k}"] for k in KS], marker="o", label=mode)
    ax.set_xlabel("k (passages shown)")
    ax.set_ylabel("Recall@k (answered in the first k)")
    ax.set_title(f"Recall at k per mode, {split} half of the gold set")
    ax.set_xticks(KS)
    ax.set_ylim(0, 1.02)
    ax.grid(alpha=0.3)
    ax.legend()
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


def kind_table(results: dict, mode: str = "hybrid") -> str:
    """Figures of one mode per split and kind of question (named topic, implicit topic, off-topic, near-miss)."""
    cols = ["answerable", "off_topic", *TABLE_COLUMNS]
    heads = {**HEADERS, "answerable": "answerable", "off_topic": "unanswerable"}
    lines = ["| split:kind | " + " | ".join(heads.get(c, c) for c in cols) + " |",
             "| --- | " + " | ".join("---:" for _ in cols) + " |"]
    for group, f in results["modes"][mode].items():
        if ":" in group:
            lines.append(f"| {group} | " + " | ".join(
                (str(f[c]) if c in ("answerable", "off_topic") else f"{f[c]:.3f}") if c in f else "–"
                for c in cols) + " |")
    return "\n".join(lines)


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


def write_report(results: dict, questions: list[GoldQuestion], texts: dict[str, str], path: Path,
                 gold_path: Path) -> None:
    png = path.with_name("recall_at_k.png")
    plot_recall(results, png)
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
        "Recall@k is the share of answerable questions with an acceptable passage among the first k "
        "(a passage is acceptable when its span overlaps a gold quote). MRR@10 and nDCG@10 come from ranx. "
        "Abstention figures are over the off-topic questions; \"answerable abstained\" is the share of "
        "answerable questions wrongly refused.",
        "",
        *split_sections(results, questions),
        "## Relevance labels (hybrid)",
        "",
        "Each card's label (strong / good / partial match) comes from the score that orders the cards times the "
        "confidence that the sources answer at all (qa/search.py `label_of`; cut-offs fitted on dev by "
        "`python -m qa.calibrate`). Precision: among the first five passages shown for questions not refused, "
        "the share of those with the label that are acceptable answers.",
        "",
        label_table(results),
        "",
        "## Hybrid by kind of question",
        "",
        "named: the question names the topic; implicit: it leaves the topic unsaid; off-topic: another subject; "
        "near-miss: about the topic, but the sources do not answer it.",
        "",
        kind_table(results),
        "",
        f"![Recall at k per mode]({png.name})",
        "",
        "## Where hybrid fails (every split)",
        "",
        *(failures(results, questions, "hybrid", texts) or ["- none"]),
        "",
        "## Abstention (hybrid): off-topic and near-miss questions, and the least certain answerable ones",
        "",
        "The refusal rule (qa/abstain.py) weighs several signals into a probability that the sources do not "
        "answer; it refuses from the cut-off fitted on dev (qa/abstain_model.json).",
        "",
        "| question | kind | split | probability unanswered | abstained |",
        "| --- | --- | --- | ---: | --- |",
    ]
    rows = []
    for q in questions:
        r = results["questions"]["hybrid"][q.id]
        rows.append((r["signals"].get("p_unanswered", 0.0), q, r["abstained"]))
    weakest = sorted((x for x in rows if x[1].answerable), key=lambda x: -x[0])[:12]
    for sim, q, abst in sorted([x for x in rows if not x[1].answerable] + weakest, key=lambda x: -x[0]):
        parts.append(f"| {q.question} | {q.kind or ('answerable' if q.answerable else 'off-topic')} | {q.split} | "
                     f"{sim:.3f} | {'yes' if abst else 'no'} |")
    path.write_text("\n".join(parts) + "\n", encoding="utf-8")


def run_eval_command(args) -> int:
    """`ipt-qa eval`: validate the gold set, score every mode, print the table, write the report."""
    from .service import open_searcher

    gold_path = Path(args.gold or DEFAULT_GOLD)
    questions = load_gold(gold_path)
    texts = {s.id: s.text for s in load_corpus(args.corpus)}
    problems = validate_gold(questions, texts)
    if problems:
        print(f"ipt-qa: {gold_path}: {len(problems)} gold answer(s) do not match the corpus:", file=sys.stderr)
        for p in problems:
            print(f"  {p}", file=sys.stderr)
        return 1
    searcher = open_searcher(args.index, args.corpus)
    modes = tuple(args.modes or MODES)
    results = evaluate(searcher, questions, texts, modes=modes)
    present = [sp for sp in SPLITS if any(q.split == sp for q in questions)]
    splits = [args.split] if args.split else [sp for sp in (*HELD_OUT, "dev") if sp in present]
    if args.json:
        print(json.dumps({"gold": str(gold_path), "questions": len(questions),
                          "modes": {m: {sp: results["modes"][m][sp] for sp in splits + ["all"]} for m in modes}},
                         indent=1))
    else:
        for sp in splits:
            print(f"\n{sp} ({'tuned on' if sp == 'dev' else 'held out'}):")
            print(table(results, sp))
    report = args.report if args.report is not None else DEFAULT_REPORT
    if str(report) != "-":
        write_report(results, questions, texts, Path(report), gold_path)
        if not args.json:
            print(f"\nreport written to {report}")
    return 0

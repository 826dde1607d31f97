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
                             answers=[GoldAnswer(str(a["source_id"]), str(a["quote"])) for a in r.get("answers", [])])
        except (ValueError, KeyError, TypeError) as e:
            raise GoldError(f"{path}:{n}: not a gold record ({e}); expected "
                            '{"id", "question", "split", "answers": [{"source_id", "quote"}]}') from None
        if q.id in seen:
            raise GoldError(f"{path}:{n}: id {q.id!r} appears twice")
        if q.split not in ("dev", "test"):
            raise GoldError(f"{path}:{n}: split must be 'dev' or 'test', not {q.split!r}")
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
    """Half-open character spans share at least one character."""
    return a_start < b_end and b_start < a_end


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


def evaluate(searcher, questions: list[GoldQuestion], texts: dict[str, str], modes=MODES, k: int = 10) -> dict:
    """Run every question in every mode; return figures per mode and split, plus per-question details.
    `texts`: source id -> text, to locate the gold quotes."""
    from ranx import Qrels, Run, evaluate as ranx_evaluate

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
            per_q[q.id] = {"abstained": ans.abstained, "ids": ids, "hits": ans.passages}
        results["questions"][mode] = per_q
        results["modes"][mode] = {}
        for split in ("dev", "test", "all"):
            qs = [q for q in questions if split == "all" or q.split == split]
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
            if off:
                abst_off = sum(per_q[q.id]["abstained"] for q in off)
                abst_all = sum(per_q[q.id]["abstained"] for q in qs)
                figures["abstain_recall"] = round(abst_off / len(off), 4)
                figures["abstain_precision"] = round(abst_off / abst_all, 4) if abst_all else 1.0
            results["modes"][mode][split] = figures
    results["spans"] = spans
    return results

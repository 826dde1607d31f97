"""Runs on disk: save the current system's run (TREC run + qrels + JSON Lines records), score any system's
JSON Lines output against the quote-anchored gold set, and compare the current system with a saved run.

A run file is JSON Lines shaped like `ipt-qa ask --json` (docs/ask-record.schema.json, "run_record"): one
record per gold question, found by `id` (the gold question id) or else by its `question` text; `passages`
best first, each located by `source_id` (or `file`) with `start` and `end`, or by `text` alone, which is
looked up in the source (its first occurrence). Relevance is the gold set's span-overlap rule, so systems
that cut the sources differently are scored alike; since their passages differ, only the figures that do
not depend on how many passages a segmentation makes relevant are given (Recall@k, MRR@10, abstention).
"""

from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass
from pathlib import Path

from qa.errors import QAError
from qa.evaluate.gold import is_relevant, relevant_spans
from qa.evaluate.scoring import score_systems

SEGMENTATION_FREE = ["hit_rate@1", "hit_rate@3", "hit_rate@5", "hit_rate@10", "mrr@10"]


class RunFileError(QAError):
    """A run file or saved-run directory cannot be read (names the file and line)."""


@dataclass
class RunHit:
    """One passage of a run, located in the corpus."""

    rank: int
    source_id: str
    start: int
    end: int
    text: str
    section: str = ""


def span_key(source_id: str, start: int, end: int) -> str:
    return f"{source_id}:{start}-{end}"


def _norm_question(text: str) -> str:
    return " ".join(str(text).split()).casefold()


def _locate_text(text: str, texts: dict[str, str], source_id: str | None) -> tuple[str, int, int] | None:
    """Where `text` stands in the corpus: exact first, then ignoring differences of white space."""
    pool = [source_id] if source_id else list(texts)
    for sid in pool:
        i = texts[sid].find(text)
        if i >= 0 and text:
            return sid, i, i + len(text)
    words = text.split()
    if words:
        pattern = re.compile(r"\s+".join(re.escape(w) for w in words))
        for sid in pool:
            m = pattern.search(texts[sid])
            if m:
                return sid, m.start(), m.end()
    return None


def _source_of(p: dict, files: dict[str, str], texts: dict[str, str], where: str) -> str | None:
    sid = p.get("source_id")
    if sid is not None:
        if sid not in texts:
            raise RunFileError(f"{where}: unknown source_id {sid!r}; known: {', '.join(sorted(texts))}")
        return sid
    f = p.get("file", p.get("path"))
    if f is None:
        return None
    sid = files.get(str(f)) or files.get(Path(str(f)).name)
    if sid is None:
        raise RunFileError(f"{where}: file {f!r} is not a source of the corpus")
    return sid


def read_run_file(path: str | os.PathLike, questions, texts: dict[str, str],
                  files: dict[str, str]) -> tuple[dict, dict]:
    """{question id: {"abstained", "hits": [RunHit], "ids"}} and facts about the run (passage lengths, how
    many records and passages, questions without a record). `files`: file name or path -> source id."""
    path = Path(path)
    if not path.is_file():
        raise RunFileError(f"{path}: no run file there; pass --run FILE (JSON Lines, one record per question)")
    by_id = {q.id: q for q in questions}
    by_text = {_norm_question(q.question): q.id for q in questions}
    out: dict[str, dict] = {}
    unlocated = 0
    with open(path, encoding="utf-8", errors="replace") as fh:
        for n, line in enumerate(fh, 1):
            if not line.strip():
                continue
            where = f"{path}:{n}"
            try:
                r = json.loads(line)
            except ValueError as e:
                raise RunFileError(f"{where}: not JSON ({getattr(e, 'msg', e)})") from None
            if not isinstance(r, dict) or not isinstance(r.get("passages", []), list):
                raise RunFileError(f"{where}: expected an object with a list of passages, as `ipt-qa ask --json` "
                                   "prints")
            if "id" in r:
                qid = str(r["id"])
                if qid not in by_id:
                    raise RunFileError(f"{where}: id {qid!r} is not a question of the gold set")
            elif "question" in r:
                found = by_text.get(_norm_question(r["question"]))
                if found is None:
                    raise RunFileError(f"{where}: question {str(r['question'])[:60]!r} is not in the gold set "
                                       "(give its gold id as \"id\")")
                qid = found
            else:
                raise RunFileError(f"{where}: the record has neither \"id\" nor \"question\"")
            if qid in out:
                raise RunFileError(f"{where}: a second record for question {qid}")
            hits: list = []
            for i, p in enumerate(r.get("passages", []), 1):
                pw = f"{where}: passage {i}"
                if not isinstance(p, dict):
                    raise RunFileError(f"{pw}: not an object")
                sid = _source_of(p, files, texts, pw)
                start, end = p.get("start"), p.get("end")
                if start is not None or end is not None:
                    if sid is None:
                        raise RunFileError(f"{pw}: start/end without source_id or file")
                    if not (isinstance(start, int) and isinstance(end, int) and 0 <= start < end <= len(texts[sid])):
                        raise RunFileError(f"{pw}: start/end must be whole numbers with 0 <= start < end <= "
                                           f"{len(texts[sid])} (the length of {sid}), not {start!r}/{end!r}")
                    text = texts[sid][start:end]
                elif isinstance(p.get("text"), str):
                    found = _locate_text(p["text"], texts, sid)
                    if found is None:
                        unlocated += 1  # not in the sources: it cannot be an acceptable passage
                        continue
                    sid, start, end = found
                    text = texts[sid][start:end]
                else:
                    raise RunFileError(f"{pw}: needs source_id (or file) with start and end, or text")
                hits.append(RunHit(len(hits) + 1, sid, start, end, text, str(p.get("section") or "")))
            out[qid] = {"abstained": bool(r.get("abstained", False)), "hits": hits,
                        "ids": [span_key(h.source_id, h.start, h.end) for h in hits]}
    missing = [q.id for q in questions if q.id not in out]
    for qid in missing:
        out[qid] = {"abstained": False, "hits": [], "ids": []}
    lengths = [h.end - h.start for r in out.values() for h in r["hits"]]
    info = {"file": str(path), "records": len(out) - len(missing), "missing": missing, "unlocated": unlocated,
            "passages": len(lengths),
            "passage_chars": {"mean": round(sum(lengths) / len(lengths), 1) if lengths else 0,
                              "max": max(lengths, default=0)}}
    return out, info


def span_qrels(systems: dict[str, dict], questions, spans: dict) -> dict[str, dict[str, int]]:
    """Qrels over span keys: the retrieved passages (of any of `systems`) that overlap a gold quote."""
    qrels = {}
    for q in questions:
        if q.answerable:
            rel = {span_key(h.source_id, h.start, h.end): 1 for per_q in systems.values()
                   for h in per_q[q.id]["hits"] if is_relevant(h.source_id, h.start, h.end, spans[q.id])}
            qrels[q.id] = rel or {"__none__": 1}
    return qrels


def score_run_file(path, questions, texts: dict[str, str], files: dict[str, str], name: str = "run") -> dict:
    """Figures (with intervals) of another system's run file; results shaped like `evaluate`'s."""
    per_q, info = read_run_file(path, questions, texts, files)
    spans = {q.id: relevant_spans(q, texts) for q in questions}
    systems = {name: per_q}
    results = score_systems(systems, questions, spans, span_qrels(systems, questions, spans), SEGMENTATION_FREE,
                            pairs=[])
    results["run"] = info
    return results

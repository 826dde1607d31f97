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

import hashlib
import json
import os
import re
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

from qa.errors import QAError

SEGMENTATION_FREE = ["hit_rate@1", "hit_rate@3", "hit_rate@5", "hit_rate@10", "mrr@10"]
RECORDS = "records.{mode}.jsonl"
TREC_RUN = "run.{mode}.trec"
QRELS = "qrels.trec"
META = "meta.json"


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


# ---------------------------------------------------------------------------------------------------------
# reading a run file


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


def read_run_file(path: str | os.PathLike, questions, texts: dict[str, str], files: dict[str, str]) -> tuple[dict, dict]:
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
                raise RunFileError(f"{where}: not JSON ({e.msg})") from None
            if not isinstance(r, dict) or not isinstance(r.get("passages", []), list):
                raise RunFileError(f"{where}: expected an object with a list of passages, as `ipt-qa ask --json` "
                                   "prints")
            if "id" in r:
                qid = str(r["id"])
                if qid not in by_id:
                    raise RunFileError(f"{where}: id {qid!r} is not a question of the gold set")
            elif "question" in r:
                qid = by_text.get(_norm_question(r["question"]))
                if qid is None:
                    raise RunFileError(f"{where}: question {str(r['question'])[:60]!r} is not in the gold set "
                                       "(give its gold id as \"id\")")
            else:
                raise RunFileError(f"{where}: the record has neither \"id\" nor \"question\"")
            if qid in out:
                raise RunFileError(f"{where}: a second record for question {qid}")
            hits = []
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
    from qa.evaluate.scoring import is_relevant

    qrels = {}
    for q in questions:
        if q.answerable:
            rel = {span_key(h.source_id, h.start, h.end): 1 for per_q in systems.values()
                   for h in per_q[q.id]["hits"] if is_relevant(h.source_id, h.start, h.end, spans[q.id])}
            qrels[q.id] = rel or {"__none__": 1}
    return qrels


def score_run_file(path, questions, texts: dict[str, str], files: dict[str, str], name: str = "run") -> dict:
    """Figures (with intervals) of another system's run file; results shaped like `evaluate`'s."""
    from qa.evaluate.scoring import relevant_spans, score_systems

    per_q, info = read_run_file(path, questions, texts, files)
    spans = {q.id: relevant_spans(q, texts) for q in questions}
    systems = {name: per_q}
    results = score_systems(systems, questions, spans, span_qrels(systems, questions, spans), SEGMENTATION_FREE,
                            pairs=[])
    results["run"] = info
    return results


# ---------------------------------------------------------------------------------------------------------
# saving a run


def _git_commit(cwd: Path) -> str:
    try:
        out = subprocess.run(["git", "rev-parse", "HEAD"], cwd=cwd, capture_output=True, text=True, timeout=10)
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=cwd,
                               capture_output=True, text=True, timeout=10).stdout.strip()
        return out.stdout.strip() + ("+changes" if dirty else "") if out.returncode == 0 else ""
    except (OSError, subprocess.SubprocessError):
        return ""


def save_run(out_dir: str | os.PathLike, results: dict, questions, searcher, gold_path: Path) -> list[Path]:
    """Write, per mode, the TREC run and the JSON Lines records, plus the qrels of the current segmentation
    (one file: every mode shares it) and meta.json. Passage ids are the stable ids of qa/beir.py, the same
    as `--export-beir` writes."""
    from qa.evaluate.beir import stable_ids

    out = Path(out_dir)
    if out.exists() and not out.is_dir():
        raise RunFileError(f"{out}: exists and is not a directory; pass --save-run with a directory")
    out.mkdir(parents=True, exist_ok=True)
    ids = stable_ids(searcher.index.passages)
    by_index_id = {p.id: ids[(p.source_id, p.start, p.end)] for p in searcher.index.passages}
    written = []
    for mode, per_q in results["questions"].items():
        lines, records = [], []
        for q in questions:
            r = per_q[q.id]
            for rank, h in enumerate(r["hits"], 1):
                doc = ids.get((h.source_id, h.start, h.end), span_key(h.source_id, h.start, h.end))
                lines.append(f"{q.id} Q0 {doc} {rank} {h.score:.6f} ipt-qa-{mode}")
            records.append(json.dumps({"id": q.id, **r["answer"].to_dict()}, ensure_ascii=False))
        for name, body in ((TREC_RUN.format(mode=mode), lines), (RECORDS.format(mode=mode), records)):
            (out / name).write_text("".join(x + "\n" for x in body), encoding="utf-8")
            written.append(out / name)
    qrels = [f"{qid} 0 {by_index_id[pid]} 1" for qid, rel in results["qrels"].items() for pid in rel
             if pid in by_index_id]
    (out / QRELS).write_text("".join(x + "\n" for x in qrels), encoding="utf-8")
    meta = {"saved": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), "commit": _git_commit(gold_path.parent),
            "gold": str(gold_path), "gold_sha256": hashlib.sha256(gold_path.read_bytes()).hexdigest(),
            "questions": len(questions), "modes": list(results["questions"]),
            "index_build": searcher.index.manifest.get("build_id", str(getattr(searcher.index, "path", ""))),
            "settings": searcher.settings.as_dict()}
    (out / META).write_text(json.dumps(meta, indent=1) + "\n", encoding="utf-8")
    return [*written, out / QRELS, out / META]


# ---------------------------------------------------------------------------------------------------------
# comparing with a saved run


def check_baseline_dir(path: str | os.PathLike, modes) -> dict[str, Path]:
    """{mode: records file} of a saved run for the modes asked; a one-line error when there are none."""
    d = Path(path)
    if not d.is_dir():
        raise RunFileError(f"{d}: no saved run there; make one with `ipt-qa eval --save-run {d}`")
    found = {m: d / RECORDS.format(mode=m) for m in modes if (d / RECORDS.format(mode=m)).is_file()}
    if not found:
        raise RunFileError(f"{d}: holds no {RECORDS.format(mode='<mode>')} for the modes {', '.join(modes)}; "
                           f"make one with `ipt-qa eval --save-run {d}`")
    return found


def _rank_text(rank, abstained: bool) -> str:
    return "abstained" if abstained else (str(rank) if rank else ">10")


def compare_with_baseline(baseline_dir, results: dict, questions, texts: dict[str, str],
                          files: dict[str, str]) -> dict:
    """Per mode and split: the current figures minus the saved run's (paired bootstrap interval, ranx
    Fisher p-value), and the questions that got better or worse (rank of the first acceptable passage,
    before -> after; for unanswerable questions, abstained or not)."""
    from qa.evaluate.scoring import SPLITS, first_relevant_rank, in_group, relevant_spans, score_systems

    found = check_baseline_dir(baseline_dir, list(results["questions"]))
    meta_path = Path(baseline_dir) / META
    meta = json.loads(meta_path.read_text(encoding="utf-8")) if meta_path.is_file() else {}
    spans = {q.id: relevant_spans(q, texts) for q in questions}
    out: dict = {"dir": str(baseline_dir), "commit": meta.get("commit", ""), "saved": meta.get("saved", ""),
                 "modes": {}}
    for mode, records in found.items():
        before, info = read_run_file(records, questions, texts, files)
        now = results["questions"][mode]
        known = [q for q in questions if q.id not in info["missing"]]
        cur = {q.id: {"abstained": now[q.id]["abstained"], "hits": now[q.id]["hits"],
                      "ids": [span_key(h.source_id, h.start, h.end) for h in now[q.id]["hits"]]} for q in known}
        systems = {"now": cur, "before": before}
        scored = score_systems(systems, known, spans, span_qrels(systems, known, spans), SEGMENTATION_FREE,
                               pairs=[("now", "before")])
        changes = []
        for q in known:
            b, a = before[q.id], cur[q.id]
            if q.answerable:
                rb = None if b["abstained"] else first_relevant_rank(b["hits"], spans[q.id])
                ra = None if a["abstained"] else first_relevant_rank(a["hits"], spans[q.id])
                key_b = rb if rb else 99 + b["abstained"]
                key_a = ra if ra else 99 + a["abstained"]
                if key_a != key_b:
                    changes.append({"id": q.id, "split": q.split, "question": q.question,
                                    "change": "better" if key_a < key_b else "worse",
                                    "before": _rank_text(rb, b["abstained"]), "after": _rank_text(ra, a["abstained"])})
            elif b["abstained"] != a["abstained"]:
                changes.append({"id": q.id, "split": q.split, "question": q.question,
                                "change": "better" if a["abstained"] else "worse",
                                "before": "abstained" if b["abstained"] else "answered",
                                "after": "abstained" if a["abstained"] else "answered"})
        splits = [s for s in (*SPLITS, "all") if any(in_group(q, s) for q in known)]
        out["modes"][mode] = {
            "new_questions": info["missing"],
            "splits": {s: {"now": {k: v for k, v in scored["modes"]["now"][s].items()},
                           "before": {k: v for k, v in scored["modes"]["before"][s].items()},
                           "difference": scored["comparisons"].get(s, {}).get("now vs before", {})}
                       for s in splits},
            "changes": changes,
        }
    return out


def baseline_lines(cmp: dict) -> list[str]:
    """The comparison with a saved run, as Markdown (printed, and added to the report)."""
    from qa.evaluate.stats import format_p

    lines = [f"## Against the saved run {cmp['dir']}", "",
             f"Saved {cmp['saved'] or '(date unknown)'} from commit `{cmp['commit'] or 'unknown'}`. Now minus "
             "then, over the same questions: difference, 95% paired bootstrap interval, Fisher p-value (ranx "
             "`compare`). Ranks are of the first acceptable passage.", ""]
    for mode, m in cmp["modes"].items():
        metrics = ["Recall@1", "Recall@5", "mrr@10"]
        lines += [f"### {mode}", "", "| split | " + " | ".join(
            f"{x} then → now (difference, interval, p)" for x in ("Recall@1", "Recall@5", "MRR@10")) + " |",
                  "| --- | ---: | ---: | ---: |"]
        for split, s in m["splits"].items():
            cells = []
            for x in metrics:
                d = s["difference"].get(x)
                if d is None or x not in s["now"]:
                    cells.append("–")
                    continue
                cells.append(f"{s['before'][x]:.3f} → {s['now'][x]:.3f} ({d['difference']:+.3f}, "
                             f"{d['ci'][0]:+.2f}–{d['ci'][1]:+.2f}, p {format_p(d['p_value'])})")
            lines.append(f"| {split} ({s['now']['answerable']}) | " + " | ".join(cells) + " |")
        better = [c for c in m["changes"] if c["change"] == "better"]
        worse = [c for c in m["changes"] if c["change"] == "worse"]
        lines += ["", f"{len(better)} question(s) better, {len(worse)} worse"
                  + (f"; {len(m['new_questions'])} not in the saved run (new gold rows)" if m["new_questions"] else "")
                  + (":" if better or worse else "."), ""]
        for c in better + worse:
            lines.append(f"- {c['change']}: `{c['id']}` ({c['split']}) {c['question']}: {c['before']} → {c['after']}")
        lines.append("")
    return lines

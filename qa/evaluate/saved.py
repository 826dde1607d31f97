"""Saved runs: the current system's run written to a folder (TREC run + qrels + JSON Lines records per mode),
and the comparison of the current system with such a saved run (the evaluator's "judge a change" step)."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import time
from pathlib import Path

from qa.evaluate.beir import stable_ids
from qa.evaluate.gold import SPLITS, first_relevant_rank, relevant_spans
from qa.evaluate.runfile import SEGMENTATION_FREE, RunFileError, read_run_file, span_key, span_qrels
from qa.evaluate.scoring import in_group, score_systems
from qa.evaluate.stats import format_p

RECORDS = "records.{mode}.jsonl"
TREC_RUN = "run.{mode}.trec"
QRELS = "qrels.trec"
META = "meta.json"


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
    (one file: every mode shares it) and meta.json. Passage ids are the stable ids of qa/evaluate/beir.py, the same
    as `--export-beir` writes."""
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

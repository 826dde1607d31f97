"""Export the gold set in the BEIR layout, with passage ids that survive rebuilds.

    DIR/corpus.jsonl          {"_id", "title", "text", "metadata": {source_id, section, start, end, ...}}
    DIR/queries.jsonl         {"_id", "text", "metadata": {split, kind}} (unanswerable questions too)
    DIR/qrels/<split>.tsv     "query-id<TAB>corpus-id<TAB>score" with a header line, one file per split

A passage id is "<source id>-<first 12 hex digits of the SHA-256 of its text>": the same passage text in the
same source gets the same id after any rebuild, whatever moved around it (the index's own "<source>#<n>"
ids shift when a passage is added above). The n-th repeat of an identical text in one source gets "-<n>".
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

from qa.errors import QAError
from qa.evaluate.gold import SPLITS, is_relevant, relevant_spans
from qa.ingest.corpus import load_corpus
from qa.ingest.passages import segment_corpus


def stable_ids(passages) -> dict[tuple[str, int, int], str]:
    """{(source id, start, end): stable id} for passages (objects with source_id, start, end, text)."""
    out: dict[tuple[str, int, int], str] = {}
    seen: dict[str, int] = {}
    for p in sorted(passages, key=lambda p: (p.source_id, p.start, p.end)):
        base = f"{p.source_id}-{hashlib.sha256(p.text.encode('utf-8')).hexdigest()[:12]}"
        seen[base] = seen.get(base, 0) + 1
        out[(p.source_id, p.start, p.end)] = base if seen[base] == 1 else f"{base}-{seen[base]}"
    return out


def corpus_passages(corpus_dir, settings=None):
    """The passages `ipt-qa build` makes of the corpus (the same segmentation; no model needed)."""
    sources = load_corpus(corpus_dir)
    return sources, segment_corpus(sources, settings)


def export_beir(out_dir: str | os.PathLike, questions, texts: dict[str, str], corpus_dir, settings=None) -> dict:
    """Write the BEIR files for `questions` (gold rows that can be located); returns counts."""
    out = Path(out_dir)
    if out.exists() and not out.is_dir():
        raise QAError(f"{out}: exists and is not a directory; pass --export-beir with a directory")
    sources, passages = corpus_passages(corpus_dir, settings)
    titles = {s.id: s.title for s in sources}
    ids = stable_ids(passages)
    (out / "qrels").mkdir(parents=True, exist_ok=True)
    with open(out / "corpus.jsonl", "w", encoding="utf-8") as f:
        for p in passages:
            f.write(json.dumps({"_id": ids[(p.source_id, p.start, p.end)], "title": titles[p.source_id],
                                "text": p.text,
                                "metadata": {"source_id": p.source_id, "section": p.section, "start": p.start,
                                             "end": p.end, "line_start": p.line_start, "line_end": p.line_end}},
                               ensure_ascii=False) + "\n")
    with open(out / "queries.jsonl", "w", encoding="utf-8") as f:
        for q in questions:
            f.write(json.dumps({"_id": q.id, "text": q.question,
                                "metadata": {"split": q.split, "kind": q.kind, "answerable": q.answerable}},
                               ensure_ascii=False) + "\n")
    counts = {"passages": len(passages), "queries": len(questions)}
    for split in SPLITS:
        rows = []
        for q in questions:
            if q.split == split and q.answerable:
                spans = relevant_spans(q, texts)
                rows += [(q.id, ids[(p.source_id, p.start, p.end)]) for p in passages
                         if is_relevant(p.source_id, p.start, p.end, spans)]
        path = out / "qrels" / f"{split}.tsv"
        if rows:
            path.write_text("query-id\tcorpus-id\tscore\n" + "".join(f"{q}\t{d}\t1\n" for q, d in rows),
                            encoding="utf-8")
            counts[f"qrels/{split}"] = len(rows)
        elif path.exists():
            path.unlink()  # a split no longer in the gold set must not keep an old file
    return counts

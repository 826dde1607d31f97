"""`ipt-qa sources [--json]`: one line (or JSON object) per source: id, title, address, retrieval date, passages,
question-bank rows and stale rows. No model needed: the passages are cut as the index cuts them."""

from __future__ import annotations

import os
from pathlib import Path

from qa.ingest.bankreport import coverage
from qa.ingest.corpus import read_manifest


def source_rows(corpus_dir: str | os.PathLike) -> list[dict[str, object]]:
    """Per source, in the manifest's order: id, title, url, retrieved, passages, bank_rows (answerable and
    near-miss rows placed in it), stale_rows (rows naming it whose quote is gone)."""
    corpus_dir = Path(corpus_dir)
    cov = coverage(corpus_dir)
    entries = {e["id"]: e for e in read_manifest(corpus_dir)}
    per = cov.per_source()
    rows: dict[str, int] = {}
    for r in cov.bank.rows:
        if r.source_id:
            rows[r.source_id] = rows.get(r.source_id, 0) + 1
    stale = cov.bank.stale_by_source()
    return [{"id": sid, "title": str(e.get("title", "")).strip(), "url": str(e.get("url") or ""),
             "retrieved": str(e.get("retrieved") or ""), "passages": len(per.get(sid, [])),
             "bank_rows": rows.get(sid, 0), "stale_rows": stale.get(sid, 0)} for sid, e in entries.items()]


def source_lines(rows: list[dict[str, object]]) -> list[str]:
    """The readable table of `ipt-qa sources`: one line per source."""
    return [f"{r['id']}  {r['title']!r}  {r['url'] or '(no address)'}  retrieved {r['retrieved'] or '(unknown)'}  "
            f"{r['passages']} passages  {r['bank_rows']} bank rows  {r['stale_rows']} stale" for r in rows]

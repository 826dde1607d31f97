"""The maintainers' `ipt-qa refresh` and `ipt-qa sources`: their arguments and what they print. The index is
built by a callable the CLI passes in (ingest imports no later stage)."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable

from qa.ingest.refresh import FAILED, refresh
from qa.ingest.sourcelist import source_lines, source_rows


def add_parsers(sub, paths: Callable[[argparse.ArgumentParser], None]) -> None:
    r = sub.add_parser("refresh", help="fetch sources from their address again; on a change, update and build",
                       description="For each source with an address (url in corpus/sources.toml), fetch it again "
                                   "and compare with the original kept by `ipt-qa add`: say whether it changed, "
                                   "which passages were added, removed or changed and which question-bank rows "
                                   "would go stale; keep the previous original under its retrieval date, store "
                                   "the new text and update the index. A source that cannot be fetched is one "
                                   "line and left as it was (exit 1).")
    r.add_argument("ids", nargs="*", metavar="ID", help="the sources to refresh (default: all with an address)")
    r.add_argument("--dry-run", action="store_true", help="say what would change, change nothing")
    paths(r)
    s = sub.add_parser("sources", help="list the sources: address, retrieved, passages, bank rows, stale rows",
                       description="One line per source: id, title, address, retrieval date, passages, "
                                   "question-bank rows and stale rows. No model needed.")
    s.add_argument("--json", action="store_true", help="one JSON object per source (JSON Lines)")
    paths(s)


def cmd_refresh(args, build: Callable[[], str]) -> int:
    """`build` updates the index and returns its summary; called once, only when a source was updated."""
    result = refresh(args.corpus, args.ids, dry_run=args.dry_run)
    for s in result.sources:
        if s.status == FAILED:
            print(f"ipt-qa: {' '.join(s.lines[0].split())}", file=sys.stderr)
        else:
            print("\n".join(s.lines), flush=True)
    if result.applied:
        try:
            print(build())
        except BaseException:
            result.undo()  # a refresh whose build fails is undone, as an add is
            raise
    return 1 if any(s.status == FAILED for s in result.sources) else 0


def cmd_sources(args) -> int:
    rows = source_rows(args.corpus)
    for line in ([json.dumps(r, ensure_ascii=False) for r in rows] if args.json else source_lines(rows)):
        print(line)
    return 0

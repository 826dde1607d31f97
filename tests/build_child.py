"""Run one build in a child process and freeze it at a chosen step, so that a test can SIGKILL it there.

    python tests/build_child.py CORPUS INDEX STAGE[:N] MARKER

STAGE is one of the steps `qa.index.build` reports through the
`qa.index.layout.checkpoint` seam (embedding, writing, written,
swapping, swapped); N (default 1) picks its Nth occurrence. On reaching it the child creates MARKER and
sleeps until it is killed. The child embeds with the fake HashEmbedder, so no model is loaded.
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path


def _mark(marker: str, text: str) -> None:
    # Written aside and renamed, so the waiting test never reads a marker that exists but is still empty.
    tmp = Path(marker + ".part")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, marker)


def main() -> None:
    corpus, index, stage, marker = sys.argv[1:5]
    stage, _, nth = stage.partition(":")
    wanted = int(nth or 1)
    from fakes import HashEmbedder

    import qa.index.build

    seen = 0

    def checkpoint(step: str) -> None:
        nonlocal seen
        if step != stage:
            return
        seen += 1
        if seen == wanted:
            _mark(marker, step)
            time.sleep(600)  # the test kills us long before this ends

    qa.index.layout.checkpoint = checkpoint
    qa.index.build.build_index(corpus, index, HashEmbedder())
    _mark(marker, "finished")


if __name__ == "__main__":
    main()

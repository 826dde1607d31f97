"""A real build in a child process, for tests that SIGKILL it at a random moment.

    python tests/reliability/kill_child.py CORPUS INDEX LOG

Builds CORPUS into INDEX with the fake HashEmbedder and --full (so every run embeds everything and takes
the same path). The libraries are imported and warmed up before the build starts, and each step pauses
STEP_PAUSE seconds (standing in for a slower disk), so that a kill at a uniformly random time after "start"
lands in any phase of the build rather than mostly in Python's imports.

LOG gets one line per event, `<monotonic seconds> <event>`: "start" just before the build, every step
`qa.index.layout.checkpoint` reports (embedding, writing, written, swapping, swapped), and "finished"; so the test
knows how far each killed build got. Lines are written with os.write on an O_APPEND descriptor:
a line is either in the file whole or not at all when the kill lands.
"""

from __future__ import annotations

import os
import sys
import time

STEP_PAUSE = 0.01


def main() -> None:
    corpus, index, log = sys.argv[1:4]
    fd = os.open(log, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)

    def note(event: str) -> None:
        os.write(fd, f"{time.monotonic():.6f} {event}\n".encode())

    import bm25s  # noqa: F401 - imported now so that the build's own time is what gets measured and killed
    import faiss  # noqa: F401

    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))  # tests/, for fakes
    from fakes import HashEmbedder

    import qa.index.build

    def checkpoint(step: str) -> None:
        note(step)
        time.sleep(STEP_PAUSE)

    qa.index.layout.checkpoint = checkpoint
    embedder = HashEmbedder()
    embedder.encode(["warm up the stemmer"])
    note("start")
    qa.index.build.build_index(corpus, index, embedder, full=True)
    note("finished")


if __name__ == "__main__":
    main()

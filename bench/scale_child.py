"""Child process of the scale benchmark: open one index as the app does, answer some questions, and print
the process's memory as JSON (so each index's resident memory is measured in a process of its own).

    python -m bench.scale_child INDEX_DIR CORPUS_DIR [N_QUESTIONS]
"""

from __future__ import annotations

import json
import sys
import time


def main(argv: list[str]) -> int:
    from .common import gold_questions, proc_status

    index_dir, corpus_dir = argv[0], argv[1]
    n = int(argv[2]) if len(argv) > 2 else 20
    before = proc_status()
    from qa import open_searcher

    t0 = time.perf_counter()
    searcher = open_searcher(index_dir, corpus_dir, rebuild="never")
    t_open = time.perf_counter() - t0
    opened = proc_status()
    for q in gold_questions()[:n]:
        searcher.ask(q)
    after = proc_status()
    print(json.dumps({"passages": len(searcher.index), "open_seconds": t_open, "start": before,
                      "opened": opened, "after": after}))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

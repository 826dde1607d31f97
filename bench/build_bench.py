"""How long a full index build takes against an incremental one after editing one source.

    python bench/build_bench.py [--repeats 5]

The model (all-MiniLM-L6-v2) is loaded once and excluded from every timing. One untimed build first pays
for the imports (FAISS, bm25s) and the model's first call. Then, on a temporary copy of the real corpus:

* full: `build_index(..., full=True)`, which re-embeds every passage and sentence;
* incremental: append a new paragraph to one source, then `build_index(...)`, which embeds only what
  changed (a new paragraph each repeat, so every repeat has the same small amount of work).

Each is reported as median and p95 (linear interpolation over the repeats) and the ratio of the medians.
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

EDITED = "ipt-definition.txt"


def _timed(fn) -> tuple[float, object]:
    t0 = time.perf_counter()
    out = fn()
    return time.perf_counter() - t0, out


def _stats(xs: list[float]) -> tuple[float, float]:
    return statistics.median(xs), float(np.percentile(xs, 95))


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark and print one line per kind of build, then the ratio."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeats", type=int, default=5)
    args = ap.parse_args(argv)

    from qa.index.build import build_index
    from qa.index.embed import MiniLMEmbedder

    embedder = MiniLMEmbedder()
    with tempfile.TemporaryDirectory() as tmp:
        corpus, index = Path(tmp) / "corpus", Path(tmp) / "index"
        shutil.copytree(ROOT / "corpus", corpus)
        first = build_index(corpus, index, embedder)  # warm-up, untimed
        print(f"corpus: {len(first.sources_added)} sources, {first.passages_total} passages, "
              f"{first.embedded} texts embedded per full build; {args.repeats} repeats each")

        full, full_embedded = [], set()
        for _ in range(args.repeats):
            seconds, report = _timed(lambda: build_index(corpus, index, embedder, full=True))
            full.append(seconds)
            full_embedded.add(report.embedded)

        incremental, inc_embedded = [], set()
        for i in range(args.repeats):
            with open(corpus / EDITED, "a", encoding="utf-8") as f:
                f.write(f"\n\nBenchmark paragraph {i}: homework between sessions helps patients practise "
                        "new ways of relating to others.\n")
            seconds, report = _timed(lambda: build_index(corpus, index, embedder))
            incremental.append(seconds)
            inc_embedded.add(report.embedded)

    fm, fp = _stats(full)
    im, ip = _stats(incremental)
    print(f"full build:        median {fm:6.2f} s   p95 {fp:6.2f} s   (texts embedded: {sorted(full_embedded)})")
    print(f"incremental build: median {im:6.2f} s   p95 {ip:6.2f} s   (one source edited; texts embedded: "
          f"{sorted(inc_embedded)})")
    print(f"incremental / full (medians): {im / fm:.3f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Build time of one large source (RELIABILITY.md, finding 6): CPU seconds of segment() and of a whole
build_index with the fake embedder, for sources of the given sizes in MiB of characters.

    python tests/reliability/build_time.py 1 4 15.5
"""

from __future__ import annotations

import shutil
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]  # qa, fakes

from fakes import HashEmbedder  # noqa: E402

from qa.index.build import build_index  # noqa: E402
from qa.ingest.corpus import Source  # noqa: E402
from qa.ingest.passages import segment  # noqa: E402


def text_of(mib: float) -> str:
    prose = "\n\n".join(p.read_text(encoding="utf-8") for p in sorted((ROOT / "corpus").glob("*.txt")))
    unit = prose + "\n\nThings that help include:\n" + "".join(f"- item {i} of a list\n" for i in range(2000))
    n = int(mib * 2**20)
    return ("\n\n".join([unit] * (n // len(unit) + 1)))[:n]


def main() -> None:
    for mib in map(float, sys.argv[1:]):
        text = text_of(mib)
        t = time.process_time()
        passages = segment(Source(id="big", title="Big", path=Path("/x/big.txt"), text=text, sha256="0"))
        seg = time.process_time() - t
        d = Path(tempfile.mkdtemp())
        try:
            (d / "c").mkdir()
            (d / "c" / "big.txt").write_text(text, encoding="utf-8")
            (d / "c" / "sources.toml").write_text('[[source]]\nid = "big"\ntitle = "Big"\nfile = "big.txt"\n')
            t, w = time.process_time(), time.perf_counter()
            build_index(d / "c", d / "i", HashEmbedder())
            print(f"{mib:g} Mi characters: {len(passages)} passages, segment {seg:.2f} s CPU, build "
                  f"{time.process_time() - t:.2f} s CPU ({time.perf_counter() - w:.1f} s wall)")
        finally:
            shutil.rmtree(d)


if __name__ == "__main__":
    main()

"""3. Build: a full index build against an incremental one after editing one source.

On a temporary copy of the corpus, with the embedder already loaded (the model's loading is in no timing):
one untimed build first pays for the imports (FAISS, bm25s) and the model's first call; then `repeats` full
builds (`build_index(..., full=True)`, which re-embeds every passage and sentence); then `repeats`
incremental ones, each after appending a new paragraph to one source (so every repeat has the same small
amount of work: `build_index` embeds only what changed).
"""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

from .common import ROOT, Figure, Report, timed

SECTION = "3"
EDITED = "ipt-definition.txt"


def run(report: Report, searcher, repeats: int = 3, corpus_dir: Path = ROOT / "corpus", edited: str = EDITED) -> dict:
    """Builds with `searcher`'s embedder and settings (the model is already loaded)."""
    from qa.index.build import build_index

    embedder, settings = searcher.embedder, searcher.settings

    with tempfile.TemporaryDirectory(prefix="ipt-bench-build-") as tmp:
        corpus, index = Path(tmp) / "corpus", Path(tmp) / "index"
        shutil.copytree(corpus_dir, corpus)
        first = build_index(corpus, index, embedder, settings)  # warm-up, untimed
        full, full_reports = [], []
        for _ in range(repeats):
            seconds, rep = timed(build_index, corpus, index, embedder, settings, full=True)
            full.append(seconds)
            full_reports.append(rep)
        inc, inc_reports = [], []
        for i in range(repeats):
            with open(corpus / edited, "a", encoding="utf-8") as f:
                f.write(f"\n\nBenchmark paragraph {i}: homework between sessions helps patients practise "
                        "new ways of relating to others.\n")
            seconds, rep = timed(build_index, corpus, index, embedder, settings)
            inc.append(seconds)
            inc_reports.append(rep)
    if any(len(r.sources_edited) != 1 for r in inc_reports) or any(not r.full for r in full_reports):
        raise RuntimeError("a timed build did not do the work it was timed for (see its BuildReport)")
    texts = sorted({r.embedded for r in inc_reports})
    report.add(Figure(SECTION, f"incremental build after editing one source ({', '.join(map(str, texts))} texts "
                      "embedded)", "s", inc, f"full build ({first.embedded} texts embedded)", full,
                      note=f"{first.passages_total} passages from {len(first.sources_added)} sources"))
    return {"full_s": full, "incremental_s": inc, "passages": first.passages_total, "texts": first.embedded}

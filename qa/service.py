"""Open a ready-to-use Searcher: load the index, building or rebuilding it first when needed."""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Callable

from .errors import IndexCorrupt, IndexMissing, IndexStale
from .settings import Settings

PROJECT_DIR = Path(__file__).resolve().parent.parent
DEFAULT_CORPUS = Path(os.environ.get("IPT_QA_CORPUS", PROJECT_DIR / "corpus"))
DEFAULT_INDEX = Path(os.environ.get("IPT_QA_INDEX", PROJECT_DIR / "index"))


def _say(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def load_embedder():
    from .embed import MiniLMEmbedder

    return MiniLMEmbedder()


def open_searcher(
    index_dir: str | os.PathLike = DEFAULT_INDEX,
    corpus_dir: str | os.PathLike = DEFAULT_CORPUS,
    *,
    settings: Settings | None = None,
    embedder=None,
    rebuild: str = "auto",
    say: Callable[[str], None] = _say,
):
    """Load the index for `corpus_dir`. rebuild="auto": build a missing or stale index (saying so);
    "never": raise IndexMissing/IndexStale instead. A corrupted index is always an error (IndexCorrupt),
    so that damage is seen rather than silently papered over; `ipt-qa build --full` repairs it."""
    from .index import build_index, load_index
    from .search import Searcher

    settings = settings or Settings()
    embedder = embedder or load_embedder()
    try:
        index = load_index(index_dir, corpus_dir, settings=settings, model_sha256=embedder.weights_sha256)
    except (IndexMissing, IndexStale) as e:
        if rebuild != "auto":
            raise
        say(f"{e.__class__.__name__.replace('Index', 'index ').lower()}: {e}")
        say("building the index now ...")
        report = build_index(corpus_dir, index_dir, embedder, settings)
        say(report.summary())
        index = load_index(index_dir, corpus_dir, settings=settings, model_sha256=embedder.weights_sha256)
    except IndexCorrupt:
        raise
    return Searcher(index, embedder, settings)

"""Open a ready-to-use Searcher: load the index, building or rebuilding it first when needed."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

from qa.errors import IndexMissing, IndexStale
from qa.index.build import build_index
from qa.index.embed import Embedder
from qa.index.load import load_index
from qa.paths import default_corpus, default_index
from qa.search import Searcher
from qa.serve.live import LiveSearcher, say
from qa.settings import Settings


def load_embedder() -> Embedder:
    """The bundled MiniLM through ONNX Runtime, without torch (tests replace this function to use a fake)."""
    from qa.index.onnx_embed import OnnxEmbedder  # deferred: onnxruntime loads only with the model

    return OnnxEmbedder()


def open_searcher(
    index_dir: str | os.PathLike | None = None,
    corpus_dir: str | os.PathLike | None = None,
    *,
    settings: Settings | None = None,
    embedder: Embedder | None = None,
    rebuild: str = "auto",
    say: Callable[[str], None] = say,
) -> LiveSearcher:
    """Load the index for `corpus_dir`. rebuild="auto": build a missing or stale index (saying so);
    "never": raise IndexMissing/IndexStale instead. A corrupted index is always an error (IndexCorrupt),
    so that damage is seen rather than silently papered over; `ipt-qa build --full` repairs it.
    The Searcher returned follows later builds and edits of the sources (LiveSearcher)."""
    index_dir = Path(index_dir) if index_dir is not None else default_index()
    corpus_dir = Path(corpus_dir) if corpus_dir is not None else default_corpus()
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
    return LiveSearcher(Searcher(index, embedder, settings), index_dir, corpus_dir, settings)

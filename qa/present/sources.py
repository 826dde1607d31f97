"""The full texts of the indexed sources, for the source view: read from the corpus, and only when they are
still the very files the index was built from, so that a citation never highlights other characters."""

from __future__ import annotations

import logging
import os
from pathlib import Path

from qa.errors import QAError
from qa.ingest.corpus import file_sha256, load_corpus
from qa.paths import project_dir
from qa.present.source_view import SourceDoc

log = logging.getLogger("ipt-qa.app")


def load_source_docs(searcher, corpus_dir: str | os.PathLike | None = None) -> dict[str, SourceDoc]:
    """The full text of every indexed source, read once, keyed by source id.

    The text comes from `corpus_dir` (by default the folder the index's source paths point to). A source
    whose file is no longer the one indexed (different SHA-256) is left out, so that no citation ever
    highlights characters other than the ones it quotes."""
    infos = searcher.index.sources
    if corpus_dir is None:
        corpus_dir = _indexed_corpus_dir(searcher)
        if corpus_dir is None:
            log.warning("source files of the index not found; the source view will be unavailable")
            return {}
    docs = {}
    for s in load_corpus(corpus_dir):
        info = infos.get(s.id)
        if info is None or info.sha256 != s.sha256:
            log.warning("source %s differs from the indexed one; not shown in the source view", s.id)
            continue
        docs[s.id] = SourceDoc(id=s.id, title=info.title, path=info.path, text=s.text, url=info.url,
                                    links=tuple(info.links), provenance=s.provenance)
    return docs


class LiveDocs:
    """The source texts of the build the searcher answers from now: read again whenever a new build is
    swapped in (qa/live.py), so the source view never highlights a superseded text."""

    def __init__(self, searcher, corpus_dir):
        self._searcher, self._corpus_dir = searcher, corpus_dir
        self._index, self._docs = None, {}

    def get(self, source_id: str):
        try:
            index = self._searcher.index
            if index is not self._index:
                self._docs, self._index = load_source_docs(self._searcher, self._corpus_dir), index
        except QAError:  # the sources changed and no matching build is installed yet: show none
            return None
        return self._docs.get(source_id)


def _indexed_corpus_dir(searcher) -> Path | None:
    """The folder holding the indexed source files (their paths are relative to where the index was built)."""
    for info in searcher.index.sources.values():
        p = Path(info.path)
        for candidate in ([p] if p.is_absolute() else [Path.cwd() / p, project_dir() / p]):
            if candidate.is_file() and file_sha256(candidate) == info.sha256:
                return candidate.parent
    return None

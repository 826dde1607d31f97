"""A Searcher that follows the live build of the index while the page runs."""

from __future__ import annotations

import os
import sys
import threading
from pathlib import Path

from qa.errors import IndexProblem, IndexStale
from qa.index.layout import build_dir_of
from qa.index.load import load_index, stale_sources
from qa.search import Searcher
from qa.settings import Settings


def _say(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


class LiveSearcher:
    """A Searcher that follows the live build: every request first makes a cheap check (where `current`
    points, and each source file's size and modification time), and when either moved it either swaps to
    the new build, atomically for later requests, or refuses with a one-line IndexStale until the index
    matches the sources again. Without it a long-running page kept quoting its old index after an edit and
    `ipt-qa build`: passages whose `text` no longer equalled `file[start:end]`, with wrong line numbers.

    A request that already holds the old Searcher finishes on it; the next one sees the new build. Any other
    attribute (index, embedder, settings, ...) is that of the Searcher currently in use."""

    def __init__(self, searcher, index_dir: str | os.PathLike, corpus_dir: str | os.PathLike,
                 settings: Settings | None = None):
        self._searcher = searcher
        self._index_dir = Path(index_dir).resolve()
        self._corpus_dir = Path(corpus_dir).resolve()
        self._settings = settings or searcher.settings
        self._lock = threading.Lock()
        self._refusal: Exception | None = None
        self._seen: tuple | None = None  # the first request checks the loaded build against the sources
        self.reloads = 0  # how many times a new build was swapped in (for tests and logs)

    def _signature(self) -> tuple:
        """What changes when a build is installed or a source is edited, read without opening any file:
        the target of `current` and (inode, size, mtime, ctime) of the corpus manifest and every file."""
        link = self._index_dir / "current"
        try:
            target = os.readlink(link)
        except OSError:
            target = None
        stats = []
        try:
            names = sorted(os.listdir(self._corpus_dir))
        except OSError:
            names = []
        for name in names:
            try:
                st = os.stat(self._corpus_dir / name)
            except OSError:
                st = None  # a dangling link, say: its appearance or repair still changes the signature
            stats.append((name, None if st is None else (st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns)))
        return target, tuple(stats)

    def current(self):
        """The Searcher to answer with now, or raise IndexStale (one line) when the index no longer matches
        the sources and no matching build has been installed yet."""
        seen = self._signature()
        if seen != self._seen:
            with self._lock:
                if seen != self._seen:
                    self._refresh()
                    # Taken before the refresh read anything, so a change made meanwhile is seen next time.
                    self._seen = seen
        if self._refusal is not None:
            raise self._refusal
        return self._searcher

    def _refresh(self) -> None:
        old = self._searcher
        try:
            target = build_dir_of(self._index_dir)
        except (OSError, RuntimeError):
            target = None
        if target is not None and target != old.index.directory:
            try:
                # Checks the new build's files and that it was built from the sources as they are now.
                index = load_index(self._index_dir, self._corpus_dir, settings=self._settings,
                                   model_sha256=old.embedder.weights_sha256, build_dir=target)
            except IndexProblem:
                pass  # e.g. the sources were edited again after that build: judged below like the old one
            else:
                self._searcher = Searcher(index, old.embedder, self._settings)
                self._refusal = None
                self.reloads += 1
                _say(f"index: now answering from {index.directory} (a new build)")
                return
        stale = stale_sources(old.index.manifest, self._corpus_dir)
        if not stale:
            self._refusal = None  # only touched, or edited and put back
            return
        self._refusal = IndexStale(
            f"the sources changed since the index in use was built ({'; '.join(stale)}); run `ipt-qa build`: "
            "the page answers again as soon as the new build is installed, no restart needed")

    def ask(self, *args, **kwargs):
        return self.current().ask(*args, **kwargs)

    def ask_many(self, *args, **kwargs):
        return self.current().ask_many(*args, **kwargs)

    def __getattr__(self, name: str):
        if name.startswith("_"):
            raise AttributeError(name)
        return getattr(self.current(), name)

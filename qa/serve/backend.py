"""The boundary between the callers of the search (CLI, page, HTTP routes) and the engine behind it.

`SearchBackend` is everything those callers need: answer questions as `Answer` records, name the sources,
and say whether the backend is fit to answer right now. Today the only implementation is `LocalBackend`: the
in-process FAISS + bm25s `Searcher` over an index directory, which every replica loads whole. Past the corpus
size where that stops being the right tool (docs/scaling.md: memory per replica and build time grow with the
corpus), the replacement is an existing engine running BM25 and kNN in one hybrid query (OpenSearch's
`hybrid` query with a min-max normalisation + weighted arithmetic-mean search pipeline is this project's
convex fusion), wrapped in a class with these same methods. Nothing above this boundary changes then; no
home-made distributed layer goes below it.
"""

from __future__ import annotations

import hashlib
import json
import os
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol, runtime_checkable

from qa.index.layout import MANIFEST
from qa.index.load import stale_sources
from qa.ingest.corpus import MANIFEST_NAME
from qa.records import Answer


@dataclass(frozen=True)
class Readiness:
    """Whether a backend can answer now; `reason` is one line saying why not."""

    ready: bool
    reason: str | None = None
    build: str | None = None  # the id of the index build being served
    info: dict | None = None

    def to_dict(self) -> dict:
        out = {"status": "ready" if self.ready else "not ready", "build": self.build}
        if self.reason:
            out["reason"] = self.reason
        return {**out, **(self.info or {})}


@runtime_checkable
class SearchBackend(Protocol):
    """What the CLI, the page and the HTTP routes ask of a search engine (see the module docstring)."""

    def ask(self, question: str, k: int = 5, mode: str = "hybrid", sources: list[str] | None = None) -> Answer:
        """One question answered with cited passages; raises a QAError the caller can show in one line."""

    def ask_many(self, questions: list[str], k: int = 5, mode: str = "hybrid",
                 sources: list[str] | None = None) -> list[Answer]:
        """Several questions at once (one model call), in order."""

    def source_ids(self) -> list[str]:
        """The ids of the sources that can be searched."""

    def readiness(self) -> Readiness:
        """Cheap enough to call on every request (well under a millisecond)."""


def _stat_key(path: str) -> tuple | None:
    """What changes when a file is written, replaced or removed, without reading it."""
    try:
        st = os.stat(path)
    except OSError:
        return None
    return (st.st_mtime_ns, st.st_size, st.st_ino)


class LocalBackend:
    """The in-process `Searcher` (FAISS + bm25s over one index build) as a `SearchBackend`.

    Readiness: the index was loaded and verified (hashes) at start, so what remains to check is that the
    files behind it are still the ones verified, and that the corpus is still the one indexed (otherwise
    citations would point at characters that have changed). Hashing per request would cost milliseconds
    and grow with the corpus, so each check first compares the files' (mtime, size, inode) with the last
    time, and only re-hashes when one of them moved; a request costs a few dozen stat calls.
    """

    def __init__(self, searcher, corpus_dir: str | os.PathLike):
        self.searcher = searcher
        self.corpus_dir = Path(corpus_dir).resolve()
        self._lock = threading.Lock()
        self._corpus_key: tuple | None = None
        self._corpus_problem: str | None = None
        self._index_key: tuple | None = None
        self._index_problem: str | None = None
        self.rechecks = 0  # how many times files were actually re-read (for tests of the cache)
        # The files to watch are those of the build being served, which a LiveSearcher changes when a new
        # build is installed: they are worked out again, and the verdicts dropped, whenever it does.
        self._index = None
        self._corpus_paths: list[str] = []
        self._index_paths: list[str] = []

    # -- answering: delegated ----------------------------------------------------------------------------

    def ask(self, question: str, k: int = 5, mode: str = "hybrid", sources: list[str] | None = None) -> Answer:
        return self.searcher.ask(question, k=k, mode=mode, sources=sources)

    def ask_many(self, questions: list[str], k: int = 5, mode: str = "hybrid",
                 sources: list[str] | None = None) -> list[Answer]:
        return self.searcher.ask_many(questions, k=k, mode=mode, sources=sources)

    def source_ids(self) -> list[str]:
        return list(self._served()[0].index.sources)

    # -- readiness ---------------------------------------------------------------------------------------

    def _served(self):
        """(Searcher answering now, refusal or None, note or None). A LiveSearcher says it without raising
        (it judges the corpus against the build it serves itself); a plain Searcher is always served."""
        served = getattr(self.searcher, "served", None)
        if served is None:
            return self.searcher, None, None
        s = served()
        return s.searcher, s.refusal, s.note

    @property
    def build_id(self) -> str:
        return self._served()[0].index.directory.name

    def _corpus_files(self, index) -> list[Path]:
        files = [self.corpus_dir, self.corpus_dir / MANIFEST_NAME]  # the folder: files added or renamed
        files += [self.corpus_dir / s["file"] for s in index.manifest.get("sources", [])]
        return files

    @staticmethod
    def _index_files(index) -> list[Path]:
        d = index.directory
        return [d / MANIFEST, *(d / name for name in index.manifest.get("files", {}))]

    def _check_corpus(self, index) -> str | None:
        stale = stale_sources(index.manifest, self.corpus_dir)
        if stale:
            return (f"the corpus changed since build {index.directory.name} ({'; '.join(stale)}); run "
                    "`ipt-qa build` and restart this replica")
        return None

    @staticmethod
    def _check_index(index) -> str | None:
        d, build = index.directory, index.directory.name
        if not d.is_dir():
            return f"the index build {build} being served was removed from disk; restart this replica"
        try:
            manifest_bytes = (d / MANIFEST).read_bytes()
        except OSError:
            return f"{d / MANIFEST}: missing; run `ipt-qa build --full` and restart this replica"
        try:
            same = json.loads(manifest_bytes.decode("utf-8")) == index.manifest
        except ValueError:
            same = False
        if not same:
            return f"{d / MANIFEST}: changed since it was loaded; run `ipt-qa build --full` and restart this replica"
        for name, digest in index.manifest.get("files", {}).items():
            try:
                blob = (d / name).read_bytes()
            except OSError:
                return f"{d / name}: missing; run `ipt-qa build --full` and restart this replica"
            if hashlib.sha256(blob).hexdigest() != digest:
                return (f"{d / name}: damaged (SHA-256 differs from the manifest); run `ipt-qa build --full` "
                        "and restart this replica")
        return None

    def readiness(self) -> Readiness:
        searcher, refusal, note = self._served()
        index = searcher.index
        live = hasattr(self.searcher, "served")
        with self._lock:
            if index is not self._index:  # a new build is served: watch its files, forget old verdicts
                self._index = index
                self._corpus_paths = [str(p) for p in self._corpus_files(index)]
                self._index_paths = [str(p) for p in self._index_files(index)]
                self._corpus_key = self._index_key = None
            corpus_key = tuple(map(_stat_key, self._corpus_paths))
            index_key = tuple(map(_stat_key, self._index_paths))
            # Only a plain Searcher needs the corpus judged here; a LiveSearcher did it (refusal, note).
            if not live and corpus_key != self._corpus_key:
                self.rechecks += 1
                try:
                    self._corpus_problem = self._check_corpus(index)
                except Exception as e:  # noqa: BLE001 - an unreadable corpus is a reason, not a crash
                    self._corpus_problem = f"the corpus cannot be read ({e})"
                self._corpus_key = corpus_key
            if index_key != self._index_key:
                self.rechecks += 1
                self._index_problem = self._check_index(index)
                self._index_key = index_key
            problem = self._index_problem or refusal or (None if live else self._corpus_problem)
        info = {"passages": len(index), "sources": len(index.sources), **({"note": note} if note else {})}
        return Readiness(problem is None, problem, index.directory.name, info)

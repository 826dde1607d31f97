"""Open a ready-to-use searcher (`open_searcher`, the public entry point `from qa import open_searcher`): load
the index, building it first when missing or stale, and follow later builds while it runs (LiveSearcher)."""

from __future__ import annotations

import os
import sys
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from qa.errors import CorpusError, IndexMissing, IndexProblem, IndexStale
from qa.index.build import build_index
from qa.index.embed import Embedder
from qa.index.layout import build_dir_of
from qa.index.load import LoadedIndex, load_index, stale_sources
from qa.ingest.corpus import corpus_fingerprint, read_manifest
from qa.paths import default_corpus, default_index
from qa.records import Answer
from qa.search import Searcher
from qa.settings import Settings


def say(msg: str) -> None:
    """One status line on standard error (the server's log), at once."""
    print(msg, file=sys.stderr, flush=True)


def unchanged_sources(manifest: dict, corpus_dir: Path) -> set[str] | None:
    """The ids of the build's sources whose file is still, byte for byte, the one indexed under the same
    name (their passages still quote the file exactly); None when the corpus manifest cannot be read."""
    try:
        now = corpus_fingerprint(corpus_dir)
        files_now = {e["id"]: e["file"] for e in read_manifest(corpus_dir)}
    except CorpusError:
        return None
    then = manifest.get("corpus", {})
    return {s["id"] for s in manifest.get("sources", [])
            if now.get(s["id"]) not in (None, "missing") and now.get(s["id"]) == then.get(s["id"])
            and files_now.get(s["id"]) == s.get("file")}


@dataclass(frozen=True)
class Served:
    """What a LiveSearcher answers from right now: the Searcher; `refusal`, one line, when it cannot answer
    at all; `only`, the sources still exact while others were edited after the build, and `note` saying so."""

    searcher: Searcher
    refusal: str | None = None
    only: frozenset[str] | None = None
    note: str | None = None


class LiveSearcher:
    """A Searcher that follows the live build: every request first makes a cheap check (where `current`
    points, and each source file's size and modification time), and when either moved it swaps to the new
    build, atomically for later requests. Without it a long-running page kept quoting its old index after an
    edit and `ipt-qa build`: passages whose `text` no longer equalled `file[start:end]`, with wrong lines.

    Between an edit and the build that follows it (the documented workflow: edit, then `ipt-qa build`), the
    old build keeps answering from the sources that did not change, with a warning naming the ones left out:
    every passage still quotes its file exactly, and a deployment of replicas keeps serving instead of all of
    them refusing at once. Only when no indexed source is left unchanged (or the corpus manifest cannot be
    read, or the caller chose only edited sources) is the question refused, with a one-line IndexStale.

    A request that already holds the old Searcher finishes on it; the next one sees the new build. `index`,
    `embedder` and `settings` are those of the Searcher in use; `current()` is that Searcher itself."""

    def __init__(self, searcher: Searcher, index_dir: str | os.PathLike, corpus_dir: str | os.PathLike,
                 settings: Settings | None = None):
        self._index_dir = Path(index_dir).resolve()
        self._corpus_dir = Path(corpus_dir).resolve()
        self._settings = settings or searcher.settings
        self._lock = threading.Lock()
        self._served = Served(searcher)
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

    def served(self) -> Served:
        """What to answer from now (never raises: a refusal is a field)."""
        seen = self._signature()
        if seen != self._seen:
            with self._lock:
                if seen != self._seen:
                    self._served = self._refresh(self._served.searcher)
                    # Taken before the refresh read anything, so a change made meanwhile is seen next time.
                    self._seen = seen
        return self._served

    def current(self) -> Searcher:
        """The Searcher to answer with now, or raise IndexStale (one line) when it cannot answer at all."""
        s = self.served()
        if s.refusal is not None:
            # A new exception each time: re-raising one instance grew its traceback by a frame per request
            # (5,782 lines in the log at the 500th).
            raise IndexStale(s.refusal)
        return s.searcher

    def _refresh(self, old: Searcher) -> Served:
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
                self.reloads += 1
                say(f"index: now answering from {index.directory} (a new build)")
                return Served(Searcher(index, old.embedder, self._settings))
        stale = stale_sources(old.index.manifest, self._corpus_dir)
        if not stale:
            return Served(old)  # only touched, or edited and put back
        what = "; ".join(stale)
        keep = unchanged_sources(old.index.manifest, self._corpus_dir)
        if not keep:
            return Served(old, refusal=f"the sources changed since the index in use was built ({what}); run "
                                       "`ipt-qa build`: the page answers again as soon as the new build is "
                                       "installed, no restart needed")
        left_out = sorted(set(old.index.sources) - keep)
        note = (f"the sources changed since the index was built ({what}); until `ipt-qa build` installs a new "
                "index, " + (f"{', '.join(left_out)} is left out of the search" if left_out else
                             "only the sources indexed before are searched"))
        return Served(old, only=frozenset(keep), note=note)

    def _prepare(self, sources: list[str] | None) -> tuple[Served, list[str] | None]:
        """What to answer from, and the sources to search: the edited ones left out while a build lags."""
        s = self.served()
        if s.refusal is not None:
            raise IndexStale(s.refusal)
        if s.only is None:
            return s, sources
        known = s.searcher.index.sources
        # An unknown id is kept, so that the Searcher names it as it always does.
        chosen = [x for x in (sources or known) if x in s.only or x not in known]
        if not chosen:
            raise IndexStale(f"the source(s) chosen were edited since the index was built: {s.note}")
        return s, chosen

    @staticmethod
    def _noted(s: Served, answers: list) -> list:
        for a in answers if s.note else ():
            a.warnings = [*a.warnings, s.note]
        return answers

    def ask(self, question: str, k: int = 5, mode: str = "hybrid", sources: list[str] | None = None) -> Answer:
        """As Searcher.ask, on the build in use (see the class)."""
        s, chosen = self._prepare(sources)
        return self._noted(s, [s.searcher.ask(question, k=k, mode=mode, sources=chosen)])[0]

    def ask_many(self, questions: list[str], k: int = 5, mode: str = "hybrid",
                 sources: list[str] | None = None) -> list[Answer]:
        """As Searcher.ask_many, on the build in use (see the class)."""
        s, chosen = self._prepare(sources)
        return self._noted(s, s.searcher.ask_many(questions, k=k, mode=mode, sources=chosen))

    @property
    def index(self) -> LoadedIndex:
        return self.served().searcher.index

    @property
    def embedder(self) -> Embedder:
        return self.served().searcher.embedder

    @property
    def settings(self) -> Settings:
        return self.served().searcher.settings


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
    The searcher returned follows later builds and edits of the sources (LiveSearcher)."""
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

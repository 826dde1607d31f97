"""Build, save and load the index: FAISS (dense) + bm25s (keyword) + passages, as plain files.

Layout of an index directory:

    <index>/current -> builds/<build id>      symlink, swapped atomically when a build is complete
    <index>/builds/<build id>/manifest.json   format version, model id + weights hash, settings,
                                              source hashes, SHA-256 of every other file
                                passages.jsonl one passage per line (offsets, section, sentences, hashes)
                                dense.faiss    FAISS index of passage vectors (inner product)
                                vectors.npy    the same passage vectors, reused by incremental builds
                                sentences.npy  sentence vectors, for highlighting and grouping
                                bm25/          bm25s arrays (.npy) and vocabulary (.json)
    <index>/.lock                              held while a build runs

Nothing is ever pickled. A build writes everything into `builds/.<id>.tmp`, renames it to `builds/<id>`,
loads it back to verify it (file hashes, passage counts of FAISS and BM25), then points `current` at it by
renaming a fresh symlink over the old one (os.replace, atomic on POSIX). A crash or `kill -9` at any point
leaves `current` on the previous, complete build; the next build deletes whatever a crashed one left.
The build that `current` replaced is kept one round longer, so a process that resolved `current` just
before the swap can still read it.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import os
import shutil
import sys
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from qa.ingest.corpus import display_path, corpus_fingerprint, read_corpus, read_manifest
from qa.index.embed import Embedder
from qa.errors import CorpusError, IndexCorrupt, IndexMissing, IndexProblem, IndexStale
from qa.ingest.passages import ListLeadIns, Passage, segment, sentence_contexts
from qa.settings import ANN_THRESHOLD, HNSW_EF_SEARCH, INDEX_FORMAT_VERSION, Settings
from qa.ingest.text import analyze

CURRENT = "current"
BUILDS = "builds"
MANIFEST = "manifest.json"
# Files every build has (besides bm25/*); a manifest that does not list one of them is damaged.
REQUIRED_FILES = ("passages.jsonl", "vectors.npy", "sentences.npy", "sentence_offsets.npy", "dense.faiss")
EMBED_BATCH = 64
# A source at least this long gets a line in the build's log (at a terminal every source gets a bar).
LONG_SOURCE_CHARS = 1_000_000
LONG_EMBEDDING = 20_000  # ... and so does an embedding step of at least this many texts (minutes of work)
# From this many passages on, the dense index is HNSW instead of exact (qa/settings.py, shared with the search).
HNSW_THRESHOLD = ANN_THRESHOLD


@dataclass
class SourceInfo:
    id: str
    title: str
    path: str  # as printed in citations
    url: str
    links: list[str]
    sha256: str


@dataclass
class LoadedIndex:
    directory: Path  # the build directory actually read
    manifest: dict
    passages: list[Passage]
    sources: dict[str, SourceInfo]
    faiss_index: object
    bm25: object
    vectors: np.ndarray  # passage vectors, row i = passages[i]
    sentence_vectors: np.ndarray
    sentence_offsets: np.ndarray  # passage i's sentences are rows sentence_offsets[i]:sentence_offsets[i+1]
    vocabulary: set[str] = field(default_factory=set)  # surface words of the corpus, for spelling repair

    def __len__(self) -> int:
        return len(self.passages)


@dataclass
class BuildReport:
    directory: Path
    sources_added: list[str]
    sources_edited: list[str]
    sources_removed: list[str]
    sources_unchanged: list[str]
    passages_total: int
    passages_added: int
    passages_removed: int
    embedded: int  # passages + sentences embedded anew
    reused: int  # vectors taken from the previous index
    seconds: float
    full: bool

    def summary(self) -> str:
        def names(xs):
            return f" ({', '.join(xs)})" if xs else ""

        return "\n".join([
            f"sources: {len(self.sources_added)} added{names(self.sources_added)}, "
            f"{len(self.sources_edited)} edited{names(self.sources_edited)}, "
            f"{len(self.sources_removed)} removed{names(self.sources_removed)}, "
            f"{len(self.sources_unchanged)} unchanged",
            f"passages: {self.passages_total} in all, {self.passages_added} added, {self.passages_removed} removed",
            f"embeddings: {self.embedded} computed, {self.reused} reused"
            + (" (--full: nothing reused)" if self.full else ""),
            f"index written to {self.directory} in {self.seconds:.1f} s",
        ])


# ---------------------------------------------------------------------------------------------------------
# helpers


def _sha256_bytes(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _vector_key(model_id: str, text: str) -> str:
    """Cache key of an embedding: the model and the exact text embedded (context included)."""
    return hashlib.sha256(f"{model_id}\0{text}".encode("utf-8")).hexdigest()


SIGNATURE = "manifest_sha256"


def _manifest_digest(manifest: dict) -> str:
    body = {k: v for k, v in manifest.items() if k != SIGNATURE}
    return _sha256_bytes(json.dumps(body, sort_keys=True, ensure_ascii=False).encode("utf-8"))


def sign_manifest(manifest: dict) -> dict:
    """The manifest with the SHA-256 of its own content (canonical JSON, this field left out) added. Every other
    index file has its hash in the manifest; this one had none, so an edit to it (two sources' files swapped,
    `"model": null`, a source dropped) gave tracebacks or silently wrong citations."""
    return {**manifest, SIGNATURE: _manifest_digest(manifest)}


def _fsync_dir(path: Path) -> None:
    """Make a directory's entries (new files, renames) durable, not only the files' contents."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _write(path: Path, data: bytes) -> None:
    """Write one index file durably. (Tests replace it to simulate a full disk.)"""
    with open(path, "wb") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())


def _npy_bytes(arr: np.ndarray) -> bytes:
    import io

    buf = io.BytesIO()
    np.save(buf, arr, allow_pickle=False)
    return buf.getvalue()


def _npy_load(data: bytes, name: str) -> np.ndarray:
    import io

    try:
        return np.load(io.BytesIO(data), allow_pickle=False)
    except Exception as e:  # noqa: BLE001 - any parse failure means a damaged file
        raise IndexCorrupt(f"{name}: unreadable ({e}); {REBUILD_FULL_HINT}") from None


def build_dir_of(index_dir: Path) -> Path | None:
    """The build directory that `current` points to (which may be missing), or None if there is no link.
    A `current` that is no link (a directory) or a link loop raises IndexCorrupt, which `build` repairs."""
    link = index_dir / CURRENT
    if not link.is_symlink() and not link.exists():
        return None
    if not link.is_symlink():
        raise IndexCorrupt(f"{link}: a directory, not the link to a build; {REBUILD_FULL_HINT}")
    try:
        return link.resolve(strict=False)
    except (OSError, RuntimeError):  # a link loop, e.g. current -> current
        raise IndexCorrupt(f"{link}: a link that loops; {REBUILD_FULL_HINT}") from None


def _checkpoint(step: str) -> None:
    """A no-op called at each step of a build, so that tests can stop, fail or SIGKILL a build at a known
    point (tests/build_child.py replaces it). Steps: "embedding" (after each batch), "writing" (after each
    file), "written" (build directory complete, not yet verified), "swapping" (verified, just before
    `current` is replaced), "swapped" (installed, before old builds are pruned)."""


@contextlib.contextmanager
def build_lock(index_dir: Path):
    """Hold the index directory's build lock (waiting, and saying so, while another build holds it)."""
    index_dir.mkdir(parents=True, exist_ok=True)
    with open(index_dir / ".lock", "w") as f:
        try:
            fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            print(f"waiting for another build of {index_dir} to finish ...", file=sys.stderr)
            fcntl.flock(f, fcntl.LOCK_EX)
        yield


# ---------------------------------------------------------------------------------------------------------
# build


def _bm25_files(tokens: list[list[str]]) -> dict[str, bytes]:
    """Index keyword tokens with bm25s and return its saved files (name -> bytes)."""
    import tempfile

    import bm25s

    retriever = bm25s.BM25(k1=1.2, b=0.75)
    # bm25s rejects an empty document; an all-stop-word passage gets a placeholder token matching nothing.
    retriever.index([t or ["\x00empty"] for t in tokens], show_progress=False)
    with tempfile.TemporaryDirectory() as tmp:
        retriever.save(tmp, allow_pickle=False)
        return {f"bm25/{p.name}": p.read_bytes() for p in sorted(Path(tmp).iterdir()) if p.is_file()}


def _faiss_bytes(vectors: np.ndarray) -> bytes:
    import faiss

    dim = vectors.shape[1]
    if len(vectors) >= HNSW_THRESHOLD:
        index = faiss.IndexHNSWFlat(dim, 32, faiss.METRIC_INNER_PRODUCT)
        index.hnsw.efConstruction = 80
        index.hnsw.efSearch = HNSW_EF_SEARCH
    else:
        index = faiss.IndexFlatIP(dim)
    if len(vectors):
        index.add(vectors)
    return faiss.serialize_index(index).tobytes()


def _load_previous(index_dir: Path) -> LoadedIndex | None:
    """The index `current` points to, if it is intact (any model, any settings), else None."""
    try:
        return load_index(index_dir, check_corpus=False, check_settings=False)
    except Exception:  # noqa: BLE001 - a missing or broken old index simply means nothing to reuse
        return None


def _reusable_vectors(previous: LoadedIndex | None, embedder: Embedder) -> dict[str, np.ndarray]:
    """Vectors of the previous index keyed by `_vector_key`, when they come from this very model."""
    if previous is None:
        return {}
    model = previous.manifest.get("model", {})
    if model.get("id") != embedder.model_id or model.get("weights_sha256") != embedder.weights_sha256 \
            or previous.vectors.shape[1:] != (embedder.dim,):
        return {}
    keys = previous.manifest.get("vector_keys", {})
    passage_keys, sentence_keys = keys.get("passages", []), keys.get("sentences", [])
    if len(passage_keys) != len(previous.vectors) or len(sentence_keys) != len(previous.sentence_vectors):
        return {}  # keys that do not line up with the rows would hand out wrong vectors
    cache = dict(zip(passage_keys, previous.vectors))
    cache.update(zip(sentence_keys, previous.sentence_vectors))
    return cache


def _progress(total: int, desc: str, unit: str = "text"):
    from tqdm import tqdm

    # A bar for people at a terminal; nothing in logs or pipes.
    return tqdm(total=total, desc=desc, unit=unit, unit_scale=unit == "char", disable=not sys.stderr.isatty(),
                leave=False)


def _segment_with_progress(src, settings: Settings) -> list[Passage]:
    """segment(), with a bar at a terminal and, in logs, one line for a source long enough to take a while."""
    if len(src.text) >= LONG_SOURCE_CHARS and not sys.stderr.isatty():
        print(f"segmenting {src.path.name} ({len(src.text) / 1e6:.1f} million characters) ...", file=sys.stderr,
              flush=True)
    with _progress(len(src.text), f"segmenting {src.path.name}", unit="char") as bar:
        done = 0

        def advance(offset: int) -> None:
            nonlocal done
            bar.update(offset - done)
            done = offset

        return segment(src, settings, progress=advance)


def _embed_missing(embedder: Embedder, texts: list[str], keys: list[str], cache: dict) -> dict[str, np.ndarray]:
    """Embed each distinct text whose key is not in `cache`; returns key -> vector for those only."""
    todo = list({k: i for i, k in enumerate(keys) if k not in cache}.values())
    fresh: dict[str, np.ndarray] = {}
    if len(todo) >= LONG_EMBEDDING and not sys.stderr.isatty():
        print(f"embedding {len(todo):,} texts ...", file=sys.stderr, flush=True)
    if todo:
        with _progress(len(todo), "embedding") as bar:
            for i in range(0, len(todo), EMBED_BATCH):
                chunk = todo[i:i + EMBED_BATCH]
                vecs = embedder.encode([texts[j] for j in chunk])
                for j, v in zip(chunk, vecs):
                    fresh[keys[j]] = v
                bar.update(len(chunk))
                _checkpoint("embedding")
    return fresh


def _source_record(s) -> dict:
    return {"id": s.id, "title": s.title, "file": s.path.name, "path": s.display_path, "url": s.url,
            "links": list(s.links), "sha256": s.sha256}


def _source_signature(record: dict) -> tuple:
    """What makes a source count as edited: its bytes, or manifest fields that the index records."""
    return tuple(json.dumps(record.get(k), sort_keys=True) for k in ("sha256", "title", "file", "url", "links"))


def build_index(
    corpus_dir: str | os.PathLike,
    index_dir: str | os.PathLike,
    embedder: Embedder,
    settings: Settings | None = None,
    *,
    full: bool = False,
    keep_previous: bool = True,
) -> BuildReport:
    """Build the index for `corpus_dir` into `index_dir` and install it atomically; return what changed.

    Embeddings of texts (passage contexts, sentence contexts) that the current index already holds for this
    model are reused unless `full`. The corpus is validated before anything is written (CorpusError); a
    failure to write (full disk, permissions) raises IndexProblem; either way the previous index stays
    installed and nothing of the failed build is left behind. `keep_previous` keeps the replaced build's
    directory until the next build (see the module docstring).
    """
    settings = settings or Settings()
    t0 = time.perf_counter()
    index_dir = Path(index_dir).resolve()
    corpus = read_corpus(corpus_dir)  # validates before anything is written
    sources = corpus.sources
    passages: list[Passage] = []
    for src in sources:
        cut = _segment_with_progress(src, settings)
        if not cut:
            raise CorpusError(f"{src.path}: no passage can be cut from it (is it all sign-up prompts or other "
                              "page chrome?); give it text or remove it and its manifest entry")
        passages += cut
    text_of = {s.id: s.text for s in sources}

    try:
        with build_lock(index_dir):
            previous = _load_previous(index_dir)
            old_manifest = previous.manifest if previous else _read_manifest_quietly(index_dir)
            cache = {} if full else _reusable_vectors(previous, embedder)

            # Everything to embed: each passage's context, then each sentence with its own context.
            texts = [p.context for p in passages]
            lead_ins = {s.id: ListLeadIns(s.text) for s in sources}
            for p in passages:
                texts += sentence_contexts(p, text_of[p.source_id], lead_ins[p.source_id])
            keys = [_vector_key(embedder.model_id, t) for t in texts]
            fresh = _embed_missing(embedder, texts, keys, cache)
            lookup = {**cache, **fresh}
            dim = embedder.dim
            matrix = np.stack([lookup[k] for k in keys]).astype(np.float32)
            vectors, sentence_vectors = matrix[:len(passages)], matrix[len(passages):]
            sentence_offsets = np.cumsum([0] + [len(p.sentences) for p in passages]).astype(np.int64)

            files: dict[str, bytes] = {}
            files["passages.jsonl"] = "".join(_jsonl_line(_passage_record(p)) for p in passages).encode("utf-8")
            files["vectors.npy"] = _npy_bytes(vectors)
            files["sentences.npy"] = _npy_bytes(sentence_vectors)
            files["sentence_offsets.npy"] = _npy_bytes(sentence_offsets)
            files["dense.faiss"] = _faiss_bytes(vectors)
            files.update(_bm25_files([analyze(p.context) for p in passages]))
            manifest = {
                "format_version": INDEX_FORMAT_VERSION,
                "built_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
                "model": {"id": embedder.model_id, "weights_sha256": embedder.weights_sha256, "dim": dim},
                "settings": settings.index_params(),
                "dense_index": "hnsw" if len(passages) >= HNSW_THRESHOLD else "flat",
                "counts": {"sources": len(sources), "passages": len(passages), "sentences": len(sentence_vectors)},
                "sources": [_source_record(s) for s in sources],
                "topic": corpus.topic,
                # Of the very bytes segmented above, so an edit made during the build shows up as stale.
                "corpus": corpus.fingerprint,
                "vector_keys": {"passages": keys[:len(passages)], "sentences": keys[len(passages):]},
                "files": {name: _sha256_bytes(data) for name, data in sorted(files.items())},
            }
            files[MANIFEST] = json.dumps(sign_manifest(manifest), indent=1, ensure_ascii=False).encode("utf-8")

            keep = previous.directory if (previous and keep_previous) else None
            final = _install(index_dir, files, settings, len(passages), len(sentence_vectors), keep)
    except OSError as e:
        where = f": {e.filename}" if getattr(e, "filename", None) else ""
        raise IndexProblem(f"{index_dir}: cannot write the index ({e.strerror or e}{where}); the previous index "
                           "is unchanged; free some space or fix the permissions, then run `ipt-qa build` again"
                           ) from None

    old_sources = {s["id"]: _source_signature(s) for s in (old_manifest or {}).get("sources", [])}
    new_sources = {s.id: _source_signature(_source_record(s)) for s in sources}
    new_passages = Counter((p.source_id, p.context) for p in passages)
    if previous is not None:
        old_passages = Counter((p.source_id, p.context) for p in previous.passages)
        added, removed = new_passages - old_passages, old_passages - new_passages
        passages_added, passages_removed = sum(added.values()), sum(removed.values())
    else:  # nothing readable to compare with: all passages are new, all old ones gone
        passages_added = len(passages)
        passages_removed = int((old_manifest or {}).get("counts", {}).get("passages", 0) or 0)
    return BuildReport(
        directory=final,
        sources_added=sorted(set(new_sources) - set(old_sources)),
        sources_edited=sorted(k for k in new_sources if k in old_sources and old_sources[k] != new_sources[k]),
        sources_removed=sorted(set(old_sources) - set(new_sources)),
        sources_unchanged=sorted(k for k in new_sources if old_sources.get(k) == new_sources[k]),
        passages_total=len(passages),
        passages_added=passages_added,
        passages_removed=passages_removed,
        embedded=len(fresh),
        reused=len(set(keys) - set(fresh)),
        seconds=time.perf_counter() - t0,
        full=full,
    )


def _install(index_dir: Path, files: dict[str, bytes], settings: Settings, n_passages: int, n_sentences: int,
             keep: Path | None) -> Path:
    """Write `files` into a new build directory, verify it, and make it `current`; returns its path.

    Until the os.replace that swaps `current`, any failure (or interruption) removes everything this build
    wrote and re-raises; after it, the build is installed and only the clean-up of old builds remains.
    """
    builds = index_dir / BUILDS
    build_id = time.strftime("%Y%m%dT%H%M%S", time.gmtime()) + "-" + uuid.uuid4().hex[:8]
    # Dot names: `_prune` knows them for leftovers of a crash, and nothing else takes them for builds.
    tmp = builds / f".{build_id}.tmp"
    final = builds / build_id
    link_tmp = index_dir / f".{CURRENT}.{build_id}"
    try:
        builds.mkdir(parents=True, exist_ok=True)
        tmp.mkdir()
        dirs = [tmp]
        for name, data in files.items():
            path = tmp / name
            if path.parent not in dirs:
                path.parent.mkdir(parents=True, exist_ok=True)
                dirs.append(path.parent)
            _write(path, data)
            _checkpoint("writing")
        for d in dirs:
            _fsync_dir(d)
        os.rename(tmp, final)
        _fsync_dir(builds)
        _checkpoint("written")
        _verify(index_dir, final, settings, n_passages, n_sentences)
        os.symlink(Path(BUILDS) / build_id, link_tmp)  # relative, so the index directory can be moved
        _checkpoint("swapping")
        _clear_non_link_current(index_dir / CURRENT)
        os.replace(link_tmp, index_dir / CURRENT)
    except BaseException:
        # Also on KeyboardInterrupt: a half build must not linger (the next build would delete it anyway).
        shutil.rmtree(tmp, ignore_errors=True)
        shutil.rmtree(final, ignore_errors=True)
        with contextlib.suppress(OSError):
            link_tmp.unlink(missing_ok=True)
        raise
    _checkpoint("swapped")
    # The new build is installed: what follows may fail without that being the build's failure.
    with contextlib.suppress(OSError):
        _fsync_dir(index_dir)  # at worst a power cut undoes the swap, and the previous build is still there
    with contextlib.suppress(OSError):
        _prune(index_dir, keep={final.name} | ({keep.name} if keep else set()))  # the next build retries
    return final


def _clear_non_link_current(current: Path) -> None:
    """`current` is ours and always a link; an empty directory in its place (which os.replace cannot replace
    with a link) is removed. A directory with files in it is not deleted: the message says to move it."""
    if current.is_dir() and not current.is_symlink():
        try:
            current.rmdir()
        except OSError:
            raise IndexProblem(f"{current}: a directory with files in it where the link to the live build "
                               "belongs; move it out of the index folder, then run `ipt-qa build` again") from None


def _verify(index_dir: Path, build_dir: Path, settings: Settings, n_passages: int, n_sentences: int) -> None:
    """Read a finished build back as a loader would, before anyone is pointed at it."""
    try:
        check = load_index(index_dir, settings=settings, check_corpus=False, build_dir=build_dir)
    except IndexProblem as e:
        raise IndexCorrupt(f"{build_dir}: the new build does not read back ({e}); not installed, the previous "
                           "index is unchanged") from None
    counts = (len(check.passages), check.faiss_index.ntotal, check.bm25.scores["num_docs"], len(check.vectors))
    if set(counts) != {n_passages} or len(check.sentence_vectors) != n_sentences:
        raise IndexCorrupt(f"{build_dir}: verification failed (passages, FAISS, BM25, vectors: {counts}; expected "
                           f"{n_passages}); not installed, the previous index is unchanged")


# Characters that str.splitlines() (and some JSON Lines readers) take for line ends, which json.dumps with
# ensure_ascii=False leaves raw inside strings: a source holding one gave a passages.jsonl that did not read back.
_LINE_BREAKS_IN_STRINGS = {"\u2028": "\\u2028", "\u2029": "\\u2029", "\x85": "\\u0085"}


def _jsonl_line(record: dict) -> str:
    """One JSON Lines record whose only line break is the final "\\n" (JSON escapes are the same text)."""
    line = json.dumps(record, ensure_ascii=False)
    for raw, escaped in _LINE_BREAKS_IN_STRINGS.items():
        line = line.replace(raw, escaped)
    return line + "\n"


def _passage_record(p: Passage) -> dict:
    return {"id": p.id, "source_id": p.source_id, "start": p.start, "end": p.end,
            "line_start": p.line_start, "line_end": p.line_end, "section": p.section,
            "heading_end": p.heading_end, "sentences": [list(s) for s in p.sentences],
            "text": p.text, "context": p.context}


def _prune(index_dir: Path, keep: set[str]) -> None:
    """Remove every build not named in `keep`, and leftovers of crashed builds (temp dirs and links).

    Runs under the build lock, so no other build is writing; best effort, as what remains is harmless.
    """
    for entry in (index_dir / BUILDS).iterdir():
        if entry.name in keep:
            continue
        if entry.is_dir() and not entry.is_symlink():
            shutil.rmtree(entry, ignore_errors=True)
        else:
            with contextlib.suppress(OSError):
                entry.unlink()
    for entry in index_dir.glob(f".{CURRENT}.*"):
        with contextlib.suppress(OSError):
            entry.unlink()


def _read_manifest_quietly(index_dir: Path) -> dict | None:
    try:
        d = build_dir_of(index_dir)
        return json.loads((d / MANIFEST).read_text(encoding="utf-8")) if d else None
    except (OSError, ValueError):  # IndexCorrupt is a ValueError too
        return None


# ---------------------------------------------------------------------------------------------------------
# load

REBUILD_HINT = "run `ipt-qa build` to rebuild it"
REBUILD_FULL_HINT = "run `ipt-qa build --full` to rebuild it"


def load_index(
    index_dir: str | os.PathLike,
    corpus_dir: str | os.PathLike | None = None,
    *,
    settings: Settings | None = None,
    model_sha256: str | None = None,
    check_corpus: bool = True,
    check_settings: bool = True,
    build_dir: Path | None = None,
) -> LoadedIndex:
    """Load and verify an index; raise IndexMissing / IndexCorrupt / IndexStale with a message that says what to do.

    Checks, in order: the manifest and its format version; every file's SHA-256 (before any parser sees
    it); the segmentation settings; the embedding weights (when `model_sha256` is given); the corpus on
    disk against the one indexed (when `check_corpus`); and that all parts agree on the passage count.
    `build_dir` reads that build instead of the one `current` points to (used to verify a new build).
    """
    index_dir = Path(index_dir).resolve()
    kwargs = dict(settings=settings, model_sha256=model_sha256, check_corpus=check_corpus,
                  check_settings=check_settings)
    if build_dir is not None:
        return _load_build(index_dir, corpus_dir, build_dir, **kwargs)
    d = build_dir_of(index_dir)
    try:
        return _load_build(index_dir, corpus_dir, d, **kwargs)
    except IndexCorrupt:
        # A build being read can be pruned by a concurrent build that installed a newer one meanwhile (seen
        # once in ~700 loads): then `current` has moved on, and reading it once more is the right answer.
        again = build_dir_of(index_dir)
        if again is None or again == d:
            raise
        return _load_build(index_dir, corpus_dir, again, **kwargs)


def _load_build(index_dir: Path, corpus_dir, d: Path | None, *, settings, model_sha256, check_corpus,
                check_settings) -> LoadedIndex:
    """load_index for one build directory `d` (None: no index yet)."""
    import bm25s
    import faiss

    if d is None:
        raise IndexMissing(f"{index_dir}: no index built yet; run `ipt-qa build`")
    if not d.is_dir():
        raise IndexCorrupt(f"{index_dir / CURRENT}: points to {d}, which does not exist; {REBUILD_FULL_HINT}")
    try:
        manifest = json.loads((d / MANIFEST).read_text(encoding="utf-8"))
        if not (isinstance(manifest, dict) and isinstance(manifest.get("files"), dict)
                and isinstance(manifest.get("sources"), list)):
            raise ValueError("not an index manifest")
    except (OSError, ValueError):
        raise IndexCorrupt(f"{d / MANIFEST}: missing or unreadable; {REBUILD_FULL_HINT}") from None
    if manifest.get("format_version") != INDEX_FORMAT_VERSION:
        raise IndexStale(f"{d}: index format {manifest.get('format_version')} is not the supported "
                         f"{INDEX_FORMAT_VERSION}; {REBUILD_FULL_HINT}")
    if manifest.get(SIGNATURE) != _manifest_digest(manifest):
        raise IndexCorrupt(f"{d / MANIFEST}: edited or damaged (its own SHA-256 no longer matches); "
                           f"{REBUILD_FULL_HINT}")
    listed = manifest["files"]
    unlisted = [n for n in REQUIRED_FILES if n not in listed]
    if unlisted or not any(n.startswith("bm25/") for n in listed):
        raise IndexCorrupt(f"{d / MANIFEST}: lists no {', '.join(unlisted) or 'bm25/ files'}; {REBUILD_FULL_HINT}")
    # Every file is read once and checked against the manifest before any parser (FAISS above all, which
    # may crash rather than raise on a damaged file) sees its bytes.
    data: dict[str, bytes] = {}
    for name, digest in listed.items():
        path = d / name
        try:
            blob = path.read_bytes()
        except OSError:
            raise IndexCorrupt(f"{path}: missing; {REBUILD_FULL_HINT}") from None
        if _sha256_bytes(blob) != digest:
            raise IndexCorrupt(f"{path}: damaged (SHA-256 differs from the manifest); {REBUILD_FULL_HINT}")
        data[name] = blob
    if check_settings:
        want = (settings or Settings()).index_params()
        if manifest.get("settings") != want:
            raise IndexStale(f"{d}: built with other segmentation settings ({manifest.get('settings')}); "
                             f"{REBUILD_HINT}")
    if model_sha256 is not None and manifest.get("model", {}).get("weights_sha256") != model_sha256:
        raise IndexStale(f"{d}: built with other embedding weights; {REBUILD_FULL_HINT}")
    if check_corpus:
        if corpus_dir is None:
            raise ValueError("corpus_dir is needed to check the index against the corpus")
        stale = stale_sources(manifest, corpus_dir)
        if stale:
            raise IndexStale(f"the corpus {Path(corpus_dir)} changed since the index was built "
                             f"({'; '.join(stale)}); {REBUILD_HINT}")

    try:
        # Split at "\n" only: a file written before escaping may hold U+2028 etc. inside its strings.
        records = [json.loads(line) for line in data["passages.jsonl"].decode("utf-8").split("\n") if line]
        passages = [Passage(
            id=r["id"], source_id=r["source_id"], start=r["start"], end=r["end"], line_start=r["line_start"],
            line_end=r["line_end"], section=r["section"], text=r["text"], context=r["context"],
            sentences=tuple(tuple(s) for s in r["sentences"]), heading_end=r["heading_end"]) for r in records]
        # Citation paths are computed for this process (the build may have run from another directory).
        base = Path(corpus_dir).resolve() if corpus_dir is not None else None
        sources = {s["id"]: SourceInfo(s["id"], s["title"],
                                       display_path(base / s["file"]) if base else s["path"],
                                       s.get("url", ""), s.get("links", []), s["sha256"])
                   for s in manifest["sources"]}
    except (KeyError, ValueError, TypeError) as e:
        raise IndexCorrupt(f"{d / 'passages.jsonl'}: unreadable ({e}); {REBUILD_FULL_HINT}") from None
    vectors = _npy_load(data["vectors.npy"], str(d / "vectors.npy"))
    sentence_vectors = _npy_load(data["sentences.npy"], str(d / "sentences.npy"))
    sentence_offsets = _npy_load(data["sentence_offsets.npy"], str(d / "sentence_offsets.npy"))
    try:
        fidx = faiss.deserialize_index(np.frombuffer(data["dense.faiss"], dtype=np.uint8))
    except RuntimeError as e:
        raise IndexCorrupt(f"{d / 'dense.faiss'}: unreadable ({e}); {REBUILD_FULL_HINT}") from None
    if hasattr(fidx, "hnsw"):
        fidx.hnsw.efSearch = HNSW_EF_SEARCH  # a build of an older version stored efSearch 128
    try:
        # bm25s reads the files itself; they were hash-checked just above, and a build directory is never
        # written again once installed, so what it reads is what was checked.
        bm25 = bm25s.BM25.load(str(d / "bm25"), load_corpus=False, allow_pickle=False)
    except Exception as e:  # noqa: BLE001 - any parse failure means a damaged file
        raise IndexCorrupt(f"{d / 'bm25'}: unreadable ({e}); {REBUILD_FULL_HINT}") from None
    n = len(passages)
    if fidx.ntotal != n or len(vectors) != n or bm25.scores["num_docs"] != n or len(sentence_offsets) != n + 1 \
            or len(sentence_vectors) != (int(sentence_offsets[-1]) if len(sentence_offsets) else 0) \
            or vectors.ndim != 2 or vectors.shape[1:] != sentence_vectors.shape[1:] or fidx.d != vectors.shape[1]:
        raise IndexCorrupt(f"{d}: the parts of the index disagree on the passage count; {REBUILD_FULL_HINT}")
    from qa.ingest.text import words

    vocab = set()
    for p in passages:
        vocab.update(words(p.context))
    return LoadedIndex(d, manifest, passages, sources, fidx, bm25, vectors, sentence_vectors, sentence_offsets,
                       vocab)


def stale_sources(manifest: dict, corpus_dir: str | os.PathLike) -> list[str]:
    """What differs between the corpus on disk and the one the index was built from, one phrase per change
    naming the file (e.g. "alpha.txt (alpha) edited"); empty when nothing did."""
    try:
        now = corpus_fingerprint(corpus_dir)
        files_now = {e["id"]: e["file"] for e in read_manifest(Path(corpus_dir).resolve())}
    except CorpusError as e:  # an unreadable manifest counts as a change; its message says what is wrong
        return [str(e)]
    then = manifest.get("corpus", {})
    files = {**{s.get("id"): s.get("file") for s in manifest.get("sources", [])}, **files_now}

    def name(key: str) -> str:
        if key.startswith("manifest:"):
            return key.partition(":")[2]
        return f"{files[key]} ({key})" if files.get(key) else key

    out = []
    for key in sorted(set(now) | set(then)):
        if key not in then:
            out.append(f"{name(key)} added")
        elif key not in now:
            out.append(f"{name(key)} removed")
        elif now[key] != then[key]:
            out.append(f"{name(key)} {'missing' if now[key] == 'missing' else 'edited'}")
    return out

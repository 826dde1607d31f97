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

Nothing is ever pickled. A build writes a new `builds/<id>` directory, verifies it, then replaces the
`current` symlink with os.replace (atomic on POSIX): a crash at any point leaves the previous index usable.
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
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .corpus import Source, corpus_fingerprint, file_sha256, load_corpus
from .embed import Embedder
from .errors import IndexCorrupt, IndexMissing, IndexStale
from .passages import Passage, segment
from .settings import INDEX_FORMAT_VERSION, Settings
from .text import analyze

CURRENT = "current"
BUILDS = "builds"
MANIFEST = "manifest.json"
# Above this many passages an exact FAISS search gives way to HNSW (see bench/RESULTS.md for the measurement).
HNSW_THRESHOLD = 50_000


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


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _write(path: Path, data: bytes) -> None:
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
        raise IndexCorrupt(f"{name}: unreadable ({e}); rebuild with `ipt-qa build --full`") from None


def build_dir_of(index_dir: Path) -> Path | None:
    link = index_dir / CURRENT
    if not link.exists():
        return None
    return link.resolve()


@contextlib.contextmanager
def build_lock(index_dir: Path):
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
        index.hnsw.efSearch = 128
    else:
        index = faiss.IndexFlatIP(dim)
    if len(vectors):
        index.add(vectors)
    return faiss.serialize_index(index).tobytes()


def _previous_vectors(index_dir: Path, model_id: str, weights_sha256: str) -> dict[str, np.ndarray]:
    """Vectors of the current index keyed by content hash, or nothing when it cannot be trusted."""
    try:
        old = load_index(index_dir, check_corpus=False, check_settings=False)
    except Exception:  # noqa: BLE001 - a broken old index simply means nothing to reuse
        return {}
    model = old.manifest.get("model", {})
    if model.get("id") != model_id or model.get("weights_sha256") != weights_sha256:
        return {}
    cache = {}
    keys = old.manifest.get("vector_keys", {})
    for key, vec in zip(keys.get("passages", []), old.vectors):
        cache[key] = vec
    for key, vec in zip(keys.get("sentences", []), old.sentence_vectors):
        cache[key] = vec
    return cache


def _progress(total: int, desc: str):
    from tqdm import tqdm

    # A bar for people at a terminal; nothing in logs or pipes.
    return tqdm(total=total, desc=desc, unit="text", disable=not sys.stderr.isatty(), leave=False)


def build_index(
    corpus_dir: str | os.PathLike,
    index_dir: str | os.PathLike,
    embedder: Embedder,
    settings: Settings | None = None,
    *,
    full: bool = False,
    keep_builds: int = 1,
) -> BuildReport:
    """Build the index for `corpus_dir` into `index_dir`, reusing unchanged embeddings unless `full`."""
    settings = settings or Settings()
    t0 = time.perf_counter()
    index_dir = Path(index_dir).resolve()
    sources = load_corpus(corpus_dir)  # validates before anything is written
    passages: list[Passage] = []
    for src in sources:
        passages += segment(src, settings)

    with build_lock(index_dir):
        old_manifest = _read_manifest_quietly(index_dir)
        cache = {} if full else _previous_vectors(index_dir, embedder.model_id, embedder.weights_sha256)

        # Everything to embed: each passage's context, and each sentence on its own.
        texts, owners = [], []
        for p in passages:
            texts.append(p.context)
        sentence_texts = [src_text for p in passages for src_text in _sentence_texts(p, sources)]
        all_texts = texts + sentence_texts
        keys = [_vector_key(embedder.model_id, t) for t in all_texts]
        todo = sorted({k: i for i, k in enumerate(keys) if k not in cache}.values())
        fresh: dict[str, np.ndarray] = {}
        if todo:
            with _progress(len(todo), "embedding") as bar:
                for i in range(0, len(todo), 64):
                    chunk = todo[i:i + 64]
                    vecs = embedder.encode([all_texts[j] for j in chunk])
                    for j, v in zip(chunk, vecs):
                        fresh[keys[j]] = v
                    bar.update(len(chunk))
        lookup = {**cache, **fresh}
        dim = embedder.dim
        matrix = np.stack([lookup[k] for k in keys]).astype(np.float32) if keys else np.zeros((0, dim), np.float32)
        vectors, sentence_vectors = matrix[:len(texts)], matrix[len(texts):]
        sentence_offsets = np.cumsum([0] + [len(p.sentences) for p in passages]).astype(np.int64)

        files: dict[str, bytes] = {}
        files["passages.jsonl"] = "".join(
            json.dumps(_passage_record(p), ensure_ascii=False) + "\n" for p in passages).encode("utf-8")
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
            "sources": [{"id": s.id, "title": s.title, "file": s.path.name, "path": s.display_path,
                         "url": s.url, "links": list(s.links), "sha256": s.sha256} for s in sources],
            "corpus": corpus_fingerprint(corpus_dir),
            "vector_keys": {"passages": keys[:len(texts)], "sentences": keys[len(texts):]},
            "files": {name: _sha256_bytes(data) for name, data in sorted(files.items())},
        }
        files[MANIFEST] = json.dumps(manifest, indent=1, ensure_ascii=False).encode("utf-8")

        builds = index_dir / BUILDS
        builds.mkdir(parents=True, exist_ok=True)
        build_id = time.strftime("%Y%m%dT%H%M%S") + "-" + uuid.uuid4().hex[:8]
        tmp = builds / f".{build_id}.tmp"
        for name, data in files.items():
            (tmp / name).parent.mkdir(parents=True, exist_ok=True)
            _write(tmp / name, data)
        _fsync_dir(tmp)
        final = builds / build_id
        os.rename(tmp, final)
        _fsync_dir(builds)
        # Verify what is on disk before anyone is pointed at it.
        check = load_index(index_dir, corpus_dir, settings=settings, build_dir=final)
        if len(check.passages) != len(passages) or check.faiss_index.ntotal != len(passages) \
                or check.bm25.scores["num_docs"] != len(passages):
            raise IndexCorrupt(f"{final}: verification failed (passage counts differ); build not installed")
        link_tmp = index_dir / f".{CURRENT}.{build_id}"
        os.symlink(Path(BUILDS) / build_id, link_tmp)
        os.replace(link_tmp, index_dir / CURRENT)
        _fsync_dir(index_dir)
        _prune(index_dir, keep=build_id)

    old_sources = {s["id"]: s["sha256"] for s in (old_manifest or {}).get("sources", [])}
    new_sources = {s.id: s.sha256 for s in sources}
    old_keys = set((old_manifest or {}).get("vector_keys", {}).get("passages", []))
    new_keys = set(keys[:len(texts)])
    return BuildReport(
        directory=final,
        sources_added=sorted(set(new_sources) - set(old_sources)),
        sources_edited=sorted(k for k in new_sources if k in old_sources and old_sources[k] != new_sources[k]),
        sources_removed=sorted(set(old_sources) - set(new_sources)),
        sources_unchanged=sorted(k for k in new_sources if old_sources.get(k) == new_sources[k]),
        passages_total=len(passages),
        passages_added=len(new_keys - old_keys),
        passages_removed=len(old_keys - new_keys),
        embedded=len(fresh),
        reused=len(set(keys) - set(fresh)),
        seconds=time.perf_counter() - t0,
        full=full,
    )


def _sentence_texts(p: Passage, sources: list[Source]) -> list[str]:
    from .passages import sentence_contexts

    text = next(s.text for s in sources if s.id == p.source_id)
    return sentence_contexts(p, text)


def _passage_record(p: Passage) -> dict:
    return {"id": p.id, "source_id": p.source_id, "start": p.start, "end": p.end,
            "line_start": p.line_start, "line_end": p.line_end, "section": p.section,
            "heading_end": p.heading_end, "sentences": [list(s) for s in p.sentences],
            "text": p.text, "context": p.context}


def _prune(index_dir: Path, keep: str) -> None:
    """Remove builds other than the current one, and leftovers of crashed builds."""
    for entry in (index_dir / BUILDS).iterdir():
        if entry.name != keep:
            shutil.rmtree(entry, ignore_errors=True)
    for entry in index_dir.glob(f".{CURRENT}.*"):
        entry.unlink(missing_ok=True)


def _read_manifest_quietly(index_dir: Path) -> dict | None:
    try:
        d = build_dir_of(index_dir)
        return json.loads((d / MANIFEST).read_text(encoding="utf-8")) if d else None
    except (OSError, ValueError):
        return None


# ---------------------------------------------------------------------------------------------------------
# load

REBUILD_HINT = "run `ipt-qa build` to rebuild it"


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
    """Load and verify an index; raise IndexMissing / IndexCorrupt / IndexStale with a message that says what to do."""
    import bm25s
    import faiss

    index_dir = Path(index_dir).resolve()
    d = build_dir or build_dir_of(index_dir)
    if d is None or not d.is_dir():
        raise IndexMissing(f"{index_dir}: no index built yet; run `ipt-qa build`")
    try:
        manifest = json.loads((d / MANIFEST).read_text(encoding="utf-8"))
        assert isinstance(manifest, dict) and isinstance(manifest.get("files"), dict)
    except (OSError, ValueError, AssertionError):
        raise IndexCorrupt(f"{d / MANIFEST}: missing or unreadable; {REBUILD_HINT} --full") from None
    if manifest.get("format_version") != INDEX_FORMAT_VERSION:
        raise IndexStale(f"{d}: index format {manifest.get('format_version')} is not the supported "
                         f"{INDEX_FORMAT_VERSION}; {REBUILD_HINT} --full")
    # Every file is read once and checked against the manifest before any parser (FAISS above all, which
    # may crash rather than raise on a damaged file) sees its bytes.
    data: dict[str, bytes] = {}
    for name, digest in manifest["files"].items():
        path = d / name
        try:
            blob = path.read_bytes()
        except OSError:
            raise IndexCorrupt(f"{path}: missing; {REBUILD_HINT} --full") from None
        if _sha256_bytes(blob) != digest:
            raise IndexCorrupt(f"{path}: damaged (SHA-256 differs from the manifest); {REBUILD_HINT} --full")
        data[name] = blob
    if check_settings:
        want = (settings or Settings()).index_params()
        if manifest.get("settings") != want:
            raise IndexStale(f"{d}: built with other segmentation settings ({manifest.get('settings')}); "
                             f"{REBUILD_HINT}")
    if model_sha256 is not None and manifest.get("model", {}).get("weights_sha256") != model_sha256:
        raise IndexStale(f"{d}: built with other embedding weights; {REBUILD_HINT} --full")
    if check_corpus:
        if corpus_dir is None:
            raise ValueError("corpus_dir is needed to check the index against the corpus")
        stale = stale_sources(manifest, corpus_dir)
        if stale:
            raise IndexStale(f"the corpus changed since the index was built ({', '.join(stale)}); {REBUILD_HINT}")

    try:
        records = [json.loads(line) for line in data["passages.jsonl"].decode("utf-8").splitlines() if line]
        passages = [Passage(
            id=r["id"], source_id=r["source_id"], start=r["start"], end=r["end"], line_start=r["line_start"],
            line_end=r["line_end"], section=r["section"], text=r["text"], context=r["context"],
            sentences=tuple(tuple(s) for s in r["sentences"]), heading_end=r["heading_end"]) for r in records]
    except (KeyError, ValueError, TypeError) as e:
        raise IndexCorrupt(f"{d / 'passages.jsonl'}: unreadable ({e}); {REBUILD_HINT} --full") from None
    vectors = _npy_load(data["vectors.npy"], str(d / "vectors.npy"))
    sentence_vectors = _npy_load(data["sentences.npy"], str(d / "sentences.npy"))
    sentence_offsets = _npy_load(data["sentence_offsets.npy"], str(d / "sentence_offsets.npy"))
    try:
        fidx = faiss.deserialize_index(np.frombuffer(data["dense.faiss"], dtype=np.uint8))
    except RuntimeError as e:
        raise IndexCorrupt(f"{d / 'dense.faiss'}: unreadable ({e}); {REBUILD_HINT} --full") from None
    try:
        bm25 = bm25s.BM25.load(str(d / "bm25"), load_corpus=False, allow_pickle=False)
    except Exception as e:  # noqa: BLE001
        raise IndexCorrupt(f"{d / 'bm25'}: unreadable ({e}); {REBUILD_HINT} --full") from None
    n = len(passages)
    if fidx.ntotal != n or len(vectors) != n or bm25.scores["num_docs"] != n or len(sentence_offsets) != n + 1:
        raise IndexCorrupt(f"{d}: the parts of the index disagree on the passage count; {REBUILD_HINT} --full")
    sources = {s["id"]: SourceInfo(s["id"], s["title"], s["path"], s.get("url", ""), s.get("links", []),
                                   s["sha256"]) for s in manifest["sources"]}
    from .text import words

    vocab = set()
    for p in passages:
        vocab.update(words(p.context))
    return LoadedIndex(d, manifest, passages, sources, fidx, bm25, vectors, sentence_vectors, sentence_offsets,
                       vocab)


def stale_sources(manifest: dict, corpus_dir: str | os.PathLike) -> list[str]:
    """What differs between the corpus on disk and the one the index was built from."""
    try:
        now = corpus_fingerprint(corpus_dir)
    except Exception as e:  # noqa: BLE001 - an unreadable manifest counts as a change
        return [str(e)]
    then = manifest.get("corpus", {})
    out = []
    for key in sorted(set(now) | set(then)):
        if key not in then:
            out.append(f"{key} added")
        elif key not in now:
            out.append(f"{key} removed")
        elif now[key] != then[key]:
            out.append(f"{key} edited")
    return out

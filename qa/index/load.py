"""Load an index build and verify it: manifest signature, every file's SHA-256 before any parser sees it,
settings, model and corpus; and say what changed in the corpus since a build (`stale_sources`)."""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from qa.errors import CorpusError, IndexCorrupt, IndexMissing, IndexStale
from qa.index.bank import BANK_ROWS, BANK_VECTORS, BankIndex
from qa.index.layout import (
    CURRENT,
    MANIFEST,
    REBUILD_FULL_HINT,
    REBUILD_HINT,
    REQUIRED_FILES,
    SIGNATURE,
    SourceInfo,
    build_dir_of,
    manifest_digest,
    npy_load,
    sha256_bytes,
)
from qa.index.wordvec import WORDVEC_FILE, WordTable
from qa.ingest.corpus import corpus_fingerprint, display_path, read_manifest
from qa.ingest.passages import Passage
from qa.ingest.text import words
from qa.settings import HNSW_EF_SEARCH, INDEX_FORMAT_VERSION, Settings

if TYPE_CHECKING:  # imported when an index is loaded, not when this module is
    import bm25s


@dataclass
class LoadedIndex:
    directory: Path  # the build directory actually read
    manifest: dict
    passages: list[Passage]
    sources: dict[str, SourceInfo]
    faiss_index: Any  # a faiss.Index (faiss ships no type information)
    bm25: bm25s.BM25
    vectors: np.ndarray  # passage vectors, row i = passages[i]
    sentence_vectors: np.ndarray
    sentence_offsets: np.ndarray  # passage i's sentences are rows sentence_offsets[i]:sentence_offsets[i+1]
    vocabulary: set[str] = field(default_factory=set)  # surface words of the corpus, for spelling repair
    word_table_bytes: bytes | None = None  # wordvec.npz (qa/index/wordvec.py)
    word_table: WordTable | None = None
    bank: BankIndex | None = None  # the question banks (qa/index/bank.py); empty when the corpus has none

    def __len__(self) -> int:
        return len(self.passages)


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
    import bm25s  # deferred: heavy, only when an index is loaded
    import faiss  # deferred: heavy, only when an index is loaded

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
    if manifest.get(SIGNATURE) != manifest_digest(manifest):
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
        if sha256_bytes(blob) != digest:
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
                                       s.get("url", ""), s.get("links", []), s["sha256"], s.get("meta") or {})
                   for s in manifest["sources"]}
    except (KeyError, ValueError, TypeError) as e:
        raise IndexCorrupt(f"{d / 'passages.jsonl'}: unreadable ({e}); {REBUILD_FULL_HINT}") from None
    vectors = npy_load(data["vectors.npy"], str(d / "vectors.npy"))
    sentence_vectors = npy_load(data["sentences.npy"], str(d / "sentences.npy"))
    sentence_offsets = npy_load(data["sentence_offsets.npy"], str(d / "sentence_offsets.npy"))
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
    vocab = set()
    for p in passages:
        vocab.update(words(p.context))
    table = data.get(WORDVEC_FILE)
    try:
        word_table = WordTable(table) if table is not None else None
    except (ValueError, KeyError) as e:
        raise IndexCorrupt(f"{d / WORDVEC_FILE}: unreadable ({e}); {REBUILD_FULL_HINT}") from None
    bank = BankIndex.from_bytes(data[BANK_ROWS], data[BANK_VECTORS], str(d), n)
    if len(bank) and bank.vectors.shape[1:] != vectors.shape[1:]:
        raise IndexCorrupt(f"{d / BANK_VECTORS}: vectors of another size than the passages'; {REBUILD_FULL_HINT}")
    return LoadedIndex(d, manifest, passages, sources, fidx, bm25, vectors, sentence_vectors, sentence_offsets,
                       vocab, table, word_table, bank)


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
        if key.startswith(("manifest:", "bank:")):
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

"""Build the index for a corpus: segment every source, embed what the previous build does not already hold,
write FAISS (dense) + bm25s (keyword) + passages as plain files, and install them (qa/index/install.py).
Nothing is ever pickled; the layout is in qa/index/layout.py."""

from __future__ import annotations

import hashlib
import json
import os
import sys
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from qa.errors import CorpusError, IndexProblem
from qa.index import layout
from qa.index.bank import bank_files, bank_records, bank_summary
from qa.index.embed import Embedder
from qa.index.install import install_build
from qa.index.layout import (
    MANIFEST,
    build_lock,
    jsonl_line,
    npy_bytes,
    passage_record,
    read_manifest_quietly,
    sha256_bytes,
    sign_manifest,
)
from qa.index.load import LoadedIndex, load_index
from qa.index.wordvec import WORDVEC_FILE, build_table
from qa.index.writers import _bm25_files, _faiss_bytes
from qa.ingest.banks import parse_bank
from qa.ingest.corpus import read_corpus
from qa.ingest.passages import ListLeadIns, Passage, segment, sentence_contexts
from qa.ingest.text import analyze
from qa.settings import ANN_THRESHOLD, INDEX_FORMAT_VERSION, Settings

EMBED_BATCH = 64
# A source at least this long gets a line in the build's log (at a terminal every source gets a bar).
LONG_SOURCE_CHARS = 1_000_000
LONG_EMBEDDING = 20_000  # ... and so does an embedding step of at least this many texts (minutes of work)
# From this many passages on, the dense index is HNSW instead of exact (qa/settings.py, shared with the search).


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
    bank_note: str | None = None  # one line when question-bank rows are stale (qa/ingest/banks.py)

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
            *([self.bank_note] if self.bank_note else []),
        ])


def _vector_key(model_id: str, text: str) -> str:
    """Cache key of an embedding: the model and the exact text embedded (context included)."""
    return hashlib.sha256(f"{model_id}\0{text}".encode()).hexdigest()


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
    cache = dict(zip(passage_keys, previous.vectors, strict=False))
    cache.update(zip(sentence_keys, previous.sentence_vectors, strict=False))
    bank_keys = keys.get("bank", [])
    if previous.bank is not None and len(bank_keys) == len(previous.bank):
        cache.update(zip(bank_keys, previous.bank.vectors, strict=False))
    return cache


def _progress(total: int, desc: str, unit: str = "text"):
    from tqdm import tqdm  # deferred: only for a build's progress bar

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
                for j, v in zip(chunk, vecs, strict=False):
                    fresh[keys[j]] = v
                bar.update(len(chunk))
                layout.checkpoint("embedding")
    return fresh


def _source_record(s) -> dict:
    return {"id": s.id, "title": s.title, "file": s.path.name, "path": s.display_path, "url": s.url,
            "links": list(s.links), "sha256": s.sha256, "meta": dict(s.meta)}


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
    bank = parse_bank(corpus_dir, corpus.banks, text_of)

    try:
        with build_lock(index_dir):
            previous = _load_previous(index_dir)
            old_manifest = previous.manifest if previous else read_manifest_quietly(index_dir)
            cache = {} if full else _reusable_vectors(previous, embedder)

            # Everything to embed: each passage's context, then each sentence with its own context.
            texts = [p.context for p in passages]
            lead_ins = {s.id: ListLeadIns(s.text) for s in sources}
            for p in passages:
                texts += sentence_contexts(p, text_of[p.source_id], lead_ins[p.source_id])
            n_sentences = len(texts) - len(passages)
            texts += [r.question for r in bank.rows]  # the question banks', embedded alone
            keys = [_vector_key(embedder.model_id, t) for t in texts]
            fresh = _embed_missing(embedder, texts, keys, cache)
            lookup = {**cache, **fresh}
            dim = embedder.dim
            matrix = np.stack([lookup[k] for k in keys]).astype(np.float32)
            vectors, sentence_vectors = matrix[:len(passages)], matrix[len(passages):len(passages) + n_sentences]
            bank_rows = bank_records(bank, passages)
            sentence_offsets = np.cumsum([0] + [len(p.sentences) for p in passages]).astype(np.int64)

            files: dict[str, bytes] = {}
            files["passages.jsonl"] = "".join(jsonl_line(passage_record(p)) for p in passages).encode("utf-8")
            files["vectors.npy"] = npy_bytes(vectors)
            files["sentences.npy"] = npy_bytes(sentence_vectors)
            files["sentence_offsets.npy"] = npy_bytes(sentence_offsets)
            files.update(bank_files(bank_rows, matrix[len(passages) + n_sentences:]))
            files["dense.faiss"] = _faiss_bytes(vectors)
            files.update(_bm25_files([analyze(p.context) for p in passages]))
            same_model = previous is not None and not full and previous.manifest.get("model", {}).get(
                "weights_sha256") == embedder.weights_sha256 and previous.word_table_bytes is not None
            files[WORDVEC_FILE] = build_table(embedder, [s.text for s in sources],
                                              previous.word_table_bytes if same_model and previous else None)
            manifest = {
                "format_version": INDEX_FORMAT_VERSION,
                "built_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
                # onnx_sha256: the ONNX file the vectors came from (qa/index/onnx_embed.py); None for torch.
                "model": {"id": embedder.model_id, "weights_sha256": embedder.weights_sha256, "dim": dim,
                          "onnx_sha256": getattr(embedder, "onnx_sha256", None)},
                "settings": settings.index_params(),
                "dense_index": "hnsw" if len(passages) >= ANN_THRESHOLD else "flat",
                "counts": {"sources": len(sources), "passages": len(passages), "sentences": len(sentence_vectors)},
                "sources": [_source_record(s) for s in sources],
                "topic": corpus.topic,
                # Of the very bytes segmented above, so an edit made during the build shows up as stale.
                "corpus": corpus.fingerprint,
                "vector_keys": {"passages": keys[:len(passages)], "sentences": keys[len(passages):][:n_sentences],
                                "bank": keys[len(passages) + n_sentences:]},
                "bank": bank_summary(bank, bank_rows),
                "files": {name: sha256_bytes(data) for name, data in sorted(files.items())},
            }
            files[MANIFEST] = json.dumps(sign_manifest(manifest), indent=1, ensure_ascii=False).encode("utf-8")

            keep = previous.directory if (previous and keep_previous) else None
            final = install_build(index_dir, files, settings, len(passages), len(sentence_vectors), keep)
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
        bank_note=bank.stale_line(),
    )

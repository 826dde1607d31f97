"""A static word-vector table distilled from the embedding model: one vector per word, for judging whether the
particular thing a question asks about appears in the passages found (qa/judge/support.py) without a second
model call per question.

The words are the English whole words of the bundled model's tokenizer vocabulary (vocab.txt) and the
corpus's own words; each word's vector is the model's embedding of the word alone (what model2vec's distill
does per token; model2vec itself is not used: its distill extra pins an older transformers that changes how
the bundled model loads). Stored in the build as `wordvec.npz` (float16, unit length), listed with its
SHA-256 in the manifest like every other file. English words are embedded once per model and machine and
kept in a cache folder ($IPT_QA_CACHE, else ~/.cache/ipt-qa), so later builds, incremental or fresh, reuse
them; a corpus's own words are few and embedded with each build that needs them.
"""

from __future__ import annotations

import hashlib
import io
import os
import re
from functools import lru_cache
from pathlib import Path

import numpy as np

from qa.errors import ModelError
from qa.index.embed import Embedder, bundled_model_dir

WORDVEC_FILE = "wordvec.npz"
BATCH = 512
_WORD = re.compile(r"[^\W\d_]{2,}")


@lru_cache(maxsize=1)
def english_words() -> frozenset[str]:
    """Whole alphabetic words of two letters or more in the bundled tokenizer's vocabulary (empty without
    the model package)."""
    try:
        lines = (bundled_model_dir() / "vocab.txt").read_text(encoding="utf-8").splitlines()
    except (OSError, ModelError):
        return frozenset()
    return frozenset(w for w in lines if len(w) >= 2 and w.isalpha())


def text_words(text: str) -> list[str]:
    """Lower-cased words of two letters or more, as the table keys them."""
    return [w.casefold() for w in _WORD.findall(text)]


def _cache_file(embedder: Embedder) -> Path:
    base = Path(os.environ.get("IPT_QA_CACHE") or Path.home() / ".cache" / "ipt-qa")
    key = hashlib.sha256(f"{embedder.model_id}\0{embedder.weights_sha256}\0{embedder.dim}".encode()).hexdigest()
    return base / f"wordvec-{key[:16]}.npz"


def _read(data: bytes) -> tuple[list[str], np.ndarray]:
    with np.load(io.BytesIO(data), allow_pickle=False) as z:
        return [str(w) for w in z["words"]], np.asarray(z["vectors"])


def _bytes(words: list[str], vectors: np.ndarray) -> bytes:
    buf = io.BytesIO()
    np.savez(buf, words=np.array(words, dtype=np.str_), vectors=vectors.astype(np.float16))
    return buf.getvalue()


def _embed(embedder: Embedder, words: list[str]) -> np.ndarray:
    # An embedder may embed single words its own way (the tests' fake counts them apart from passages).
    encode = getattr(embedder, "encode_words", embedder.encode)
    out = [encode(words[i:i + BATCH]) for i in range(0, len(words), BATCH)]
    vecs = np.concatenate(out) if out else np.zeros((0, embedder.dim), dtype=np.float32)
    norms = np.linalg.norm(vecs, axis=1, keepdims=True)
    return (vecs / np.where(norms > 0, norms, 1.0)).astype(np.float16)


def _machine_cache(embedder: Embedder) -> dict[str, np.ndarray]:
    """English words' vectors for this model, embedded now if this machine has none yet."""
    path = _cache_file(embedder)
    try:
        words, vecs = _read(path.read_bytes())
        return dict(zip(words, vecs, strict=True))
    except (OSError, ValueError, KeyError):
        pass
    words = sorted(english_words())
    vecs = _embed(embedder, words)
    try:  # best effort: a read-only home only costs the next build the same work
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f"{path.name}.{os.getpid()}.tmp")
        tmp.write_bytes(_bytes(words, vecs))
        os.replace(tmp, path)
    except OSError:
        pass
    return dict(zip(words, vecs, strict=True))


def build_table(embedder: Embedder, corpus_texts: list[str], previous: bytes | None = None) -> bytes:
    """The table's file for a build: English words and the corpus's words. `previous`: the table of the build
    being replaced, when made with the same model (its vectors are reused)."""
    corpus_words = {w for t in corpus_texts for w in text_words(t)}
    known: dict[str, np.ndarray] = {}
    if previous is not None:
        try:
            words, vecs = _read(previous)
            known.update(zip(words, vecs, strict=True))
        except (ValueError, KeyError):
            pass
    if not english_words() <= known.keys():
        known.update(_machine_cache(embedder))
    words = sorted(english_words() | corpus_words)
    missing = [w for w in words if w not in known]
    known.update(zip(missing, _embed(embedder, missing), strict=True))
    return _bytes(words, np.stack([known[w] for w in words]) if words else np.zeros((0, embedder.dim)))


class WordTable:
    """Look-ups in a loaded table: row of a word, and the rows of a text's words."""

    def __init__(self, data: bytes):
        words, self.vectors = _read(data)
        self.vectors = self.vectors.astype(np.float32)
        self.row = {w: i for i, w in enumerate(words)}

    def rows(self, words) -> np.ndarray:
        return np.array(sorted({self.row[w] for w in words if w in self.row}), dtype=np.int64)

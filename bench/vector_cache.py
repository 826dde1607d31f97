"""A persistent cache of the real model's vectors for the benchmark's synthetic corpora.

Embedding the 10,000-passage scale corpus (about 37,000 passage and sentence texts) takes 5-20 minutes on
2 cores, longer than the whole benchmark may take. `CachingEmbedder` wraps the real embedder: a text whose
vector this very model (same weights SHA-256) has produced before is served from disk; any other is
embedded by the model and stored. The vectors are therefore exactly the model's, and `build_index` runs
unchanged (segmentation, BM25, FAISS, writing, verification) around it. Kept in
~/.cache/ipt-qa-bench/vectors-<weights sha>/ (or under $IPT_QA_BENCH_CACHE), outside the repository.
"""

from __future__ import annotations

import hashlib
import json
import os
import threading
import time
from pathlib import Path

import numpy as np


def cache_root() -> Path:
    env = os.environ.get("IPT_QA_BENCH_CACHE")
    if env:
        return Path(env)
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "ipt-qa-bench"


def _key(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


class CachingEmbedder:
    """Same interface as qa.index.embed.MiniLMEmbedder (model_id, weights_sha256, dim, encode)."""

    def __init__(self, inner, directory: Path | None = None, autosave: int = 6400):
        self.inner = inner
        self.model_id = inner.model_id
        self.weights_sha256 = inner.weights_sha256
        self.dim = inner.dim
        self.directory = Path(directory or cache_root() / f"vectors-{inner.weights_sha256[:16]}")
        self._lock = threading.Lock()
        self._rows: dict[str, int] = {}
        self._chunks: list[np.ndarray] = []
        self._saved = 0
        self.autosave = autosave  # save once this many new vectors are held, so an interrupted first run keeps them
        self.hits = 0
        self.misses = 0
        self.model_seconds = 0.0  # time spent inside the real model's encode (the rest of a build is not the model)
        keys_file, vec_file = self.directory / "keys.json", self.directory / "vectors.npy"
        if keys_file.is_file() and vec_file.is_file():
            try:
                keys = json.loads(keys_file.read_text(encoding="utf-8"))
                matrix = np.load(vec_file, allow_pickle=False)
                if matrix.shape == (len(keys), self.dim):
                    self._rows = {k: i for i, k in enumerate(keys)}
                    self._chunks = [matrix]
                    self._saved = len(keys)
            except (OSError, ValueError):
                pass  # a damaged cache is only a slower run

    def __len__(self) -> int:
        return len(self._rows)

    def _matrix(self) -> np.ndarray:
        if len(self._chunks) > 1:
            self._chunks = [np.concatenate(self._chunks)]
        return self._chunks[0] if self._chunks else np.zeros((0, self.dim), dtype=np.float32)

    def encode(self, texts: list[str], batch_size: int = 64) -> np.ndarray:
        keys = [_key(t) for t in texts]
        with self._lock:
            todo = list({k: i for i, k in enumerate(keys) if k not in self._rows}.values())
            if todo:
                t0 = time.perf_counter()
                fresh = self.inner.encode([texts[i] for i in todo])
                self.model_seconds += time.perf_counter() - t0
                base = len(self._rows)
                for n, i in enumerate(todo):
                    self._rows[keys[i]] = base + n
                self._chunks.append(np.ascontiguousarray(fresh, dtype=np.float32))
            self.misses += len(todo)
            self.hits += len(texts) - len(todo)
            m = self._matrix()
            out = m[[self._rows[k] for k in keys]] if keys else np.zeros((0, self.dim), dtype=np.float32)
            grown = len(self._rows) - self._saved
        if self.autosave and grown >= self.autosave:
            self.save()
        return out

    def save(self) -> None:
        """Write the cache when it grew (atomically: a half-written cache is never read)."""
        with self._lock:
            if len(self._rows) == self._saved:
                return
            self.directory.mkdir(parents=True, exist_ok=True)
            keys = sorted(self._rows, key=self._rows.get)
            tmp_v, tmp_k = self.directory / ".vectors.npy.tmp", self.directory / ".keys.json.tmp"
            with open(tmp_v, "wb") as f:
                np.save(f, self._matrix(), allow_pickle=False)
            tmp_k.write_text(json.dumps(keys), encoding="utf-8")
            os.replace(tmp_v, self.directory / "vectors.npy")
            os.replace(tmp_k, self.directory / "keys.json")
            self._saved = len(keys)

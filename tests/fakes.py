"""Test doubles, kept out of the package: fast stand-ins for the real parts, used next to them, never instead."""

from __future__ import annotations

import hashlib

import numpy as np

from qa.ingest.text import analyze


class HashEmbedder:
    """A deterministic stand-in for unit tests: bag of hashed word stems, so shared words mean similarity."""

    model_id = "test/hash-embedder"
    weights_sha256 = "0" * 64

    def __init__(self, dim: int = 256):
        self.dim = dim
        self.calls = 0
        self.texts_encoded = 0  # passages, sentences and questions
        self.words_encoded = 0  # the word-vector table's words (qa/index/wordvec.py), counted apart

    def encode(self, texts: list[str]) -> np.ndarray:
        self.calls += 1
        self.texts_encoded += len(texts)
        return self._vectors(texts)

    def encode_words(self, words: list[str]) -> np.ndarray:
        self.words_encoded += len(words)
        return self._vectors(words)

    def _vectors(self, texts: list[str]) -> np.ndarray:
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        for i, t in enumerate(texts):
            for tok in analyze(t):
                h = int.from_bytes(hashlib.blake2b(tok.encode(), digest_size=4).digest(), "little")
                out[i, h % self.dim] += 1.0
            n = np.linalg.norm(out[i])
            out[i] = out[i] / n if n else out[i]
            if not n:
                out[i, 0] = 1.0
        return out

"""The query code as it was before issue 14 ("Performance II"), kept so that `python -m bench` measures the new
code against it in the same run: dense scores by a FAISS search for k = n (k = 1000 above 20,000 passages)
plus a scatter, two full stable argsorts for the candidate lists, spelling repair by difflib over the whole
vocabulary, and HNSW only from 50,000 passages with efSearch 128. tests/retrieve/test_rankings.py holds the same
reference and checks that the rankings did not change."""

from __future__ import annotations

import difflib
from contextlib import contextmanager
from functools import lru_cache

import numpy as np

from qa.ingest.spelling import SpellFixer
from qa.search import Searcher

EXACT_UP_TO = 20_000  # dense_scores' literal before
HNSW_THRESHOLD = 50_000  # qa/index.py before
EF_SEARCH = 128


class DifflibSpellFixer(SpellFixer):
    @lru_cache(maxsize=4096)
    def fix(self, word: str) -> str:
        if word in self.known or len(word) < 5 or not word.isalpha():
            return word
        match = difflib.get_close_matches(word, self.vocabulary, n=1, cutoff=0.84)
        return match[0] if match else word


def argsort_top(scores: np.ndarray, depth: int) -> np.ndarray:
    return np.argsort(-scores, kind="stable")[:depth]


@contextmanager
def argsort_selection():
    import qa.search

    new = qa.search.top_indices
    qa.search.top_indices = argsort_top
    try:
        yield
    finally:
        qa.search.top_indices = new


def before_faiss(vectors: np.ndarray):
    """The dense index the old build made for these vectors (exact below 50,000, else HNSW efSearch 128)."""
    import faiss

    if len(vectors) >= HNSW_THRESHOLD:
        index = faiss.IndexHNSWFlat(vectors.shape[1], 32, faiss.METRIC_INNER_PRODUCT)
        index.hnsw.efConstruction = 80
        index.hnsw.efSearch = EF_SEARCH
    else:
        index = faiss.IndexFlatIP(vectors.shape[1])
    index.add(vectors)
    return index


class BeforeSearcher(Searcher):
    """A Searcher running the pre-issue-14 dense scores, candidate selection and spelling repair; `faiss_index`
    replaces the index's own (e.g. the exact index the old build made where the new one makes HNSW).
    Single-threaded use only (the candidate selection is swapped module-wide during each call)."""

    def __init__(self, index, embedder, settings=None, cache_size: int = 1024, faiss_index=None):
        super().__init__(index, embedder, settings, cache_size=cache_size)
        self.spell = DifflibSpellFixer(index.vocabulary)
        self.faiss_index = faiss_index if faiss_index is not None else index.faiss_index

    def dense_scores(self, qvec):
        n = len(self.index)
        k = n if n <= EXACT_UP_TO else self.settings.candidates * 20
        sims, ids = self.faiss_index.search(qvec.reshape(1, -1), k)
        out = np.full(n, -1.0, dtype=np.float32)
        valid = ids[0] >= 0
        out[ids[0][valid]] = sims[0][valid]
        return out

    def candidates(self, *args, **kw):
        with argsort_selection():
            return super().candidates(*args, **kw)

"""Retrieve and fuse: BM25 and dense scores over every passage, each retriever's top list, their fusion, and
the ranking features (qa/retrieve/features.py) -> the candidate list, best first."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from qa.index.load import LoadedIndex
from qa.retrieve.bank import BankMatcher
from qa.retrieve.facts import IndexFacts
from qa.retrieve.features import RankFeatures
from qa.retrieve.fuse import convex, ranked
from qa.retrieve.query import QuestionError
from qa.retrieve.topk import top_indices
from qa.settings import ANN_THRESHOLD, Settings


@dataclass
class Candidate:
    index: int  # passage number
    fused: float  # the score that orders the candidates (fusion plus ranking features); labels are read from it
    dense: float
    bm25: float
    score: float  # what a reader is shown: `fused` over the best it can reach for the question, in [0, 1]


class Retriever:
    """Thread-safe: it only reads the index and its facts."""

    def __init__(self, index: LoadedIndex, settings: Settings, facts: IndexFacts, features: RankFeatures,
                 topic_terms: list[str]):
        self.index = index
        self.settings = settings
        self.facts = facts
        self.features = features
        # BM25 of the topic's own words, the same for every question: added, weighted, when a question leaves
        # the topic unsaid, so that passages about the topic win over the corpus's asides.
        self.topic_bm25 = self.bm25_scores(topic_terms)
        self.bank = BankMatcher(index)

    def allowed(self, sources: list[str] | None) -> np.ndarray | None:
        """Mask of the passages of `sources` (None: every passage); an unknown id is a QuestionError."""
        if not sources:
            return None
        unknown = set(sources) - set(self.index.sources)
        if unknown:
            raise QuestionError(f"unknown source(s) {sorted(unknown)}; known: {sorted(self.index.sources)}")
        return np.isin(self.facts.source_of, list(sources))

    def dense_scores(self, qvec: np.ndarray) -> np.ndarray:
        """Cosine of the question with every passage: exact below ANN_THRESHOLD, as one matrix-vector product
        over the stored vectors (a FAISS search with k = n keeps a heap of all n and then needs a scatter:
        6x slower at 10k passages); above it the HNSW index's top `candidates * 20`, the rest -1."""
        n = len(self.index)
        if n < ANN_THRESHOLD:
            # einsum's own loop, not `@`: OpenBLAS splits a large matrix-vector product over its threads, and
            # next to torch's threads on a busy machine that took 12-28 ms instead of 0.3-0.5 ms at 10k.
            return np.einsum("ij,j->i", self.index.vectors, np.asarray(qvec, dtype=np.float32).reshape(-1))
        k = min(n, self.settings.candidates * 20)
        sims, ids = self.index.faiss_index.search(qvec.reshape(1, -1), k)
        out = np.full(n, -1.0, dtype=np.float32)
        valid = ids[0] >= 0
        out[ids[0][valid]] = sims[0][valid]
        return out

    def bm25_scores(self, terms: list[str]) -> np.ndarray:
        if not terms:
            return np.zeros(len(self.index), dtype=np.float32)
        return np.asarray(self.index.bm25.get_scores(terms), dtype=np.float32)

    def sentence_max(self, pool: np.ndarray, qvec: np.ndarray) -> np.ndarray:
        """For each passage in `pool`, the cosine of the question with its best-matching sentence."""
        lo, hi = self.index.sentence_offsets[pool], self.index.sentence_offsets[pool + 1]
        sims = self.index.sentence_vectors[self.facts.rows_of(pool)] @ qvec
        return np.maximum.reduceat(sims, np.concatenate([[0], np.cumsum(hi - lo)[:-1]]))

    def candidates(self, question: str, terms: list[str], implicit: bool, qvec: np.ndarray, mode: str,
                   allowed: np.ndarray | None) -> tuple[list[Candidate], dict]:
        """Fused candidate list, best first, plus the signals abstention looks at. `terms`: the question's
        query stems; `implicit`: it leaves the corpus's topic unsaid.

        Dense relevance of a passage is the mean of two cosines: question vs. the whole passage (with its
        title and heading) and question vs. its best sentence. Short learner questions often match one
        sentence far better than a paragraph; the passage vector keeps the heading's context. On the dev
        half this lifted dense MRR@10 from 0.50 to 0.70 (see eval/report.md for the current figures).
        """
        s = self.settings
        n = len(self.index)
        dense_p = self.dense_scores(qvec)
        bm25 = self.bm25_scores(terms)
        if s.topic_bm25_weight and implicit and bm25.any():
            bm25 = bm25 + s.topic_bm25_weight * self.topic_bm25
        if allowed is not None:
            dense_p = np.where(allowed, dense_p, -np.inf)
            bm25 = np.where(allowed, bm25, 0.0)
        depth = min(s.candidates, n)
        d_top = top_indices(dense_p, depth)
        d_top = d_top[np.isfinite(dense_p[d_top]) & (dense_p[d_top] > -1.0)]
        b_top = top_indices(bm25, depth)
        b_top = b_top[bm25[b_top] > 0]
        # The abstention signal comes from both retrievers' candidates whatever the mode, so one threshold
        # means the same thing in every mode.
        match = self.bank.match(qvec) if self.bank else None
        bank = match.per_passage if match is not None else None
        if bank is not None and allowed is not None:
            bank = np.where(allowed, bank, -1.0)
        union = np.union1d(d_top, b_top).astype(np.int64)
        if bank is not None and mode == "hybrid":  # a passage whose bank question is near is a candidate too
            q_top = top_indices(bank, depth)
            union = np.union1d(union, q_top[bank[q_top] > -1.0]).astype(np.int64)
        pool = {"hybrid": union, "dense": d_top.astype(np.int64), "bm25": b_top.astype(np.int64)}[mode]
        signals = {"top_dense": float(dense_p[d_top[0]]) if len(d_top) else 0.0, "top_sentence": 0.0}
        if not len(union):
            return [], signals
        smax = self.sentence_max(union, qvec)
        signals["top_sentence"] = float(smax.max())
        dense = np.full(n, -1.0, dtype=np.float32)
        dense[union] = s.passage_weight * dense_p[union] + (1.0 - s.passage_weight) * smax
        if not len(pool):
            return [], signals
        if mode == "dense":
            fused = {int(i): float(dense[i]) for i in pool}
        elif mode == "bm25":
            top = float(bm25[b_top[0]])
            fused = {int(i): float(bm25[i]) / top for i in pool}
        else:
            runs = [{int(i): float(dense[i]) for i in pool}, {int(i): float(bm25[i]) for i in pool}]
            weights = [s.dense_weight, 1.0 - s.dense_weight]
            if bank is not None and s.bank_weight > 0:
                # Each passage's best bank-question similarity, a third run (passages without rows: its lowest).
                floor = min(0.0, float(bank[pool][bank[pool] > -1.0].min())) if (bank[pool] > -1.0).any() else 0.0
                runs.append({int(i): max(float(bank[i]), floor) for i in pool})
                weights = [w * (1.0 - s.bank_weight) for w in weights] + [s.bank_weight]
            fused = convex(runs, weights)
        fused = self.features.adjust(question, fused)
        # Page furniture the question does not ask for goes after every content passage, keeping its order.
        order = sorted(ranked(fused), key=lambda kv: self.features.unasked_furniture(question, terms, kv[0]))
        # Fusion gives at most 1.0 (first in every retriever) and the features add at most their bonus; a
        # negative cosine (dense mode) shows as 0.
        best = self.features.best_possible(question)
        if match is not None and order:
            signals.update(bank_signals(match, order[0][0], self.facts.source_of, self.bank.sources))
        return [Candidate(i, f, float(dense_p[i]), float(bm25[i]), min(1.0, max(0.0, f / best)))
                for i, f in order], signals


def bank_signals(match, first: int, source_of, sources_with_rows: frozenset[str]) -> dict[str, float]:
    """The bank's judging signals, when the first passage's source has bank rows (else none: the rule then
    weighs them at their mean, as for a corpus without banks)."""
    if source_of[first] not in sources_with_rows:
        return {}
    return {"bank_answer": match.answer, "bank_near": match.near, "bank_contrast": match.answer - match.near,
            "bank_first": float(match.per_passage[first])}

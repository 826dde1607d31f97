"""The question banks at query time: how close the question is to questions the sources answer (per passage,
for ranking) and to questions they come close to without answering (for judging). Question-to-question
similarity is what MiniLM was trained for; one matrix-vector product over the bank's rows per question."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from qa.index.load import LoadedIndex
from qa.ingest.banks import ANSWER


@dataclass(frozen=True)
class BankMatch:
    """What the bank says of one question."""

    per_passage: np.ndarray  # best cosine with a bank question of each passage; -1 for a passage without one
    answer: float  # best cosine with any answerable-bank question
    near: float  # best cosine with any near-miss or off-topic question (-1 when that bank is empty)
    nearest: int  # bank row of the nearest answerable question (-1: none)


class BankMatcher:
    """Thread-safe: read-only arrays of one loaded index."""

    def __init__(self, index: LoadedIndex):
        bank = index.bank
        n = len(index)
        if bank is None or not len(bank):
            self.rows = np.zeros(0, dtype=np.int64)
            self.answer_vectors = np.zeros((0, index.vectors.shape[1]), dtype=np.float32)
            self.near_vectors = self.answer_vectors
            self.groups = np.zeros(0, dtype=np.int64)
            self.group_passages = np.zeros(0, dtype=np.int64)
            self.sources: frozenset[str] = frozenset()
            self.n = n
            return
        is_answer = np.array([k == ANSWER for k in bank.kinds]) & (bank.passage >= 0)
        # Answer rows sorted by passage, so that each passage's best is one reduceat over a contiguous run.
        rows = np.nonzero(is_answer)[0]
        rows = rows[np.argsort(bank.passage[rows], kind="stable")]
        self.rows = rows
        self.answer_vectors = np.ascontiguousarray(bank.vectors[rows])
        self.near_vectors = np.ascontiguousarray(bank.vectors[~np.array([k == ANSWER for k in bank.kinds])])
        passages = bank.passage[rows]
        starts = np.r_[0, np.nonzero(np.diff(passages))[0] + 1] if len(rows) else np.zeros(0, dtype=np.int64)
        self.groups = starts.astype(np.int64)
        self.group_passages = passages[starts] if len(rows) else np.zeros(0, dtype=np.int64)
        self.sources = frozenset(bank.source_ids[i] for i in rows)
        self.n = n

    def __bool__(self) -> bool:
        return bool(len(self.rows))

    def match(self, qvec: np.ndarray) -> BankMatch:
        per = np.full(self.n, -1.0, dtype=np.float32)
        if not len(self.rows):
            return BankMatch(per, -1.0, -1.0, -1)
        q = np.asarray(qvec, dtype=np.float32).reshape(-1)
        sims = np.einsum("ij,j->i", self.answer_vectors, q)
        per[self.group_passages] = np.maximum.reduceat(sims, self.groups)
        best = int(np.argmax(sims))
        near = float(np.einsum("ij,j->i", self.near_vectors, q).max()) if len(self.near_vectors) else -1.0
        return BankMatch(per, float(sims[best]), near, int(self.rows[best]))

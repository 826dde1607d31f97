"""The question banks in a build (qa/ingest/banks.py): each usable row with the passage its quote falls in, and
its question's vector, as two plain files:

    bank.jsonl   one row per line: question, kind, source_id, start, end, passage (row number in
                 passages.jsonl; -1 for near-misses, off-topic rows and quotes outside every passage)
    bank.npy     the questions' vectors, row i = line i

A build with no bank has both files, empty; the search then works without the bank's signals.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

import numpy as np

from qa.errors import IndexCorrupt
from qa.index.layout import REBUILD_FULL_HINT, jsonl_line, npy_bytes, npy_load
from qa.ingest.banks import ANSWER, Bank, passage_of
from qa.ingest.passages import Passage

BANK_ROWS = "bank.jsonl"
BANK_VECTORS = "bank.npy"


def bank_records(bank: Bank, passages: list[Passage]) -> list[dict]:
    return [{"question": r.question, "kind": r.kind, "source_id": r.source_id, "start": r.start, "end": r.end,
             "passage": passage_of(r, passages)} for r in bank.rows]


def bank_files(records: list[dict], vectors: np.ndarray) -> dict[str, bytes]:
    """bank.jsonl and bank.npy of a build (`vectors`: one row per record, shape (0, dim) for none)."""
    return {BANK_ROWS: "".join(jsonl_line(r) for r in records).encode("utf-8"),
            BANK_VECTORS: npy_bytes(np.asarray(vectors, dtype=np.float32))}


def bank_summary(bank: Bank, records: list[dict]) -> dict:
    """What the manifest says of the bank: the corpus files' SHA-256 are in its `corpus` fingerprint."""
    answers = [r for r in records if r["kind"] == ANSWER]
    return {"answers": sum(r["passage"] >= 0 for r in answers),
            "outside_passages": sum(r["passage"] < 0 for r in answers),
            "near_misses": len(records) - len(answers),
            "stale": bank.stale_by_source()}


@dataclass
class BankIndex:
    """The bank of one loaded build."""

    questions: list[str]
    kinds: list[str]
    source_ids: list[str]
    passage: np.ndarray  # int64, -1 where the row points at no passage
    vectors: np.ndarray  # float32 (rows, dim)

    def __len__(self) -> int:
        return len(self.questions)

    @classmethod
    def from_bytes(cls, rows: bytes, vectors: bytes, where: str, n_passages: int) -> BankIndex:
        try:
            records = [json.loads(line) for line in rows.decode("utf-8").split("\n") if line]
            questions = [str(r["question"]) for r in records]
            kinds = [str(r["kind"]) for r in records]
            source_ids = [str(r["source_id"]) for r in records]
            passage = np.array([int(r["passage"]) for r in records], dtype=np.int64)
        except (KeyError, ValueError, TypeError) as e:
            raise IndexCorrupt(f"{where}/{BANK_ROWS}: unreadable ({e}); {REBUILD_FULL_HINT}") from None
        vecs = npy_load(vectors, f"{where}/{BANK_VECTORS}")
        if vecs.ndim != 2 or len(vecs) != len(records) or (len(passage) and int(passage.max()) >= n_passages):
            raise IndexCorrupt(f"{where}: the question bank's rows and vectors disagree; {REBUILD_FULL_HINT}")
        return cls(questions, kinds, source_ids, passage, np.ascontiguousarray(vecs, dtype=np.float32))

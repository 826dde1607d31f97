"""The held-out splits stay held out: no question of the project's banks is a near-copy of a gold question of
any split by the bundled model's cosine (qa/evaluate/bankcheck.py; the normalised-text test runs without the
model in tests/ingest/test_banks.py)."""

from __future__ import annotations

import json
from pathlib import Path

from qa.evaluate.bankcheck import NEAR_COPY_COSINE, near_copies
from qa.ingest.banks import load_bank
from qa.ingest.corpus import load_corpus

ROOT = Path(__file__).resolve().parents[2]


def test_no_bank_question_is_a_near_copy_of_a_gold_question(real_embedder):
    texts = {s.id: s.text for s in load_corpus(ROOT / "corpus")}
    bank = [r.question for r in load_bank(ROOT / "corpus", texts).rows]
    gold = [json.loads(line)["question"] for line in (ROOT / "eval" / "gold.jsonl").read_text().splitlines() if line]
    found = near_copies(bank, gold, real_embedder.encode)
    assert found == [], [(bank[i], round(c, 3)) for i, _, c in found[:10]]
    # The test can fail: a paraphrase close enough to a gold question is caught.
    assert near_copies([gold[0].upper() + " ?"], gold, real_embedder.encode)[0][2] >= NEAR_COPY_COSINE

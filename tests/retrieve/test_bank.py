"""The bank at query time (qa/retrieve/bank.py): each passage's best bank-question cosine, the answerable vs
near-miss contrast, the bank as a ranking run, and no bank signal for a source the bank does not cover."""

from __future__ import annotations

import json
from types import SimpleNamespace

import numpy as np
import pytest

from qa.index.bank import BankIndex
from qa.index.build import build_index
from qa.index.load import load_index
from qa.ingest.banks import ANSWERS_FILE, NEAR_MISSES_FILE
from qa.retrieve.bank import BankMatcher
from qa.retrieve.candidates import bank_signals
from qa.search import Searcher
from qa.settings import Settings


def unit(rows) -> np.ndarray:
    m = np.asarray(rows, dtype=np.float32)
    return m / np.linalg.norm(m, axis=1, keepdims=True)


class Sized(SimpleNamespace):
    def __len__(self):
        return len(self.passages)


def test_each_passage_gets_its_best_bank_question_and_the_contrast_its_two_nearest():
    rng = np.random.default_rng(7)
    kinds = ["answer"] * 30 + ["near-miss"] * 10
    passages = list(rng.integers(0, 6, 30)) + [-1] * 10
    passages[3] = 7  # passage 7 has one question; passages 6 and 8 none
    vecs = rng.normal(size=(40, 5))
    bank = BankIndex([f"q{i}" for i in range(40)], kinds, ["a"] * 40, np.array(passages, dtype=np.int64), unit(vecs))
    index = Sized(bank=bank, vectors=np.zeros((9, 5), dtype=np.float32), passages=[None] * 9)
    q = unit([rng.normal(size=5)])[0]
    match = BankMatcher(index).match(q)
    sims = bank.vectors @ q
    for p in range(9):
        mine = [sims[i] for i in range(30) if passages[i] == p]
        assert match.per_passage[p] == (pytest.approx(max(mine), abs=1e-6) if mine else -1.0)
    assert match.answer == pytest.approx(sims[:30].max(), abs=1e-6)
    assert match.near == pytest.approx(sims[30:].max(), abs=1e-6)
    assert match.nearest == int(np.argmax(sims[:30]))


def test_an_empty_bank_matches_nothing():
    index = Sized(bank=None, vectors=np.zeros((3, 5), dtype=np.float32), passages=[None] * 3)
    matcher = BankMatcher(index)
    assert not matcher
    assert matcher.match(np.ones(5)).per_passage.tolist() == [-1.0, -1.0, -1.0]


def test_bank_signals_only_for_a_first_passage_whose_source_has_rows():
    match = SimpleNamespace(answer=0.9, near=0.5, per_passage=np.array([0.8, -1.0]))
    source_of = np.array(["a", "b"])
    signals = bank_signals(match, 0, source_of, frozenset({"a"}))
    assert signals["bank_contrast"] == 0.9 - 0.5 and signals["bank_first"] == np.float32(0.8)
    assert bank_signals(match, 1, source_of, frozenset({"a"})) == {}  # weighed at its mean by the rule


def test_a_bank_question_lifts_its_passage(tiny_corpus, tmp_path, fake_embedder):
    """The fake embedder shares words: a bank question in the learner's words ("weeks therapy go") ties the
    question to the passage it was written for, though the passage shares no word with the question."""
    question = "zebra orchestra lantern"
    alpha = (tiny_corpus / "alpha.txt").read_text(encoding="utf-8")
    quote = "Gerald Klerman and Myrna Weissman created interpersonal psychotherapy for depression."
    assert quote in alpha

    def first(weight):
        settings = Settings(abstain=False, bank_weight=weight)
        searcher = Searcher(load_index(tmp_path / "index", tiny_corpus, settings=settings), fake_embedder, settings)
        top = searcher.ask(question).passages[0]
        return alpha[top.start:top.end] if top.source_id == "alpha" else top.source_id

    (tiny_corpus / ANSWERS_FILE).write_text(json.dumps({"question": question, "source_id": "alpha",
                                                        "quote": quote}) + "\n", encoding="utf-8")
    (tiny_corpus / NEAR_MISSES_FILE).write_text(json.dumps({"question": "bread", "kind": "off-topic",
                                                            "source_id": "", "quote": ""}) + "\n", encoding="utf-8")
    build_index(tiny_corpus, tmp_path / "index", fake_embedder, Settings(abstain=False))
    assert quote in first(0.5)
    assert quote not in first(0.0)

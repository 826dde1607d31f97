"""Performance II (issue 14) must not change an answer: the fast dense scores (a matrix-vector product below
the ANN threshold), the partial top-k selection and the shortlisted spelling repair against the
straightforward versions they replaced, kept here as the reference: on the real index with every gold
question, and on a 25,000-passage index tiled from it, which is past the threshold (the HNSW path)."""

from __future__ import annotations

import difflib
import json
import random
import sys
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import pytest

import qa.retrieve.candidates
from qa.ingest.spelling import SpellFixer
from qa.ingest.text import words
from qa.retrieve.candidates import Retriever
from qa.retrieve.query import MODES, clean_question
from qa.retrieve.topk import top_indices
from qa.search import Searcher
from qa.settings import ANN_THRESHOLD

ROOT = Path(__file__).resolve().parents[2]

# --- the reference: the code as it was before issue 14 --------------------------------------------------


def ref_top(scores: np.ndarray, depth: int) -> np.ndarray:
    return np.argsort(-scores, kind="stable")[:depth]


class RefSpell(SpellFixer):
    def fix(self, word: str) -> str:  # no memo: every word is looked up in the whole vocabulary
        if word in self.known or len(word) < 5 or not word.isalpha():
            return word
        match = difflib.get_close_matches(word, self.vocabulary, n=1, cutoff=0.84)
        return match[0] if match else word


@contextmanager
def argsort_selection():
    new = qa.retrieve.candidates.top_indices
    qa.retrieve.candidates.top_indices = ref_top
    try:
        yield
    finally:
        qa.retrieve.candidates.top_indices = new


class RefRetriever(Retriever):
    """Dense scores and candidate selection as they were before issue 14."""

    def dense_scores(self, qvec):
        n = len(self.index)
        k = n if n <= 20_000 else self.settings.candidates * 20
        sims, ids = self.index.faiss_index.search(qvec.reshape(1, -1), k)
        out = np.full(n, -1.0, dtype=np.float32)
        valid = ids[0] >= 0
        out[ids[0][valid]] = sims[0][valid]
        return out

    def candidates(self, *args, **kw):
        with argsort_selection():
            return super().candidates(*args, **kw)


class Reference(Searcher):
    """A Searcher whose dense scores, candidate selection and spelling repair are the pre-issue-14 code."""

    def __init__(self, other: Searcher):
        super().__init__(other.index, other.embedder, other.settings, cache_size=0)
        self.query.spell = RefSpell(other.index.vocabulary)
        self.retriever = RefRetriever(self.index, self.settings, self.facts, self.features,
                                      sorted(self.topic.stems) if self.topic else [])


def candidates_of(s: Searcher, question: str, vec, mode: str, allowed):
    return s.retriever.candidates(question, s.query.terms(question), s.query.implicit(question), vec, mode, allowed)


def gold_questions() -> list[str]:
    with open(ROOT / "eval" / "gold.jsonl", encoding="utf-8") as f:
        return [json.loads(line)["question"] for line in f if line.strip()]


def same_candidates(new: Searcher, ref: Searcher, questions, vecs, allowed=None) -> int:
    compared = 0
    for q, v in zip(questions, vecs, strict=False):
        for mode in MODES:
            got, got_sig = candidates_of(new, q, v, mode, allowed)
            want, want_sig = candidates_of(ref, q, v, mode, allowed)
            assert [c.index for c in got] == [c.index for c in want], (q, mode)
            np.testing.assert_allclose([c.fused for c in got], [c.fused for c in want], atol=1e-5, err_msg=q)
            np.testing.assert_allclose([c.dense for c in got], [c.dense for c in want], atol=1e-5, err_msg=q)
            assert got_sig == pytest.approx(want_sig, abs=1e-5)
            compared += len(got)
    return compared


# --- fast unit checks ---------------------------------------------------------------------------------


def test_top_indices_is_the_stable_descending_sort_with_ties():
    rng = np.random.default_rng(0)
    for n in (1, 2, 5, 49, 50, 51, 300, 5000):
        for values in (rng.random(n), rng.integers(0, 3, n).astype(np.float32),  # many ties
                       np.where(rng.random(n) < 0.9, -1.0, rng.random(n)).astype(np.float32),  # ANN: -1 rest
                       np.where(rng.random(n) < 0.5, -np.inf, rng.random(n))):  # a source filter
            for depth in (0, 1, 10, 50, n - 1, n, n + 5):
                assert top_indices(values, depth).tolist() == ref_top(values, depth).tolist(), (n, depth)


def test_spelling_repair_matches_difflib_on_a_large_vocabulary():
    # 20,000 words: the real corpus's words and misspelt variants of them (insertions, deletions,
    # substitutions), so that many vocabulary words are close to each query word and to each other.
    rng = random.Random(0)
    from qa.ingest.corpus import load_corpus

    real = sorted({w for s in load_corpus(ROOT / "corpus") for w in words(s.text) if len(w) >= 4 and w.isalpha()})
    vocab = set(real)
    letters = "abcdefghijklmnopqrstuvwxyzé"

    def mutate(w: str) -> str:
        w = list(w)
        for _ in range(rng.randint(1, 2)):
            i = rng.randrange(len(w))
            op = rng.random()
            if op < 0.4:
                w[i] = rng.choice(letters)
            elif op < 0.7:
                w.insert(i, rng.choice(letters))
            elif len(w) > 4:
                del w[i]
        return "".join(w)

    while len(vocab) < 20_000:
        vocab.add(mutate(rng.choice(real)))
    fast, ref = SpellFixer(vocab), RefSpell(vocab)
    queries = [mutate(w) for w in rng.sample(real, 40)] + ["zzzzzzzz", "psychotherapyyy", "ïnterpersonal"]
    changed = 0
    for w in queries:
        assert fast.fix(w) == ref.fix(w), w
        changed += fast.fix(w) != w
    assert changed >= 20  # the comparison is about words that do get repaired


# --- the real index, every gold question ----------------------------------------------------------------


@pytest.mark.model
def test_gold_rankings_and_answers_identical_to_the_reference(real_searcher):
    new = Searcher(real_searcher.index, real_searcher.embedder, real_searcher.settings)
    ref = Reference(real_searcher)
    qs = gold_questions()
    assert len(new.index) < ANN_THRESHOLD  # the exact (matrix-vector) path
    texts = [clean_question(q, new.settings.max_question_chars)[0] for q in qs]
    vecs = new.query.encode([new.query.spell.repair(t) for t in texts])
    assert [new.query.spell.repair(t) for t in texts] == [ref.query.spell.repair(t) for t in texts]
    assert [new.query.terms(t) for t in texts] == [ref.query.terms(t) for t in texts]
    assert same_candidates(new, ref, texts, vecs) > 0
    one_source = sorted(new.index.sources)[0]
    assert same_candidates(new, ref, texts[:40], vecs[:40], new.retriever.allowed([one_source])) > 0

    got, want = new.ask_many(qs), ref.ask_many(qs)
    for a, b in zip(got, want, strict=False):
        da, db = a.to_dict(), b.to_dict()
        for d in (da, db):
            for h in d["passages"]:
                h.pop("score"), h.pop("similarity")
            d.pop("signals", None)
        assert da == db, a.question
        # Scores within 1e-5 (the candidates' tolerance above) can round to 4 decimals one unit apart.
        assert [h.score for h in a.passages] == pytest.approx([h.score for h in b.passages], abs=1.5e-4)


# --- past the ANN threshold: HNSW ------------------------------------------------------------------------


@pytest.mark.model
def test_rankings_identical_on_a_tiled_index_past_the_ann_threshold(real_searcher):
    if str(ROOT) not in sys.path:
        sys.path.insert(0, str(ROOT))
    from bench.scale import tile_index
    from qa.settings import HNSW_EF_SEARCH

    tiled = tile_index(real_searcher.index, ANN_THRESHOLD + 1_000)
    assert type(tiled.faiss_index).__name__ == "IndexHNSWFlat"
    assert tiled.faiss_index.hnsw.efSearch == HNSW_EF_SEARCH
    new = Searcher(tiled, real_searcher.embedder, real_searcher.settings)
    ref = Reference(new)
    qs = gold_questions()[::3]
    vecs = new.query.encode(qs)
    # Every passage is there about 110 times with the same keywords: BM25 ties everywhere, and the HNSW
    # search leaves all but 1,000 passages at -1.
    assert same_candidates(new, ref, qs, vecs) > 0
    assert same_candidates(new, ref, qs[:15], vecs[:15], new.retriever.allowed(sorted(tiled.sources)[:2])) > 0

"""The quality gate: retrieval and abstention on the held-out (test) half of eval/gold.jsonl must not fall
below floors set just under today's figures, and hybrid must beat each retriever alone. Also checks that the
gold set itself is fit to measure with."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from qa.evaluate.gold import load_gold
from qa.evaluate.scoring import evaluate
from qa.ingest.corpus import load_corpus

ROOT = Path(__file__).resolve().parents[2]
GOLD_PATH = ROOT / "eval" / "gold.jsonl"
CORPUS = ROOT / "corpus"

# Figures measured on 2026-12-03 with
#   ipt-qa eval --json      (fresh index of corpus/, real MiniLM model, qa/judge/abstain_model.json)
# after issue 20's one rule (answered / may-not-answer / refused) and the gate for questions with nothing to
# search for. Refusal alone is lower than before (test 0.571 -> 0.500, test2 0.450 -> 0.300): uncertain
# questions are now shown under a "may not answer" note rather than refused or shown as good matches; what a
# learner must not meet, an unanswerable question with a strong or good first card, is held below.
# test (63 answerable that mostly name IPT, 14 off-topic/near-miss):
#   hybrid: MRR@10 0.782, Recall@5 0.921, off-topic refused 0.500, answerable refused 0.000
#   bm25:   MRR@10 0.685;  dense: MRR@10 0.597
# test2 (85 answerable that leave the topic implicit, 20 off-topic/near-miss; written blind, never tuned on):
#   hybrid: Recall@1 0.647, Recall@5 0.894, MRR@10 0.753, answerable refused 0.035, off-topic refused 0.300
# unanswerable shown with a strong or good first card: test 0.000, test2 0.000, test3 0.025 (1 of 40);
# refused or shown as "may not answer": test 1.000, test2 1.000, test3 0.975.
# Each floor is about 0.03 below (above, for the wrongly-refused shares) the figure measured.
FLOOR_MRR = 0.75
FLOOR_R5 = 0.89
FLOOR_ABSTAIN = 0.45
FLOOR_WRONG = 0.05  # at most 3 of the 63 answerable test questions refused (0 measured; target <= 1%)
FLOOR_IMPLICIT = {"Recall@1": 0.61, "Recall@5": 0.86, "mrr@10": 0.72}
FLOOR_IMPLICIT_WRONG = 0.07  # 0.035 measured: 3 of 85 refused (target <= 1%, not reached)
FLOOR_IMPLICIT_ABSTAIN = 0.25
FLOOR_UNANSWERABLE_ANSWERED = 0.05  # per held-out split (target <= 2%: test3 is at 2.5%, one question)
FLOOR_UNANSWERABLE_REFUSED_OR_WEAK = 0.95  # per held-out split (target >= 95%)
FLOOR_ANSWERABLE_REFUSED_TEST3 = 0.09  # 1 of 24 measured; one question is 0.042 there

GOLD = load_gold(GOLD_PATH)
SOURCES = load_corpus(CORPUS)
TEXTS = {s.id: s.text for s in SOURCES}


@pytest.fixture(scope="module")
def results(real_searcher):
    return evaluate(real_searcher, GOLD, TEXTS)


@pytest.fixture(scope="module")
def test_half(results):
    return {mode: results["modes"][mode]["test"] for mode in ("hybrid", "bm25", "dense")}


@pytest.mark.model
def test_the_test_half_is_what_the_floors_were_set_on(test_half):
    assert test_half["hybrid"]["answerable"] == sum(q.answerable and q.split == "test" for q in GOLD)
    assert test_half["hybrid"]["off_topic"] == sum(not q.answerable and q.split == "test" for q in GOLD)


@pytest.mark.model
def test_hybrid_mrr_at_10(test_half):
    assert test_half["hybrid"]["mrr@10"] >= FLOOR_MRR


@pytest.mark.model
def test_hybrid_recall_at_5(test_half):
    assert test_half["hybrid"]["Recall@5"] >= FLOOR_R5


@pytest.mark.model
def test_off_topic_questions_are_abstained_on(test_half):
    assert test_half["hybrid"]["abstain_recall"] >= FLOOR_ABSTAIN


@pytest.mark.model
def test_answerable_questions_are_seldom_refused(test_half):
    assert test_half["hybrid"]["wrongly_abstained"] <= FLOOR_WRONG


@pytest.mark.model
@pytest.mark.parametrize("metric", sorted(FLOOR_IMPLICIT))
def test_implicit_topic_questions_are_answered(results, metric):
    assert results["modes"]["hybrid"]["test2"][metric] >= FLOOR_IMPLICIT[metric]


@pytest.mark.model
def test_implicit_topic_questions_are_seldom_refused_and_off_topic_ones_are(results):
    f = results["modes"]["hybrid"]["test2"]
    assert f["wrongly_abstained"] <= FLOOR_IMPLICIT_WRONG
    assert f["abstain_recall"] >= FLOOR_IMPLICIT_ABSTAIN


@pytest.mark.model
@pytest.mark.parametrize("split", ["test", "test2", "test3"])
def test_unanswerable_questions_are_not_shown_as_answered(results, split):
    f = results["modes"]["hybrid"][split]
    assert f["unans_answered"] <= FLOOR_UNANSWERABLE_ANSWERED
    assert f["unans_refused"] + f["unans_may-not-answer"] >= FLOOR_UNANSWERABLE_REFUSED_OR_WEAK


@pytest.mark.model
def test_the_blind_split_refuses_few_answerable_questions_and_every_nonsense_one(results):
    f = results["modes"]["hybrid"]
    assert f["test3"]["ans_refused"] <= FLOOR_ANSWERABLE_REFUSED_TEST3
    assert f["test3:nonsense"]["unans_refused"] == 1.0 and f["test3:other-language"]["unans_refused"] == 1.0


@pytest.mark.model
def test_labels_order_like_the_cards_and_strong_is_mostly_right(results):
    rank = {"strong": 0, "good": 1, "partial": 2}
    for per_q in results["questions"]["hybrid"].values():
        labels = [rank[h.label] for h in per_q["hits"]]
        assert labels == sorted(labels)
    held_out = [results["modes"]["hybrid"][s] for s in ("test", "test2")]
    assert all(f["label_strong_precision"] >= 0.7 for f in held_out)


@pytest.mark.model
@pytest.mark.parametrize("single", ["bm25", "dense"])
def test_hybrid_beats_each_retriever_alone(test_half, single):
    assert test_half["hybrid"]["mrr@10"] > test_half[single]["mrr@10"]


# --- the gold set --------------------------------------------------------------------------------------------------

def test_gold_set_size_and_off_topic_share():
    assert len(GOLD) >= 80
    assert sum(not q.answerable for q in GOLD) >= 15


def test_every_source_has_questions():
    answered = {a.source_id for q in GOLD for a in q.answers}
    assert answered == set(TEXTS)


def test_both_splits_have_answerable_and_off_topic_questions():
    for split in ("dev", "test", "test2", "test3"):
        qs = [q for q in GOLD if q.split == split]
        assert any(q.answerable for q in qs) and any(not q.answerable for q in qs), split


def test_questions_are_not_copied_from_the_sources():
    texts = [" ".join(t.split()).casefold() for t in TEXTS.values()]
    copied = [q.id for q in GOLD
              if q.kind != "nonsense" and any(" ".join(q.question.split()).casefold() in t for t in texts)]
    assert not copied


def test_the_implicit_split_is_large_and_leaves_the_topic_unsaid():
    test2 = [q for q in GOLD if q.split == "test2"]
    assert sum(q.answerable for q in test2) >= 80 and sum(not q.answerable for q in test2) >= 20
    assert not [q.id for q in test2 if re.search(r"\b(ipt|interpersonal)\b", q.question, re.I)]
    assert {q.kind for q in GOLD} == {"named", "implicit", "off-topic", "near-miss", "nonsense", "other-language"}


def test_questions_are_distinct():
    normalised = [" ".join(q.question.split()).casefold() for q in GOLD]
    assert len(set(normalised)) == len(normalised)

"""One rule for outcome and labels (qa/judge/outcome.py): the warning, the labels and the refusal agree."""

from __future__ import annotations

import random

from qa.judge.abstain import AbstainModel
from qa.judge.outcome import (
    ANSWERED,
    MAY_NOT_ANSWER,
    NO_MATCH,
    REFUSED,
    Verdict,
    card_label,
    card_labels,
    first_label,
    outcome_of,
    refusal_reason,
    verdict,
)

MODEL = AbstainModel(("own_unknown",), (0.0,), (1.0,), (1.0,), 0.0, refuse_at=0.8, weak_at=0.3, strong_below=0.1,
                     keep_at=0.9)
RANK = {"strong": 0, "good": 1, "partial": 2}


def test_outcome_and_first_label_come_from_the_same_cuts():
    assert (outcome_of(0.05, MODEL), first_label(0.05, MODEL)) == (ANSWERED, "strong")
    assert (outcome_of(0.2, MODEL), first_label(0.2, MODEL)) == (ANSWERED, "good")
    assert (outcome_of(0.3, MODEL), first_label(0.3, MODEL)) == (MAY_NOT_ANSWER, "partial")
    assert (outcome_of(0.8, MODEL), first_label(0.8, MODEL)) == (REFUSED, "partial")


def test_later_cards_are_good_only_close_to_the_first_and_never_above_it():
    assert card_labels(0.05, [1.0, 0.95, 0.5], MODEL) == ["strong", "good", "partial"]
    assert card_labels(0.2, [1.0, 0.95, 0.5], MODEL) == ["good", "good", "partial"]
    assert card_labels(0.5, [1.0, 1.0, 0.99], MODEL) == ["partial"] * 3
    assert card_label(0.05, 1.0, 1.0, MODEL) == "strong"


def test_random_answers_never_contradict_themselves():
    rng = random.Random(7)
    for _ in range(2000):
        p = rng.random()
        scores = sorted((rng.random() for _ in range(rng.randint(1, 8))), reverse=True)
        labels = card_labels(p, scores, MODEL)
        outcome = outcome_of(p, MODEL)
        assert (outcome == ANSWERED) == (labels[0] in ("strong", "good"))
        assert outcome == ANSWERED or set(labels) == {"partial"}
        assert all(RANK[x] >= RANK[labels[0]] for x in labels)
        assert all(label != "strong" for label in labels[1:])


# -- the policy for one question (verdict), out of the facade ------------------------------------------------

def test_no_passage_is_a_refusal_saying_nothing_matched():
    assert verdict(0.0, True, False, None, MODEL) == Verdict(REFUSED, NO_MATCH)


def test_a_weak_answer_is_shown_under_a_note_naming_the_kind_it_lacks():
    v = verdict(0.5, True, True, None, MODEL, "duration")
    assert v.outcome == MAY_NOT_ANSWER and v.reason is None and "asks for a duration" in v.note


def test_under_a_crisis_notice_only_a_confident_answer_is_shown():
    assert verdict(0.5, True, True, "call", MODEL) == Verdict(REFUSED, refusal_reason(0.5))
    assert verdict(0.2, True, True, "call", MODEL) == Verdict(ANSWERED)


def test_without_abstention_every_answer_is_shown_as_answered():
    assert verdict(0.95, False, True, "call", MODEL) == Verdict(ANSWERED)
    assert verdict(0.95, True, True, None, MODEL).refused

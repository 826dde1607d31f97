"""The relevance label of each card (strong / good / partial match)."""

from __future__ import annotations

from qa.judge.abstain import AbstainModel


def label_of(score: float, top_score: float, p_unanswered: float, model: AbstainModel) -> str:
    """The card's relevance label, from the score that orders the cards (relative to the first) times the
    confidence that the sources answer at all: non-increasing down the list, so a "good" card never sits
    above a "strong" one. Cut-offs fitted on dev (qa/evaluate/calibrate.py) for the precision each label
    promises."""
    value = (1.0 - p_unanswered) * (score / top_score if top_score > 0 else 0.0)
    if value >= model.strong_at:
        return "strong"
    if value >= model.good_at:
        return "good"
    return "partial"

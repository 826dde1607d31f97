"""One rule for what a learner is shown: the outcome of the answer and the label of every card come from the
same calibrated probability that the sources do not answer the question (qa/judge/abstain.py), so the
warning, the labels and the refusal can never disagree:

    p < strong_below            answered        first card "strong"
    strong_below <= p < weak_at answered        first card "good"
    weak_at <= p < refuse_at    may-not-answer  passages shown under a weak-match note, every card "partial"
    refuse_at <= p              refused         no passage; the reason and what the sources do cover

Later cards never rise above the first: one is "good" when the first is strong or good and its own score is
at least `keep_at` of the first card's, else "partial". The cut-offs are fitted on dev
(qa/evaluate/calibrate.py) for the budgets in docs/answer-quality.md.
"""

from __future__ import annotations

from dataclasses import dataclass

from qa.judge.abstain import AbstainModel

ANSWERED, MAY_NOT_ANSWER, REFUSED = "answered", "may-not-answer", "refused"
OUTCOMES = (ANSWERED, MAY_NOT_ANSWER, REFUSED)
TOPICS_COVERED = ("what IPT is, who created it, whom it helps, how long it lasts, how it works and how it "
                  "compares with other treatments")


def outcome_of(p: float, model: AbstainModel) -> str:
    if p >= model.refuse_at:
        return REFUSED
    if p >= model.weak_at:
        return MAY_NOT_ANSWER
    return ANSWERED


def first_label(p: float, model: AbstainModel) -> str:
    """The first card's label: "strong" / "good" when answered, "partial" otherwise."""
    if outcome_of(p, model) != ANSWERED:
        return "partial"
    return "strong" if p < model.strong_below else "good"


def card_label(p: float, score: float, top: float, model: AbstainModel) -> str:
    """The label of a card with ordering score `score` when the first card's is `top`."""
    first = first_label(p, model)
    if score >= top or first == "partial":
        return first
    return "good" if top > 0 and score / top >= model.keep_at else "partial"


def card_labels(p: float, scores: list[float], model: AbstainModel) -> list[str]:
    """Labels of the cards in order (scores: each card's ordering score, the first card's first)."""
    return [card_label(p, s, scores[0], model) if i else first_label(p, model) for i, s in enumerate(scores)]


NO_MATCH = "no passage in the sources matches the question's words or meaning"


def judged(p: float, abstain: bool) -> float:
    """The probability the labels and the outcome are read from: `p`, or 0.0 without abstention (evaluating
    the ranking alone), where every answer is shown and labelled as answered."""
    return p if abstain else 0.0


@dataclass(frozen=True)
class Verdict:
    """What a learner is shown for one question: the outcome, the refusal's reason, and the note to add."""

    outcome: str
    reason: str | None = None
    note: str | None = None

    @property
    def refused(self) -> bool:
        return self.outcome == REFUSED


def verdict(p: float, abstain: bool, any_passage: bool, notice: str | None, model: AbstainModel,
            missing_kind: str | None = None) -> Verdict:
    """The outcome for a question whose sources do not answer it with probability `p`. No passage at all is a
    refusal. Under a crisis `notice` only a confident answer is shown: a learner in distress is not handed
    passages that may not answer them. `missing_kind`: the kind of answer asked for that no passage holds."""
    if not any_passage:
        return Verdict(REFUSED, NO_MATCH)
    outcome = outcome_of(judged(p, abstain), model)
    if outcome == REFUSED or (outcome == MAY_NOT_ANSWER and notice):
        return Verdict(REFUSED, refusal_reason(p))
    if outcome == MAY_NOT_ANSWER:
        return Verdict(MAY_NOT_ANSWER, note=weak_note(p, missing_kind))
    return Verdict(ANSWERED)


def refusal_reason(p: float) -> str:
    return ("the sources do not seem to answer this question (confidence that they do not: "
            f"{p:.2f}); they cover {TOPICS_COVERED}")


def weak_note(p: float, missing_kind: str | None = None) -> str:
    """The note above an answer the sources may not give."""
    if missing_kind:
        return (f"weak match: the question asks for a {missing_kind}, and none of the first passages gives "
                "one; these passages touch on the question but may not answer it")
    return ("weak match: these passages touch on the question but may not answer it "
            f"(confidence that the sources do not answer it: {p:.2f})")

"""The outcome table of `ipt-qa eval` (qa/evaluate/outcomes.py), read off the records."""

from __future__ import annotations

from types import SimpleNamespace

from qa.evaluate.gold import GoldAnswer, GoldQuestion
from qa.evaluate.outcomes import outcome_figures, outcome_of, outcome_table


def hit(label, start=0, end=10, source="alpha"):
    return SimpleNamespace(label=label, source_id=source, start=start, end=end)


def test_outcome_is_read_from_refusal_and_first_label():
    assert outcome_of(True, []) == "refused"
    assert outcome_of(False, []) == "refused"
    assert outcome_of(False, [hit("good"), hit("partial")]) == "answered"
    assert outcome_of(False, [hit("partial"), hit("partial")]) == "may-not-answer"


def test_figures_split_answerable_and_unanswerable():
    qs = [GoldQuestion("a1", "q", "dev", [GoldAnswer("alpha", "x")], "named"),
          GoldQuestion("a2", "q", "dev", [GoldAnswer("alpha", "x")], "named"),
          GoldQuestion("u1", "q", "dev", [], "near-miss")]
    per_q = {"a1": {"abstained": False, "hits": [hit("strong", 0, 10)]},
             "a2": {"abstained": False, "hits": [hit("partial", 50, 60)]},
             "u1": {"abstained": True, "hits": []}}
    spans = {"a1": [("alpha", 0, 5)], "a2": [("alpha", 0, 5)], "u1": []}
    f = outcome_figures(qs, per_q, spans)
    assert f == {"ans_answered": 0.5, "ans_may-not-answer": 0.5, "ans_refused": 0.0, "ans_right_answered": 0.5,
                 "unans_answered": 0.0, "unans_may-not-answer": 0.0, "unans_refused": 1.0}
    table = outcome_table({"modes": {"hybrid": {"dev": {"answerable": 2, "off_topic": 1, **f}}}}, "hybrid", ["dev"])
    assert "| dev | 2 | 0.500 | 0.500 | 0.500 | 0.000 | 1 | 0.000 | 0.000 | 1.000 |" in table

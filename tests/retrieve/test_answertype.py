"""The kind of answer a question asks for, and whether a passage holds one."""

from __future__ import annotations

import pytest

from qa.retrieve.answertype import (
    COUNT,
    DATE,
    DURATION,
    FREQUENCY,
    PERSON,
    PLACE,
    PRICE,
    SESSION_LENGTH,
    holds,
    kind_of,
    states,
)


@pytest.mark.parametrize("question, kind", [
    ("who came up with this therapy", PERSON),
    ("who invented it", PERSON),
    ("who is it for", None),  # a population, not a person's name
    ("how long does it take", DURATION),
    ("how long is each session", SESSION_LENGTH),
    ("how often would i go", FREQUENCY),
    ("how many sessions are there", COUNT),
    ("how much does it cost", PRICE),
    ("will my insurance cover it", PRICE),
    ("where is it offered", PLACE),
    ("what year was it first developed", DATE),
    ("when was this last updated", DATE),
    ("when is it used", None),  # a situation, not a date
    ("what is it", None),
])
def test_kind_of_question(question, kind):
    assert kind_of(question) == kind


@pytest.mark.parametrize("kind, text, held", [
    (PERSON, "Gerald L. Klerman and Myrna M. Weissman initially created interpersonal psychotherapy", True),
    (PERSON, "IPT is a form of psychotherapy that focuses on relieving symptoms", False),
    (SESSION_LENGTH, "typically consists of 12 to 16 one-hour weekly sessions", True),
    (SESSION_LENGTH, "IPT is typically administered over 12-16 sessions", False),
    (DURATION, "IPT is typically administered over 12-16 sessions", True),
    (FREQUENCY, "IPT sessions are commonly scheduled once a week for 12 to 16 weeks.", True),
    (FREQUENCY, "IPT is a brief form of psychotherapy.", False),
    (PRICE, "Therapy can be expensive if you are paying privately.", True),
    (PLACE, "integrated into various settings, such as outpatient clinics, hospitals", True),
    (DATE, "by | Last updated on January 24, 2024", True),
    (DATE, "Coyne's (1976b) interpersonal theory of depression", True),
    (DATE, "IPT has a strict time limit, established at its outset", False),
    (COUNT, "ranging for acute treatment from 12 to 16 weekly sessions", True),
])
def test_holds(kind, text, held):
    assert holds(kind, text) is held


@pytest.mark.model
@pytest.mark.parametrize("kind, sentence, stated", [
    # A value states a duration, with words between the number and its unit or not ...
    (DURATION, "IPT has a strict time limit, ranging for acute treatment from 12 to 16 weekly sessions .", True),
    (DURATION, "It typically consists of 12 to 16 one-hour weekly sessions.", True),
    (DURATION, "IPT is a time-limited therapy, typically lasting 12-16 weeks.", True),
    (DURATION, "IPT is a short-term treatment.", True),
    # ... the words that only name it do not (they still count for the passage: `holds`).
    (DURATION, "Although this duration arose as a compromise, it has proved an adequate length.", False),
    (DURATION, "IPT has a strict time limit.", False),
    (COUNT, "IPT is typically administered over 12-16 sessions.", True),
    (COUNT, "The number of sessions is agreed at the start.", False),
    (PERSON, "Gerald L. Klerman and Myrna M. Weissman created IPT.", True),
    (PERSON, "He has written several publications on nutrition and fitness.", False),
])
def test_states(kind, sentence, stated):
    assert states(kind, sentence) is stated


def test_naming_the_notion_is_held_by_a_passage_but_not_stated_by_a_sentence():
    sentence = "Although this duration arose as a compromise, it has proved an adequate length."
    assert holds(DURATION, sentence) and not states(DURATION, sentence)


def test_the_passage_that_gives_the_kind_of_answer_is_the_one_shown(real_searcher):
    """Several sources give the number of sessions; only one says each lasts an hour. For the length of a
    session that one is shown, not folded under a twin as "also stated in"."""
    a = real_searcher.ask("how long is each session", k=5)
    assert "one-hour" in a.passages[0].text
    assert not any("one-hour" in t.text for h in a.passages for t in h.also_in)


@pytest.mark.model
def test_a_kind_of_answer_no_passage_gives_is_flagged_or_refused(real_searcher):
    """The sources give no year IPT was made: the answer is refused or flagged as weak, never plain."""
    a = real_searcher.ask("what year was it first developed", k=5)
    assert a.abstained or any(w.startswith("weak match") for w in a.warnings)

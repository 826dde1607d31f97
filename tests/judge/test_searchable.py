"""Questions with nothing to search for are refused with a reason (qa/judge/searchable.py)."""

from __future__ import annotations

import pytest

from qa.judge.searchable import NO_KNOWN_WORDS, NO_WORDS, NOT_ENGLISH, question_words, unsearchable_reason

KNOWN = {"who", "made", "ipt", "purple", "elbow", "is", "it", "safe", "what", "how", "long"}


def knows(word: str) -> bool:
    return word in KNOWN


@pytest.mark.parametrize("question", ["😀😀😀🙏", "?????", "#@!%&*", "...", "k", "z", "🤷\u200d♀️🌧️", "12 34"])
def test_no_words_is_refused(question):
    assert unsearchable_reason(question, knows) == NO_WORDS


@pytest.mark.parametrize("question", ["asdfgh qwerty", "jjjjjjjjj", "qwertyuiop zxcvbnm"])
def test_no_known_word_is_refused(question):
    assert unsearchable_reason(question, knows) == NO_KNOWN_WORDS


@pytest.mark.parametrize("question", ["¿cuántas sesiones dura la terapia interpersonal?", "人际关系疗法对抑郁症有效吗",
                                      "как приготовить борщ"])
def test_another_language_is_refused(question):
    assert unsearchable_reason(question, knows) == NOT_ENGLISH


@pytest.mark.parametrize("question", ["who made ipt", "is it safe?? 🙏", "how long", "purple elbow"])
def test_a_question_with_a_known_word_goes_on(question):
    assert unsearchable_reason(question, knows) is None


def test_words_are_letters_of_any_script_two_or_more():
    assert question_words("IPT's 12-16 sessions, é à") == ["ipt", "sessions"]

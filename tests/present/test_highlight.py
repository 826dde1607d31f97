"""The highlight of a card is the sentence that holds the answer, with the real model and corpus. MiniLM
rated "Although this duration arose as a compromise ..." above "... from 12 to 16 weekly sessions" for "how
long does it take", so the card said the answer and the yellow highlight sat on the next sentence."""

from __future__ import annotations

import re

import pytest

TWELVE_TO_SIXTEEN = re.compile(r"\b12\s*(?:to|-|–)\s*16\b")


def highlight(hit) -> str:
    return hit.text[hit.highlight["start"] - hit.start:hit.highlight["end"] - hit.start]


@pytest.mark.parametrize("question", [
    "how long does it take",
    "how long does the whole thing take start to finish",
    "how long will i need to go for",
    "how many sessions will i need",
])
def test_the_highlight_of_the_first_card_holds_the_duration_asked_for(real_searcher, question):
    answer = real_searcher.ask(question)
    assert not answer.abstained, question
    top = answer.passages[0]
    assert TWELVE_TO_SIXTEEN.search(top.text), top.text  # the card holds the answer ...
    assert TWELVE_TO_SIXTEEN.search(highlight(top)), highlight(top)  # ... and its highlight is on it


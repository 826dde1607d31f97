"""Is there anything to search for? A question made only of symbols, emoji, punctuation or single letters,
or of no word that the sources or an English dictionary know ("asdfgh", "jjjjjjj"), or written in another
language, is refused with its reason before the model is asked anything: whatever passages the search would
return for it would be noise with a confident-looking label.

Pure functions; the vocabulary is passed in (qa/judge/vocabulary.py reads the English one)."""

from __future__ import annotations

import re
from collections.abc import Callable

from qa.retrieve.language import looks_non_english

WORD = re.compile(r"[^\W\d_]{2,}")  # two letters or more, any script

NO_WORDS = ("the question has no words to search for (only symbols, emoji, numbers, punctuation or single "
            "letters); ask in words, e.g. \"how long does IPT last?\"")
NO_KNOWN_WORDS = ("none of the question's words is a word the sources or an English dictionary know; check the "
                  "spelling, or ask in other words")
NOT_ENGLISH = ("the question does not seem to be in English, and the sources are in English only; ask in "
               "English, e.g. \"what is interpersonal therapy?\"")


def question_words(question: str) -> list[str]:
    """The question's words of two letters or more, lower-cased."""
    return [w.casefold() for w in WORD.findall(question)]


def unsearchable_reason(question: str, knows: Callable[[str], bool]) -> str | None:
    """Why `question` cannot be searched, or None when it can. `knows(word)`: the corpus or an English
    dictionary knows the (lower-cased) word."""
    if looks_non_english(question):
        return NOT_ENGLISH
    words = question_words(question)
    if not words:
        return NO_WORDS
    if not any(knows(w) for w in words):
        return NO_KNOWN_WORDS
    return None

"""The words a question may use: the corpus's own, and the English words of the bundled model's tokenizer
vocabulary (bert-base-uncased's 21,722 whole alphabetic words), read from its vocab.txt without loading the
model. Without the model package (the fast tests), the English list is empty and the corpus's words stand in."""

from __future__ import annotations

from collections.abc import Callable, Iterable

from qa.index.wordvec import english_words
from qa.ingest.text import analyze


def knower(corpus_stems: Iterable[str], english: frozenset[str] | None = None) -> Callable[[str], bool]:
    """knows(word): the word is an English word, or its stem occurs in the corpus."""
    stems = frozenset(corpus_stems)
    words = english_words() if english is None else english

    def knows(word: str) -> bool:
        return word in words or any(s in stems for s in analyze(word))

    return knows

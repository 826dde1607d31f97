"""Name cues: a question about a particular name (a therapy, an organisation, a person, written with capitals
or as an acronym: "DBT", "NHS", "Medicare", "Weissman") that none of the first passages mentions is likely
one the sources do not answer. Pure function."""

from __future__ import annotations

import re

from qa.index.wordvec import text_words
from qa.ingest.text import stem

_NAME = re.compile(r"\b(?:[A-Z]{2,6}s?|[A-Z][a-z]+(?:[A-Z][a-z]+)*)\b")


def names_in(question: str) -> list[str]:
    """Lower-cased words of the question written as names or acronyms, except its first word (capitalised
    because it begins the sentence) and "I"."""
    out = []
    for m in _NAME.finditer(question):
        word = m.group(0)
        if m.start() == len(question) - len(question.lstrip()) and not word.isupper():
            continue
        out.append(word.casefold().removesuffix("s") if word[:-1].isupper() and word.endswith("s") else word.casefold())
    return out


def name_absent(question: str, passage_texts: list[str], topic_stems: frozenset[str]) -> float:
    """1.0 when the question names something (beyond the topic's own names) that no passage mentions."""
    names = [n for n in names_in(question) if stem(n) not in topic_stems]
    if not names:
        return 0.0
    seen = {w for t in passage_texts for w in text_words(t)}
    return float(any(n not in seen for n in names))

"""Keyword analysis shared by the BM25 index, highlighting and abstention: words, stop words, stems."""

from __future__ import annotations

import re
import unicodedata
from functools import lru_cache

WORD_RE = re.compile(r"[^\W_]+(?:['’][^\W_]+)*", re.UNICODE)


@lru_cache(maxsize=1)
def _stemmer():
    import Stemmer  # PyStemmer

    return Stemmer.Stemmer("english")


@lru_cache(maxsize=1)
def stopwords() -> frozenset[str]:
    from bm25s.stopwords import STOPWORDS_EN  # deferred: bm25s is heavy; its word list is read once

    # Question words carry no topic; learners' phrasing adds them everywhere.
    return frozenset(STOPWORDS_EN) | {"what", "who", "whom", "how", "why", "when", "where", "which", "does", "do",
                                      "can", "could", "would", "should", "may", "might", "much", "many", "tell",
                                      "explain", "mean", "means", "s", "t", "i", "me", "my", "you", "your"}


def words(text: str) -> list[str]:
    """Lower-cased words, accents folded, possessive 's dropped."""
    text = unicodedata.normalize("NFKC", text).casefold()
    out = []
    for w in WORD_RE.findall(text):
        w = w.replace("’", "'")
        if w.endswith("'s"):
            w = w[:-2]
        out.append(w)
    return out


def stem(word: str) -> str:
    return _stemmer().stemWord(word)


def analyze(text: str) -> list[str]:
    """Stems of the content words of `text`: what BM25 indexes and matches."""
    stops = stopwords()
    return [stem(w) for w in words(text) if w not in stops]

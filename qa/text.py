"""Keyword analysis shared by the BM25 index, highlighting and abstention: words, stop words, stems."""

from __future__ import annotations

import difflib
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
    from bm25s.stopwords import STOPWORDS_EN

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


class SpellFixer:
    """Maps a query word that is not in the corpus to its closest corpus word ("pyschotherapy" ->
    "psychotherapy"), so one typo does not blank out the keyword retriever."""

    def __init__(self, vocabulary: set[str]):
        self.vocabulary = sorted(w for w in vocabulary if len(w) >= 4 and w.isalpha())
        self.known = set(vocabulary)

    @lru_cache(maxsize=4096)
    def fix(self, word: str) -> str:
        if word in self.known or len(word) < 5 or not word.isalpha():
            return word
        match = difflib.get_close_matches(word, self.vocabulary, n=1, cutoff=0.84)
        return match[0] if match else word

    def fix_text(self, text: str) -> list[str]:
        return [self.fix(w) for w in words(text)]

    def repair(self, text: str) -> str:
        """`text` with each word unknown to the corpus replaced by its closest corpus word, everything else
        (case, punctuation, spacing) kept: what the embedder sees, since MiniLM's word pieces turn a typo
        ("assesment") into unrelated fragments."""

        def one(m: re.Match) -> str:
            word = words(m.group(0))
            if len(word) != 1 or word[0] in self.known:
                return m.group(0)
            fixed = self.fix(word[0])
            return m.group(0) if fixed == word[0] else fixed

        return WORD_RE.sub(one, text)

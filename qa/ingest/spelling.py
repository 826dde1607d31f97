"""Spelling repair of query words unknown to the corpus, so one typo does not blank out a retriever."""

from __future__ import annotations

import difflib
import re

import numpy as np

from qa.ingest.text import WORD_RE, words


class SpellFixer:
    """Maps a query word that is not in the corpus to its closest corpus word ("pyschotherapy" ->
    "psychotherapy"), so one typo does not blank out the keyword retriever.

    The answer is exactly `difflib.get_close_matches(word, vocabulary, n=1, cutoff=0.84)`, computed on a
    shortlist: `get_close_matches` keeps a word only if two upper bounds of its similarity pass the cutoff,
    one from the lengths alone (real_quick_ratio) and one from the letters shared regardless of order
    (quick_ratio). Both are computed here for the whole vocabulary at once, by length bucket and with a
    letter-count matrix, and the same checks then run on the few words left. At a 30,000-word vocabulary
    this takes an unknown word from about 55 ms to a few ms (bench/RESULTS.md)."""

    CUTOFF = 0.84
    MEMO_SIZE = 4096

    def __init__(self, vocabulary: set[str]):
        self.vocabulary = sorted(w for w in vocabulary if len(w) >= 4 and w.isalpha())
        self.known = set(vocabulary)
        self._memo: dict[str, str] = {}
        self._letters = {c: i for i, c in enumerate(sorted(set("".join(self.vocabulary))))}
        by_length: dict[int, list[str]] = {}
        for w in self.vocabulary:
            by_length.setdefault(len(w), []).append(w)
        self._buckets = {n: (ws, self._counts(ws)) for n, ws in by_length.items()}

    def _counts(self, ws: list[str]) -> np.ndarray:
        m = np.zeros((len(ws), len(self._letters)), dtype=np.int16)
        for r, w in enumerate(ws):
            for c in w:
                m[r, self._letters[c]] += 1
        return m

    def shortlist(self, word: str) -> list[str]:
        """The vocabulary words that `get_close_matches` would not reject on its two upper bounds."""
        la, out = len(word), []
        q = np.zeros(len(self._letters), dtype=np.int16)
        for c in word:
            if c in self._letters:  # a letter no corpus word has is shared with none
                q[self._letters[c]] += 1
        for lb, (ws, counts) in self._buckets.items():
            # difflib's own arithmetic (2.0 * matches / total), so that the bounds compare exactly as there
            if 2.0 * min(la, lb) / (la + lb) < self.CUTOFF:
                continue
            shared = np.minimum(counts, q).sum(axis=1)
            out += [ws[r] for r in np.flatnonzero(2.0 * shared / (la + lb) >= self.CUTOFF)]
        return out

    def fix(self, word: str) -> str:
        """`word`, or the corpus word closest to it when it is unknown to the corpus (remembered per fixer)."""
        memo = self._memo
        if word in memo:
            return memo[word]
        if word in self.known or len(word) < 5 or not word.isalpha():
            out = word
        else:
            match = difflib.get_close_matches(word, self.shortlist(word), n=1, cutoff=self.CUTOFF)
            out = match[0] if match else word
        # A plain bounded dict, per fixer: an lru_cache on the method kept every SpellFixer (and with it every
        # replaced build's vocabulary) alive for as long as the process ran. Emptied when full: a word costs
        # about a millisecond to look up again.
        if len(memo) >= self.MEMO_SIZE:
            memo.clear()
        memo[word] = out
        return out

    def forget(self) -> None:
        """Empty the memo of repaired words (for benchmarks of a question never seen before)."""
        self._memo.clear()

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

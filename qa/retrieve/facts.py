"""Facts about one loaded index that every question uses, computed once when it is loaded: the content stems
of each passage and sentence, how rare each stem is, and which passages are page furniture."""

from __future__ import annotations

import numpy as np

from qa.index.load import LoadedIndex
from qa.ingest.furniture import furniture_kind
from qa.ingest.text import analyze


class IndexFacts:
    def __init__(self, index: LoadedIndex):
        self.index = index
        self.source_of = np.array([p.source_id for p in index.passages])
        self.stems = [set(analyze(p.context)) for p in index.passages]
        self.vocab_stems: set[str] = set().union(*self.stems) if self.stems else set()
        # Inverse document frequency of each stem over passages: words every passage shares ("ipt",
        # "therapy") say little about whether two sentences make the same statement.
        df: dict[str, int] = {}
        for stems in self.stems:
            for t in stems:
                df[t] = df.get(t, 0) + 1
        n = max(len(index.passages), 1)
        self.idf = {t: float(np.log((n + 1) / (c + 0.5))) for t, c in df.items()}
        # Page furniture (author bios, link lists): ranked after content unless the question asks for it.
        self.furniture = [furniture_kind(p.section, p.text) for p in index.passages]
        self.content_stems: set[str] = set().union(
            *(st for st, f in zip(self.stems, self.furniture, strict=True) if not f)) if self.stems else set()
        self._sentence_stems: dict[int, set[str]] = {}

    def rows_of(self, pool: np.ndarray) -> np.ndarray:
        """Rows of `sentence_vectors` of every passage in `pool`, passage after passage."""
        lo, hi = self.index.sentence_offsets[pool], self.index.sentence_offsets[pool + 1]
        return np.concatenate([np.arange(a, b) for a, b in zip(lo, hi, strict=True)])

    def sentence_stems(self, row: int) -> set[str]:
        """Content stems of one sentence, analysed once and kept (a dict write is atomic under the GIL)."""
        if row not in self._sentence_stems:
            i = int(np.searchsorted(self.index.sentence_offsets, row, side="right")) - 1
            p = self.index.passages[i]
            a, b = p.sentences[row - int(self.index.sentence_offsets[i])]
            self._sentence_stems[row] = set(analyze(p.text[a - p.start:b - p.start]))
        return self._sentence_stems[row]

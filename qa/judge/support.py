"""Per-word support: does the particular thing the question asks about appear in the passages found?

Near-misses share the sources' words ("can I do this over video call": the passages speak of "the video" of
one source); what gives them away is one of the question's own words with nothing like it in the passages.
For each of the question's own content words (not stop words, not the corpus's topic words), its best
cosine with any word of the first passages, in the static word-vector table (qa/index/wordvec.py). The
weakest word's support and the mean are the signals. Pure functions over arrays.
"""

from __future__ import annotations

import numpy as np

from qa.index.wordvec import text_words
from qa.ingest.text import stem, stopwords


def own_words(question: str, topic_stems: frozenset[str]) -> list[str]:
    """The question's content words beyond the topic's, in order, without repeats."""
    stops = stopwords()
    out: list[str] = []
    for w in text_words(question):
        if w not in stops and stem(w) not in topic_stems and w not in out:
            out.append(w)
    return out


def word_support(own: list[str], passage_rows: np.ndarray, vectors: np.ndarray,
                 row: dict[str, int]) -> tuple[float, float]:
    """(weakest, mean) support of the words `own` by the table rows `passage_rows`: for each word, its best
    cosine with a passage word (an unknown word has support 0). (1, 1) when the question has no own word."""
    if not own:
        return 1.0, 1.0
    if passage_rows.size == 0:
        return 0.0, 0.0
    words = vectors[passage_rows]
    support = [float((words @ vectors[row[w]]).max()) if w in row else 0.0 for w in own]
    return min(support), float(np.mean(support))

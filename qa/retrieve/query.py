"""Read a question against one index: clean it, repair its typos, find its keyword stems, tell whether it
leaves the corpus's topic unsaid, and embed it (two vectors from one model call: one ranks, one judges)."""

from __future__ import annotations

import re
import unicodedata
from collections import OrderedDict

import numpy as np

from qa.errors import QAError
from qa.index.embed import Embedder
from qa.index.load import LoadedIndex
from qa.ingest.spelling import SpellFixer
from qa.ingest.text import stem, stopwords
from qa.ingest.topic import Topic
from qa.settings import Settings

MODES = ("hybrid", "bm25", "dense")
_CONTROL_RE = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\u200b-\u200f\u202a-\u202e\u2066-\u2069\ufeff]")


class QuestionError(QAError):
    """The question cannot be searched (empty after clean-up)."""


def clean_question(raw: str, max_chars: int) -> tuple[str, list[str]]:
    """Normalise a question for search; returns it with any warnings. Raises QuestionError when empty."""
    if not isinstance(raw, str):
        raise QuestionError(f"the question must be text, not {type(raw).__name__}")
    # Lone surrogates (from broken JSON or clipboard) cannot be encoded: replace them.
    text = raw.encode("utf-8", "replace").decode("utf-8")
    text = unicodedata.normalize("NFC", _CONTROL_RE.sub(" ", text))
    text = " ".join(text.split())
    if not text:
        raise QuestionError("the question is empty; type a question about Interpersonal Psychotherapy (IPT)")
    warnings = []
    if len(text) > max_chars:
        cut = text.rfind(" ", 0, max_chars)
        text = text[: cut if cut > max_chars // 2 else max_chars]
        warnings.append(f"the question was {len(raw):,} characters long; only its first {len(text):,} were searched")
    return text, warnings


class QueryReader:
    """What a question asks, read against one index. Thread-safe for concurrent use (the vector cache is an
    OrderedDict touched under the GIL; the model call is serialised inside the embedder)."""

    def __init__(self, index: LoadedIndex, embedder: Embedder, settings: Settings, topic: Topic | None,
                 cache_size: int = 1024):
        self.embedder = embedder
        self.settings = settings
        self.topic = topic
        self.spell = SpellFixer(index.vocabulary)
        self.cache: OrderedDict[str, np.ndarray] = OrderedDict()
        self.cache_size = cache_size
        self._topic_vec: np.ndarray | None = None

    def encode(self, questions: list[str]) -> np.ndarray:
        """Question vectors, from a small LRU cache when a question repeats."""
        missing = [q for q in dict.fromkeys(questions) if q not in self.cache]
        if missing:
            for q, v in zip(missing, self.embedder.encode(missing), strict=True):
                self.cache[q] = v
        out = np.stack([self.cache[q] for q in questions])
        for q in questions:
            self.cache.move_to_end(q)
        while len(self.cache) > self.cache_size:
            self.cache.popitem(last=False)
        return out

    def implicit(self, question: str) -> bool:
        """Does the question leave the corpus's topic unsaid (so it is searched as if it named it)?"""
        return self.topic is not None and not self.topic.named_in(question)

    def terms(self, question: str) -> list[str]:
        """BM25 query stems, with words unknown to the corpus replaced by their closest corpus word."""
        stops = stopwords()
        return [stem(w) for w in self.spell.fix_text(question) if w not in stops]

    def vectors(self, questions: list[str]) -> np.ndarray:
        """Two vectors per question, from one model call, shape (n, 2, dim): [0] ranks, [1] judges.

        Ranking uses the question as typed (typos repaired): every passage is about the topic, so adding the
        topic only blurs what the question asks (measured on dev: implicit-topic Recall@1 0.60 -> 0.52 with
        "(Interpersonal Psychotherapy (IPT))" appended). Judging whether the sources answer it uses the
        question read as being about the topic: for a question that leaves the topic unsaid, its vector moved
        towards the topic's own (`topic_judge_weight`). That costs no second model call, and separated
        answerable from unanswerable dev questions as well as embedding the question with the topic's name
        appended (tools measured both; see docs/answer-quality.md)."""
        texts = [self.spell.repair(q) for q in questions]
        vecs = self.encode(texts)
        out = np.repeat(vecs[:, None, :], 2, axis=1)
        weight = self.settings.topic_judge_weight
        implicit = [i for i, q in enumerate(questions) if self.implicit(q)]
        tv = self.topic_vector() if implicit and weight > 0 else None
        if tv is not None:
            for i in implicit:
                v = out[i, 1] + weight * tv
                out[i, 1] = v / max(float(np.linalg.norm(v)), 1e-12)
        return out

    def topic_vector(self) -> np.ndarray | None:
        """The topic's name embedded alone (once): what a question that adds nothing to the topic matches."""
        if self.topic is None:
            return None
        if self._topic_vec is None:
            self._topic_vec = self.embedder.encode([self.topic.name])[0]
        return self._topic_vec

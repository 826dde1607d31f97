"""What a question asks for, weighed in the ranking: passages holding the kind of answer asked for rise, and
page furniture the question does not ask for goes after every content passage."""

from __future__ import annotations

from qa.index.load import LoadedIndex
from qa.ingest.furniture import KINDS as FURNITURE_KINDS
from qa.ingest.furniture import asks_for
from qa.retrieve.answertype import holds, kind_of
from qa.retrieve.facts import IndexFacts
from qa.settings import Settings


class RankFeatures:
    def __init__(self, index: LoadedIndex, settings: Settings, facts: IndexFacts):
        self.index = index
        self.settings = settings
        self.facts = facts
        self._holds: dict[tuple[str, int], bool] = {}

    def holds_answer(self, kind: str, i: int) -> bool:
        """Does passage i hold an answer of the kind asked for (qa/retrieve/answertype.py)? Cached per
        (kind, passage)."""
        key = (kind, i)
        if key not in self._holds:
            self._holds[key] = holds(kind, self.index.passages[i].text)
        return self._holds[key]

    def unasked_furniture(self, question: str, terms: list[str], i: int) -> bool:
        """Is passage i furniture the question does not ask for? A question asks for it by its words ("where
        can I read more", "who wrote this"), or, asking for no kind by its words, by naming something only
        furniture holds ("world psychiatry article"). `terms`: the question's query stems."""
        kind = self.facts.furniture[i]
        if not kind:
            return False
        if asks_for(question, kind):
            return False
        if any(asks_for(question, other) for other in FURNITURE_KINDS):
            return True
        own = set(terms) & self.facts.stems[i]
        return not (own - self.facts.content_stems)

    def best_possible(self, question: str) -> float:
        """The highest adjusted score any passage can reach for `question`: 1.0 (first in every retriever)
        plus `answer_type_bonus` when the question asks for a kind of answer. The score shown is the adjusted
        score over this, in [0, 1], with the order and the ratios of the adjusted score."""
        return 1.0 + (self.settings.answer_type_bonus if kind_of(question) else 0.0)

    def adjust(self, question: str, fused: dict[int, float]) -> dict[int, float]:
        """Fused scores adjusted by what the question asks for: passages holding the kind of answer asked for
        rise by `answer_type_bonus`."""
        bonus = self.settings.answer_type_bonus
        kind = kind_of(question)
        out = {}
        for i, f in fused.items():
            if kind and bonus and self.holds_answer(kind, i):
                f += bonus
            out[i] = f
        return out

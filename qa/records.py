"""The records that leave the library: what `ipt-qa ask --json`, the web API and the evaluation see.

These dataclasses are the one definition of the answer record: `to_dict()` is its JSON form, and the JSON schema
(docs/ask-record.schema.json), the typed signature of the page's API (qa/serve/apitypes.py) and the tests are
checked against their fields (tests/serve/test_schema.py)."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, fields
from typing import TypedDict, cast


class Span(TypedDict):
    """Absolute character offsets into the source file."""

    start: int
    end: int


class Reference(TypedDict):
    """How to cite a passage (qa/present/citation.py)."""

    apa: str
    mla: str
    in_text: str
    footnote: str


@dataclass
class Citation:
    """Where a passage stands: `text == open(path, encoding="utf-8").read()[start:end]`."""

    source_id: str
    title: str
    path: str
    section: str
    start: int
    end: int
    line_start: int
    line_end: int


@dataclass
class AlsoIn(Citation):
    """The same statement in another source (grouped under the best passage)."""

    text: str = ""
    highlight: Span = field(default_factory=lambda: cast(Span, {}))  # {} until highlighted

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass
class Hit(Citation):
    """One passage of an answer (a "passage" of the record), best first."""

    rank: int = 0
    # In [0, 1]: the score that orders the cards over the best it can reach for the question, 1.0 = first in
    # every retriever and, when the question asks for a kind of answer (a duration, a person), holding one.
    score: float = 0.0
    similarity: float = 0.0  # cosine between question and passage
    # "strong" / "good" / "partial": from the score that orders the cards (qa/judge/outcome.py, card_labels)
    label: str = ""
    text: str = ""
    highlight: Span = field(default_factory=lambda: cast(Span, {}))  # the best-matching sentence
    url: str = ""
    also_in: list[AlsoIn] = field(default_factory=list)
    # How to cite it: {"apa", "mla", "in_text", "footnote"} (qa/present/citation.py).
    citation: Reference | dict = field(default_factory=dict)

    def to_dict(self) -> dict:
        """The record's "passages" item: every field, the ranking's first, then where it stands and its text."""
        d = asdict(self)
        return {k: d[k] for k in HIT_FIRST + tuple(f.name for f in fields(self) if f.name not in HIT_FIRST)}


HIT_FIRST = ("rank", "score", "similarity", "label")


@dataclass
class Answer:
    """The answer to one question; `to_dict()` is the record (every field but `signals`)."""

    question: str
    abstained: bool
    reason: str | None
    passages: list[Hit]
    warnings: list[str] = field(default_factory=list)  # e.g. the question was cut to the length bound
    notice: str | None = None  # crisis notice when the question mentions suicide or self-harm
    mode: str = "hybrid"
    signals: dict = field(default_factory=dict)  # what abstention looked at (for evaluation; not in to_dict)
    # "answered" (first card strong or good), "may-not-answer" (shown under a weak-match note, every card
    # partial) or "refused" (no passage): one rule decides it with the labels (qa/judge/outcome.py).
    outcome: str = ""

    def __post_init__(self) -> None:
        if not self.outcome:
            self.outcome = "refused" if self.abstained else "answered"

    def to_dict(self) -> dict:
        d = {f.name: getattr(self, f.name) for f in fields(self) if f.name not in NOT_IN_RECORD}
        d = {"question": d.pop("question"), "abstained": d.pop("abstained"), "outcome": d.pop("outcome"), **d}
        return {**d, "passages": [h.to_dict() for h in self.passages], "warnings": list(self.warnings)}


NOT_IN_RECORD = frozenset({"signals"})  # what abstention looked at: for evaluation, not part of the record

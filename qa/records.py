"""The records that leave the library: what `ipt-qa ask --json`, the web API and the evaluation see."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field


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
    highlight: dict = field(default_factory=dict)


@dataclass
class Hit(Citation):
    rank: int = 0
    # In [0, 1]: the score that orders the cards over the best it can reach for the question, 1.0 = first in
    # every retriever and, when the question asks for a kind of answer (a duration, a person), holding one.
    score: float = 0.0
    similarity: float = 0.0  # cosine between question and passage
    # "strong" / "good" / "partial": from the score that orders the cards (qa/judge/outcome.py, card_labels)
    label: str = ""
    text: str = ""
    highlight: dict = field(default_factory=dict)  # {"start", "end"}: best-matching sentence, absolute offsets
    url: str = ""
    also_in: list[AlsoIn] = field(default_factory=list)
    # How to cite it: {"apa", "mla", "in_text", "footnote"} (qa/present/citation.py).
    citation: dict = field(default_factory=dict)

    def to_dict(self) -> dict:
        d = asdict(self)
        order = ["rank", "score", "similarity", "label", "source_id", "title", "path", "section", "start", "end",
                 "line_start", "line_end", "text", "highlight", "url", "also_in", "citation"]
        return {k: d[k] for k in order}


@dataclass
class Answer:
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
        return {"question": self.question, "abstained": self.abstained, "outcome": self.outcome,
                "reason": self.reason, "passages": [h.to_dict() for h in self.passages],
                "warnings": list(self.warnings), "notice": self.notice, "mode": self.mode}

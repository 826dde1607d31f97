"""The answer record's shape as Python types, for typed signatures (the web API's /ask). The same shape as
`Answer.to_dict()` and docs/ask-record.schema.json; tests check all three against each other."""

from __future__ import annotations

from typing import TypedDict


class Span(TypedDict):
    start: int
    end: int


class AlsoInRecord(TypedDict):
    source_id: str
    title: str
    path: str
    section: str
    start: int
    end: int
    line_start: int
    line_end: int
    text: str
    highlight: Span


class Reference(TypedDict):
    apa: str
    mla: str
    in_text: str
    footnote: str


class PassageRecord(TypedDict):
    rank: int
    score: float
    similarity: float
    label: str  # "strong" / "good" / "partial"
    source_id: str
    title: str
    path: str
    section: str
    start: int
    end: int
    line_start: int
    line_end: int
    text: str
    highlight: Span
    url: str
    also_in: list[AlsoInRecord]
    citation: Reference


class AskRecord(TypedDict):
    question: str
    abstained: bool
    outcome: str  # "answered" | "may-not-answer" | "refused"
    reason: str | None
    passages: list[PassageRecord]
    warnings: list[str]
    notice: str | None
    mode: str


def as_record(answer) -> AskRecord:
    """`answer.to_dict()` as plain JSON values, exactly what `ipt-qa ask --json` prints for it."""
    import json

    return json.loads(json.dumps(answer.to_dict(), ensure_ascii=False))

"""The answer record's shape as Python types, for the typed signature of the page's Gradio API /ask: the
record of `Answer.to_dict()` and docs/ask-record.schema.json, except that the source file of a citation is
named `file`, not `path`. gradio_client (protocol sse_v3) downloads every object of a result that has a
string "path", so with `path` a default `Client(url).predict(..., api_name="/ask")` failed with "403 Forbidden
.../gradio_api/file=corpus/..." (the file route is closed on purpose). The record is defined once, by the
dataclasses of qa/records.py; tests/serve/test_schema.py checks these types and the schema against them."""

from __future__ import annotations

import json
from typing import TypedDict

from qa.records import Reference, Span


class AlsoInRecord(TypedDict):
    source_id: str
    title: str
    file: str  # `path` in `ipt-qa ask --json` and /api/v1/ask
    section: str
    start: int
    end: int
    line_start: int
    line_end: int
    text: str
    highlight: Span


class PassageRecord(TypedDict):
    rank: int
    score: float
    similarity: float
    label: str  # "strong" / "good" / "partial"
    source_id: str
    title: str
    file: str  # `path` in `ipt-qa ask --json` and /api/v1/ask
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


def _file_not_path(citation: dict) -> dict:
    return {("file" if key == "path" else key): value for key, value in citation.items()}


def as_record(answer) -> AskRecord:
    """`answer.to_dict()` as plain JSON values, as `ipt-qa ask --json` prints it, with each citation's `path`
    named `file` (same value, same place) so that gradio_client does not take passages for files."""

    record = json.loads(json.dumps(answer.to_dict(), ensure_ascii=False))
    record["passages"] = [{**_file_not_path(p), "also_in": [_file_not_path(a) for a in p["also_in"]]}
                          for p in record["passages"]]
    return record

"""The question banks beside the sources: what the sources answer, and what they come close to without answering.

    corpus/questions.jsonl     {"question", "source_id", "quote"}: a question the quote (an exact substring of
                               the source) answers
    corpus/near-misses.jsonl   {"question", "kind", "source_id", "quote"}: kind "near-miss" (about a part of a
                               source, answered by none; `quote` is the part it sits closest to) or "off-topic"
                               (`source_id` and `quote` empty)

Both are optional and travel with the corpus. A row whose quote is no longer in its source (the source was
edited or removed) is *stale*: it is counted and named, never used. How to write and check rows:
docs/question-banks.md.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

from qa.errors import CorpusError


class Span(Protocol):
    """A passage as far as placing a row goes (qa/ingest/passages.Passage; not imported: passages.py imports
    corpus.py, which imports this module)."""

    @property
    def source_id(self) -> str: ...
    @property
    def start(self) -> int: ...
    @property
    def end(self) -> int: ...

ANSWERS_FILE = "questions.jsonl"
NEAR_MISSES_FILE = "near-misses.jsonl"
BANK_FILES = (ANSWERS_FILE, NEAR_MISSES_FILE)
ANSWER, NEAR_MISS, OFF_TOPIC = "answer", "near-miss", "off-topic"
MAX_BANK_BYTES = 8 * 1024 * 1024  # tens of thousands of rows; a bigger file is a mistake, refused in one line
MAX_QUESTION_CHARS = 500
_KEYS = {ANSWERS_FILE: {"question", "source_id", "quote"},
         NEAR_MISSES_FILE: {"question", "kind", "source_id", "quote"}}


@dataclass(frozen=True)
class BankRow:
    question: str
    kind: str  # ANSWER, NEAR_MISS or OFF_TOPIC
    source_id: str  # "" for off-topic
    quote: str
    file: str  # which bank file, and
    line: int  # which line of it (from 1)
    start: int = -1  # the quote's characters in its source; -1 for off-topic and stale rows
    end: int = -1


@dataclass
class Bank:
    rows: list[BankRow] = field(default_factory=list)  # usable: answer rows placed in their source, near-misses
    stale: list[BankRow] = field(default_factory=list)  # quote (or source) gone since the row was written

    def stale_by_source(self) -> dict[str, int]:
        out: dict[str, int] = {}
        for r in self.stale:
            out[r.source_id] = out.get(r.source_id, 0) + 1
        return dict(sorted(out.items()))

    def stale_line(self) -> str | None:
        """One line for a build's log, or None when nothing is stale."""
        if not self.stale:
            return None
        per = ", ".join(f"{sid or '(no source)'} {n}" for sid, n in self.stale_by_source().items())
        return (f"question bank: {len(self.stale)} row(s) stale, their quote no longer in the source ({per}); "
                "they are not used; `ipt-qa bank` lists them")


def normalise(question: str) -> str:
    """The form two questions are compared in for "the same question": lower case, words only."""
    return " ".join(re.findall(r"\w+", question.lower()))


def parse_rows(name: str, data: bytes, shown: str | None = None) -> list[BankRow]:
    """Rows of bank file `name` (ANSWERS_FILE or NEAR_MISSES_FILE); a CorpusError names the file (`shown`, by
    default `name`) and line of the first malformed row."""
    shown = shown or name
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as e:
        raise CorpusError(f"{shown}: not UTF-8 (byte {e.start}); save it as UTF-8") from None
    rows: list[BankRow] = []
    for n, line in enumerate(text.split("\n"), 1):
        if not line.strip():
            continue
        where = f"{shown}, line {n}"
        try:
            raw = json.loads(line)
        except ValueError as e:
            raise CorpusError(f"{where}: not JSON ({e})") from None
        if not isinstance(raw, dict) or set(raw) != _KEYS[name]:
            got = sorted(raw) if isinstance(raw, dict) else type(raw).__name__
            raise CorpusError(f"{where}: fields {got}, expected {sorted(_KEYS[name])}")
        if not all(isinstance(raw[k], str) for k in raw):
            raise CorpusError(f"{where}: every field is a string")
        question = " ".join(raw["question"].split())
        if not question or len(question) > MAX_QUESTION_CHARS:
            raise CorpusError(f"{where}: the question is empty or over {MAX_QUESTION_CHARS} characters")
        kind = raw.get("kind", ANSWER)
        if kind not in (ANSWER, NEAR_MISS, OFF_TOPIC) or (name == NEAR_MISSES_FILE and kind == ANSWER):
            raise CorpusError(f"{where}: kind {kind!r}; use \"near-miss\" or \"off-topic\"")
        if kind == OFF_TOPIC and (raw["source_id"] or raw["quote"]):
            raise CorpusError(f"{where}: an off-topic row has source_id \"\" and quote \"\"")
        if kind != OFF_TOPIC and not (raw["source_id"] and raw["quote"]):
            raise CorpusError(f"{where}: source_id and quote are needed (the quote an exact part of the source)")
        rows.append(BankRow(question, kind, raw["source_id"], raw["quote"], name, n))
    return rows


def place(rows: list[BankRow], texts: dict[str, str]) -> Bank:
    """Find each row's quote in its source (`texts`: source id -> text); rows whose quote is gone are stale."""
    bank = Bank()
    for r in rows:
        if r.kind == OFF_TOPIC:
            bank.rows.append(r)
            continue
        at = texts[r.source_id].find(r.quote) if r.source_id in texts else -1
        if at < 0:
            bank.stale.append(r)
        else:
            bank.rows.append(BankRow(r.question, r.kind, r.source_id, r.quote, r.file, r.line, at,
                                     at + len(r.quote)))
    return bank


def read_bank_bytes(corpus_dir: Path) -> dict[str, bytes]:
    """The bank files present in `corpus_dir` (name -> bytes); size-checked before reading."""
    out = {}
    for name in BANK_FILES:
        path = corpus_dir / name
        if path.is_file():
            size = path.stat().st_size
            if size > MAX_BANK_BYTES:
                raise CorpusError(f"{path}: {size / 2**20:,.1f} MiB is over the limit of "
                                  f"{MAX_BANK_BYTES / 2**20:g} MiB for a question bank")
            out[name] = path.read_bytes()
    return out


def parse_bank(corpus_dir: str | os.PathLike, banks: dict[str, bytes], texts: dict[str, str]) -> Bank:
    """Check and place the bank files `banks` (name -> bytes, as read from `corpus_dir`)."""
    return place([r for name, data in banks.items() for r in parse_rows(name, data, str(Path(corpus_dir) / name))],
                 texts)


def load_bank(corpus_dir: str | os.PathLike, texts: dict[str, str]) -> Bank:
    """Read, check and place both banks of `corpus_dir`."""
    return parse_bank(corpus_dir, read_bank_bytes(Path(corpus_dir)), texts)


def passage_of(row: BankRow, passages: Sequence[Span]) -> int:
    """The passage holding most of an answer row's quote (-1: none, e.g. its quote is page chrome)."""
    best, best_overlap = -1, 0
    if row.kind != ANSWER:
        return -1
    for i, p in enumerate(passages):
        if p.source_id == row.source_id:
            overlap = min(p.end, row.end) - max(p.start, row.start)
            if overlap > best_overlap:
                best, best_overlap = i, overlap
    return best

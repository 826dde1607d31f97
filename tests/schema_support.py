"""The shared answer-record schema (docs/ask-record.schema.json), for the tests of the CLI, API and runs."""

from __future__ import annotations

import json
from pathlib import Path

SCHEMA_PATH = Path(__file__).resolve().parent.parent / "docs" / "ask-record.schema.json"


def _validator(sub: str | None = None):
    from jsonschema import Draft202012Validator

    schema = json.loads(SCHEMA_PATH.read_text(encoding="utf-8"))
    Draft202012Validator.check_schema(schema)
    return Draft202012Validator(schema["$defs"][sub] if sub else schema)


def record_errors(record: dict) -> list[str]:
    """Why `record` is not a valid answer record (empty when it is)."""
    return [f"{'/'.join(map(str, e.path))}: {e.message}" for e in _validator().iter_errors(record)]


def run_record_errors(record: dict) -> list[str]:
    """Why `record` is not a valid line of an `ipt-qa eval --run` file (empty when it is)."""
    return [f"{'/'.join(map(str, e.path))}: {e.message}" for e in _validator("run_record").iter_errors(record)]

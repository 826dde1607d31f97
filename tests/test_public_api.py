"""The public entry point: `from qa import open_searcher` and the names of `qa.__all__`, typed records out."""

from __future__ import annotations

import dataclasses
import json
import re
from pathlib import Path

import pytest
from schema_support import record_errors

import qa

ROOT = Path(__file__).resolve().parents[1]


def test_every_public_name_resolves():
    for name in qa.__all__:
        assert getattr(qa, name) is not None, name
    with pytest.raises(AttributeError):
        qa.Routes  # noqa: B018 - inner modules are not reached through qa


def test_open_searcher_answers_with_typed_records(tiny_corpus, tmp_path, fake_embedder):
    from qa import Answer, Hit, LiveSearcher, Settings, open_searcher

    said: list[str] = []
    searcher = open_searcher(tmp_path / "index", tiny_corpus, settings=Settings(abstain=False),
                             embedder=fake_embedder, say=said.append)
    assert isinstance(searcher, LiveSearcher) and any("building" in line for line in said)
    answer = searcher.ask("Who created IPT?", k=2)
    assert isinstance(answer, Answer) and answer.passages and all(isinstance(h, Hit) for h in answer.passages)
    assert dataclasses.is_dataclass(answer) and record_errors(json.loads(json.dumps(answer.to_dict()))) == []
    assert set(searcher.index.sources) == {"alpha", "beta"} and searcher.settings.abstain is False
    # No untyped passthrough to the inner Searcher: its parts are reached through current(), on purpose.
    with pytest.raises(AttributeError):
        searcher.retriever  # type: ignore[attr-defined]  # noqa: B018
    assert searcher.current().retriever is not None


def test_the_readme_shows_the_three_line_python_use():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    block = re.search(r"```python\n(from qa import open_searcher\n.*?)```", readme, re.S)
    assert block and len(block.group(1).strip().splitlines()) == 3

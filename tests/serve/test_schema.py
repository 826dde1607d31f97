"""One schema for the answer record (docs/ask-record.schema.json), checked against real output of the CLI
(real model, real index) and against the records `ipt-qa eval --save-run` writes and `--run` reads. The web
API's records are checked in tests/serve/test_app_api.py."""

from __future__ import annotations

import dataclasses
import json
import typing

import pytest
from schema_support import SCHEMA_PATH, record_errors, run_record_errors

from qa.cli import main
from qa.records import NOT_IN_RECORD, AlsoIn, Answer, Hit, Reference, Span
from qa.serve.apitypes import AlsoInRecord, AskRecord, PassageRecord


def _fields(cls) -> set[str]:
    return {f.name for f in dataclasses.fields(cls)}


def _as_file(names: set[str]) -> set[str]:
    return {"file" if n == "path" else n for n in names}


def test_the_record_is_defined_once_by_the_dataclasses():
    """qa/records.py is the definition; the schema, the API's types and to_dict() follow it field for field."""
    schema = json.loads(SCHEMA_PATH.read_text(encoding="utf-8"))
    defs = schema["$defs"]
    record = _fields(Answer) - NOT_IN_RECORD
    assert record == set(schema["properties"]) == set(schema["required"]) == set(typing.get_type_hints(AskRecord))
    citation = set(defs["citation"]["required"]) | {"path"}
    assert _fields(Hit) == set(defs["passage"]["required"]) | citation
    assert _fields(AlsoIn) == set(defs["also_in"]["required"]) | citation
    assert _as_file(_fields(Hit)) == set(typing.get_type_hints(PassageRecord))
    assert _as_file(_fields(AlsoIn)) == set(typing.get_type_hints(AlsoInRecord))
    assert set(typing.get_type_hints(Span)) == set(defs["span"]["required"])
    assert set(typing.get_type_hints(Reference)) == set(defs["reference"]["required"])
    hit = Hit(source_id="a", title="A", path="corpus/a.txt", section="", start=0, end=1, line_start=1, line_end=1,
              rank=1, score=1.0, similarity=0.5, label="strong", text="x", highlight={"start": 0, "end": 1},
              citation={"apa": "A.", "mla": "A.", "in_text": "(A)", "footnote": "x"},
              also_in=[AlsoIn(source_id="b", title="B", path="corpus/b.txt", section="", start=0, end=1,
                              line_start=1, line_end=1, text="x", highlight={"start": 0, "end": 1})])
    answer = Answer(question="q", abstained=False, reason=None, passages=[hit], signals={"p": 0.1})
    d = answer.to_dict()
    assert list(d) == ["question", "abstained", "outcome", "reason", "passages", "warnings", "notice", "mode"]
    assert list(d["passages"][0])[:5] == ["rank", "score", "similarity", "label", "source_id"]
    assert record_errors(json.loads(json.dumps(d))) == []


def test_the_typed_signature_names_the_schema_fields():
    schema = json.loads(SCHEMA_PATH.read_text(encoding="utf-8"))
    assert set(typing.get_type_hints(AskRecord)) == set(schema["properties"]) == set(schema["required"])
    # The typed signature is the Gradio API's /ask, whose citations name the source file `file` (the schema
    # requires one of `path`, `file`).
    assert schema["$defs"]["citation"]["oneOf"] == [{"required": ["path"]}, {"required": ["file"]}]
    citation = set(schema["$defs"]["citation"]["required"]) | {"file"}
    passage = set(schema["$defs"]["passage"]["required"]) | citation
    assert set(typing.get_type_hints(PassageRecord)) == passage
    also = set(schema["$defs"]["also_in"]["required"]) | citation
    assert set(typing.get_type_hints(AlsoInRecord)) == also


def test_schema_rejects_what_the_contract_does_not_allow():
    good = {"question": "q", "abstained": True, "outcome": "refused", "reason": "nothing close", "passages": [],
            "warnings": [], "notice": None, "mode": "hybrid"}
    assert record_errors(good) == []
    assert record_errors({**good, "mode": "fuzzy"})
    assert record_errors({**good, "outcome": "maybe"})
    assert record_errors({**good, "extra": 1})
    assert record_errors({k: v for k, v in good.items() if k != "reason"})
    assert record_errors({**good, "passages": [{"rank": 1, "text": "t"}]})
    passage = {"rank": 1, "score": 1.0, "similarity": 0.5, "label": "strong", "source_id": "a", "title": "A",
               "path": "corpus/a.txt", "section": "", "start": 0, "end": 1, "line_start": 1, "line_end": 1,
               "text": "x", "highlight": {"start": 0, "end": 1}, "url": "", "also_in": [],
               "citation": {"apa": "A. (n.d.). No address recorded.", "mla": "\"A.\"", "in_text": "(A, n.d.)",
                            "footnote": "\"x\" A, line 1."}}
    assert record_errors({**good, "passages": [passage]}) == []
    named_file = {("file" if k == "path" else k): v for k, v in passage.items()}
    assert record_errors({**good, "passages": [named_file]}) == []  # the Gradio API's /ask
    assert record_errors({**good, "passages": [{**passage, "file": "corpus/a.txt"}]})  # not both
    assert record_errors({**good, "passages": [{k: v for k, v in passage.items() if k != "path"}]})  # nor none


@pytest.mark.model
def test_cli_records_follow_the_schema(real_index_dir, real_embedder, monkeypatch, capsys):
    monkeypatch.setattr("qa.live.load_embedder", lambda: real_embedder)  # the real model, loaded once
    questions = ["Who created interpersonal psychotherapy?", "What is the capital of France?",
                 "I have thought about suicide. Can IPT help?", "role disputes"]
    monkeypatch.setattr("sys.stdin", __import__("io").StringIO("\n".join(questions) + "\n"))
    assert main(["ask", "--json", "-k", "5", "--index", str(real_index_dir)]) == 0
    records = [json.loads(x) for x in capsys.readouterr().out.splitlines()]
    assert len(records) == 4
    for r in records:
        assert record_errors(r) == [], r["question"]
    assert any(r["abstained"] for r in records) and any(r["notice"] for r in records)


def test_saved_run_records_are_records_and_run_lines(tiny_searcher, tiny_corpus, tmp_path):
    from tiny_gold import TINY_GOLD

    from qa.evaluate.saved import save_run
    from qa.evaluate.scoring import evaluate
    from qa.ingest.corpus import load_corpus

    texts = {s.id: s.text for s in load_corpus(tiny_corpus)}
    gold = tmp_path / "gold.jsonl"
    gold.write_text("", encoding="utf-8")
    results = evaluate(tiny_searcher, TINY_GOLD, texts, modes=("hybrid",))
    save_run(tmp_path / "saved", results, TINY_GOLD, tiny_searcher, gold)
    lines = [json.loads(x) for x in (tmp_path / "saved" / "records.hybrid.jsonl").read_text().splitlines()]
    assert lines
    for line in lines:
        assert run_record_errors(line) == []
        assert record_errors({k: v for k, v in line.items() if k != "id"}) == []


def test_run_lines_another_system_may_write():
    assert run_record_errors({"id": "q1", "passages": [{"text": "a passage"}]}) == []
    assert run_record_errors({"question": "who", "passages": [{"file": "a.txt", "start": 0, "end": 4}]}) == []
    assert run_record_errors({"passages": []})  # neither id nor question
    assert run_record_errors({"id": "q1", "passages": [{"start": 0, "end": 4}]})  # located by nothing

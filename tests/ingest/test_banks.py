"""The question banks (qa/ingest/banks.py, qa/index/bank.py, qa/ingest/bankreport.py): rows are checked and
placed, stale rows are named and never used, a bank edit makes the index stale, and the project's own banks
hold what issue 27 asks of them (sizes, coverage of every passage, exact quotes, no copy of a gold question)."""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pytest

from qa.cli import main
from qa.errors import CorpusError, IndexStale
from qa.evaluate.bankcheck import near_copies
from qa.index.build import build_index
from qa.index.load import load_index
from qa.ingest.bankreport import coverage, report_lines
from qa.ingest.banks import (
    ANSWERS_FILE,
    NEAR_MISSES_FILE,
    BankRow,
    load_bank,
    parse_rows,
    passage_of,
    place,
)
from qa.ingest.corpus import load_corpus
from qa.settings import Settings

ROOT = Path(__file__).resolve().parents[2]
SETTINGS = Settings(abstain=False)
ALPHA_QUOTE = "IPT usually lasts 12 to 16 weekly sessions."


def write(path: Path, rows: list[dict]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return path


def answer(q: str, sid: str = "alpha", quote: str = ALPHA_QUOTE) -> dict:
    return {"question": q, "source_id": sid, "quote": quote}


@pytest.mark.parametrize(("line", "message"), [
    ("not json", "not JSON"),
    ('{"question": "q", "source_id": "alpha"}', "fields ['question', 'source_id']"),
    ('{"question": "", "source_id": "alpha", "quote": "x"}', "question is empty"),
    ('{"question": "q", "source_id": "", "quote": ""}', "source_id and quote are needed"),
    ('{"question": 3, "source_id": "alpha", "quote": "x"}', "every field is a string"),
])
def test_a_malformed_answer_row_is_named_by_file_and_line(line, message):
    data = (json.dumps(answer("fine")) + "\n\n" + line + "\n").encode()
    with pytest.raises(CorpusError, match=rf"corpus/questions.jsonl, line 3: .*{re.escape(message)}"):
        parse_rows(ANSWERS_FILE, data, "corpus/questions.jsonl")


def test_near_miss_rows_need_a_kind_and_off_topic_rows_no_source():
    bad_kind = {"question": "q", "kind": "answer", "source_id": "alpha", "quote": "x"}
    with pytest.raises(CorpusError, match="line 1: kind 'answer'"):
        parse_rows(NEAR_MISSES_FILE, (json.dumps(bad_kind) + "\n").encode())
    off = {"question": "how do i bake bread", "kind": "off-topic", "source_id": "alpha", "quote": "x"}
    with pytest.raises(CorpusError, match="off-topic row has source_id"):
        parse_rows(NEAR_MISSES_FILE, (json.dumps(off) + "\n").encode())
    fine = {**off, "source_id": "", "quote": ""}
    assert parse_rows(NEAR_MISSES_FILE, (json.dumps(fine) + "\n").encode())[0].kind == "off-topic"


def test_rows_are_placed_at_their_quote_and_stale_when_it_is_gone():
    text = "Intro.\nIPT lasts 12 weeks. More."
    rows = [BankRow("how long", "answer", "a", "IPT lasts 12 weeks.", "q", 1),
            BankRow("who", "answer", "a", "Klerman created it.", "q", 2),
            BankRow("x", "answer", "gone", "IPT", "q", 3),
            BankRow("bread", "off-topic", "", "", "n", 1)]
    bank = place(rows, {"a": text})
    assert [(r.question, text[r.start:r.end]) for r in bank.rows if r.start >= 0] == [("how long",
                                                                                      "IPT lasts 12 weeks.")]
    assert [r.question for r in bank.rows] == ["how long", "bread"]
    assert [r.question for r in bank.stale] == ["who", "x"]
    assert bank.stale_by_source() == {"a": 1, "gone": 1}
    assert "2 row(s) stale" in (bank.stale_line() or "") and "a 1, gone 1" in (bank.stale_line() or "")


def test_a_row_belongs_to_the_passage_holding_most_of_its_quote():
    from types import SimpleNamespace as P
    passages = [P(source_id="a", start=0, end=10), P(source_id="a", start=10, end=30),
                P(source_id="b", start=0, end=30)]
    row = BankRow("q", "answer", "a", "x" * 12, "f", 1, 6, 18)  # 4 characters in the first, 8 in the second
    assert passage_of(row, passages) == 1
    assert passage_of(BankRow("q", "answer", "a", "x", "f", 1, 40, 45), passages) == -1  # page chrome
    assert passage_of(BankRow("q", "near-miss", "a", "x", "f", 1, 0, 5), passages) == -1


def test_stale_rows_are_said_in_one_line_and_never_used(tiny_corpus, tmp_path, fake_embedder, capsys):
    write(tiny_corpus / ANSWERS_FILE, [answer("how many weeks is it"), answer("who made it", quote="Gerald Klerman")])
    index = tmp_path / "index"
    build_index(tiny_corpus, index, fake_embedder, SETTINGS)
    assert load_index(index, tiny_corpus, settings=SETTINGS).bank.questions == ["how many weeks is it",
                                                                                  "who made it"]
    text = (tiny_corpus / "alpha.txt").read_text(encoding="utf-8")
    (tiny_corpus / "alpha.txt").write_text(text.replace("Gerald Klerman", "G. Klerman"), encoding="utf-8")
    report = build_index(tiny_corpus, index, fake_embedder, SETTINGS)
    assert report.bank_note is not None and "1 row(s) stale" in report.bank_note and "(alpha 1)" in report.bank_note
    assert report.summary().splitlines()[-1] == report.bank_note  # one line, in the build's summary
    loaded = load_index(index, tiny_corpus, settings=SETTINGS)
    assert loaded.bank.questions == ["how many weeks is it"]
    assert loaded.manifest["bank"]["stale"] == {"alpha": 1}
    # `ipt-qa bank` names the stale row by file and line, and exits 1.
    assert main(["bank", "--corpus", str(tiny_corpus), "--index", str(index)]) == 1
    out = capsys.readouterr().out
    assert "1 stale" in out and "questions.jsonl:2  alpha  'who made it'" in out


def test_a_bank_edit_makes_the_index_stale(tiny_corpus, tmp_path, fake_embedder):
    index = tmp_path / "index"
    build_index(tiny_corpus, index, fake_embedder, SETTINGS)
    assert len(load_index(index, tiny_corpus, settings=SETTINGS).bank) == 0  # a corpus without a bank works
    write(tiny_corpus / ANSWERS_FILE, [answer("how many weeks is it")])
    with pytest.raises(IndexStale, match="questions.jsonl added"):
        load_index(index, tiny_corpus, settings=SETTINGS)
    report = build_index(tiny_corpus, index, fake_embedder, SETTINGS)
    assert report.embedded == 1  # only the new question: passages and sentences are reused
    assert load_index(index, tiny_corpus, settings=SETTINGS).bank.questions == ["how many weeks is it"]


def test_a_malformed_bank_stops_the_build_with_its_line_and_keeps_the_old_index(tiny_corpus, tmp_path,
                                                                               fake_embedder):
    index = tmp_path / "index"
    build_index(tiny_corpus, index, fake_embedder, SETTINGS)
    before = load_index(index, tiny_corpus, settings=SETTINGS).directory
    (tiny_corpus / NEAR_MISSES_FILE).write_text('{"question": "q"}\n', encoding="utf-8")
    with pytest.raises(CorpusError, match=r"near-misses.jsonl, line 1: fields"):
        build_index(tiny_corpus, index, fake_embedder, SETTINGS)
    assert load_index(index, None, settings=SETTINGS, check_corpus=False).directory == before


# --- the project's own banks ---

def project_bank():
    texts = {s.id: s.text for s in load_corpus(ROOT / "corpus")}
    return load_bank(ROOT / "corpus", texts), texts


def test_the_project_banks_are_large_exact_and_cover_every_passage():
    bank, texts = project_bank()
    assert not bank.stale
    answers = [r for r in bank.rows if r.kind == "answer"]
    others = [r for r in bank.rows if r.kind != "answer"]
    assert len(answers) >= 1500 and len(others) >= 800
    assert {r.kind for r in others} == {"near-miss", "off-topic"}
    for r in bank.rows:
        if r.kind != "off-topic":
            assert texts[r.source_id][r.start:r.end] == r.quote
    cov = coverage(ROOT / "corpus")
    assert min(cov.per_passage) >= 2, report_lines(cov)  # every passage has questions that it answers
    # Near-misses sit beside the text: most passages have some close to them.
    assert sum(n > 0 for n in cov.near_per_passage) >= 0.8 * len(cov.passages)


def test_no_bank_question_is_a_gold_question_or_both_answerable_and_not():
    bank, _ = project_bank()
    gold = [json.loads(line)["question"] for line in (ROOT / "eval" / "gold.jsonl").read_text().splitlines() if line]
    assert near_copies([r.question for r in bank.rows], gold) == []
    answers = [r.question for r in bank.rows if r.kind == "answer"]
    near = [r.question for r in bank.rows if r.kind != "answer"]
    assert near_copies(near, answers) == []


def test_near_copies_finds_the_same_question_by_text_and_by_cosine():
    assert near_copies(["Who created IPT?", "how long"], ["who  created ipt", "other"]) == [(0, 0, 1.0)]
    vecs = {"a": [1.0, 0.0], "b": [0.96, 0.28], "c": [0.0, 1.0]}

    def encode(texts):
        return np.array([vecs[t] for t in texts])
    assert near_copies(["a", "c"], ["b"], encode) == [(0, 0, pytest.approx(0.96))]


def test_eval_check_covers_the_banks(tiny_corpus, tmp_path, capsys):
    gold = tmp_path / "gold.jsonl"
    gold.write_text(json.dumps({"id": "g1", "split": "dev", "kind": "named", "question": "how long is ipt",
                                "answers": [{"source_id": "alpha", "quote": ALPHA_QUOTE}]}) + "\n")
    write(tiny_corpus / ANSWERS_FILE, [answer("How long is IPT?"), answer("who", quote="no such words")])
    assert main(["eval", "--check", "--gold", str(gold), "--corpus", str(tiny_corpus)]) == 1
    out = capsys.readouterr().out
    assert "questions.jsonl, line 2: stale" in out
    assert "questions.jsonl, line 1: the same question as a gold question" in out

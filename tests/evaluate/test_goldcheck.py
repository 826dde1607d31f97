"""Gold maintenance: a quote that no longer occurs names its row and the rest is still scored; `--check`
only validates; weak rows are listed as warnings."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from qa.cli import main
from qa.evaluate.gold import GoldAnswer, GoldQuestion
from qa.evaluate.goldcheck import broken_rows, gold_warnings

ROOT = Path(__file__).resolve().parents[2]
QUOTE = "Gerald L. Klerman and Myrna M. Weissman"


def row(qid, question, quotes, split="dev", kind="named"):
    return {"id": qid, "split": split, "kind": kind, "question": question,
            "answers": [{"source_id": s, "quote": q} for s, q in quotes]}


def write_gold(path: Path, rows) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return path


def test_each_kind_of_weak_row_is_warned_about_by_id():
    texts = {"a": "IPT helps. It was made by Gerald Klerman and Myrna Weissman in the 1970s for adults with "
                  "depression. IPT helps."}
    qs = [
        GoldQuestion("copy", "was it made by gerald klerman and myrna weissman in the 1970s for adults?", "dev",
                     [GoldAnswer("a", "made by Gerald Klerman and Myrna Weissman in the 1970s for adults")]),
        GoldQuestion("short", "does it help", "dev", [GoldAnswer("a", "It was made")]),
        GoldQuestion("twice", "is ipt helpful", "dev", [GoldAnswer("a", "IPT helps.")]),
        GoldQuestion("fine", "who created it", "dev", [GoldAnswer("a", "Gerald Klerman and Myrna Weissman")]),
        GoldQuestion("dup", "Who  created it?", "test", [GoldAnswer("a", "Gerald Klerman and Myrna Weissman")]),
    ]
    warnings = gold_warnings(qs, texts)
    by_id = {w.split(":")[0] for w in warnings}
    assert by_id == {"copy", "short", "twice", "dup"}
    assert any("8+ consecutive words" in w for w in warnings if w.startswith("copy:"))
    assert any("occurs 2 times" in w for w in warnings if w.startswith("twice:"))
    assert any("same question as fine" in w for w in warnings if w.startswith("dup:"))
    # Seven copied words are not yet a copy.
    seven = GoldQuestion("seven", "made by gerald klerman and myrna weissman?", "dev",
                         [GoldAnswer("a", "made by Gerald Klerman and Myrna Weissman in the 1970s")])
    assert not [w for w in gold_warnings([seven], texts) if "consecutive" in w]


def test_broken_rows_name_id_source_and_quote():
    texts = {"a": "alpha text here"}
    qs = [GoldQuestion("ok", "?", "dev", [GoldAnswer("a", "text here")]),
          GoldQuestion("gone", "?", "dev", [GoldAnswer("a", "was here once")]),
          GoldQuestion("nosrc", "?", "dev", [GoldAnswer("zz", "anything")])]
    broken = broken_rows(qs, texts)
    assert set(broken) == {"gone", "nosrc"}
    assert broken["gone"] == ["gone: quote no longer in a: 'was here once'"]
    assert "'zz' is not in the corpus" in broken["nosrc"][0]


@pytest.fixture
def edited(tmp_path):
    """The real corpus copied and edited by a maintainer: one quote of the gold set no longer occurs."""
    corpus = tmp_path / "corpus"
    shutil.copytree(ROOT / "corpus", corpus)
    path = corpus / "focus-of-ipt.txt"
    path.write_text(path.read_text(encoding="utf-8").replace(QUOTE, "Two psychiatrists"), encoding="utf-8")
    gold = write_gold(tmp_path / "gold.jsonl", [
        row("g-broken", "who created ipt", [("focus-of-ipt", QUOTE)]),
        row("g-fine", "how long does ipt last",
            [("mydepressionteam-ipt", "IPT sessions are commonly scheduled once a week for 12 to 16 weeks.")],
            split="test"),
        row("g-short", "what is a role dispute", [("ipt-purpose-video", "Role disputes")], split="test"),
        row("g-off", "what is the capital of france", [], split="test", kind="off-topic"),
    ])
    return corpus, gold


def test_check_names_the_broken_row_lists_warnings_and_exits_1(edited, tmp_path, capsys):
    corpus, gold = edited
    code = main(["eval", "--check", "--gold", str(gold), "--corpus", str(corpus), "--index", str(tmp_path / "index")])
    out, err = capsys.readouterr()
    assert code == 1
    assert "g-broken: quote no longer in focus-of-ipt: 'Gerald L. Klerman" in err and "g-fine" not in err
    assert "warning: g-short: quote under 4 words" in out
    assert "4 rows, 1 broken" in out
    assert not (tmp_path / "index").exists()  # validation only: no model, no index


def test_check_passes_on_the_untouched_corpus(tmp_path, capsys):
    # (Not a question of the project's banks: a bank question that copies a gold one is an error of its own.)
    gold = write_gold(tmp_path / "gold.jsonl", [row("g1", "which two people set out the method first",
                                                    [("focus-of-ipt", QUOTE)])])
    assert main(["eval", "--check", "--gold", str(gold)]) == 0
    assert "1 rows, 0 broken, 0 warning(s)" in capsys.readouterr().out


def test_eval_scores_the_other_rows_and_exits_non_zero(edited, tmp_path, capsys, monkeypatch):
    from fakes import HashEmbedder

    monkeypatch.setattr("qa.live.load_embedder", lambda: HashEmbedder())  # speed: the logic, not the model
    corpus, gold = edited
    report = tmp_path / "report.md"
    code = main(["eval", "--json", "--gold", str(gold), "--corpus", str(corpus), "--index", str(tmp_path / "index"),
                 "--report", str(report)])
    out, err = capsys.readouterr()
    assert code == 1
    assert [line for line in err.splitlines() if "g-broken" in line] == [
        f"ipt-qa: gold row g-broken: quote no longer in focus-of-ipt: {QUOTE!r}"]
    figures = json.loads(out)
    assert figures["questions"] == 3 and len(figures["skipped"]) == 1
    assert figures["modes"]["hybrid"]["test"]["answerable"] == 2  # g-fine and g-short were scored
    assert "dev" not in figures["modes"]["hybrid"]  # g-broken was dev's only question
    assert "left out" in report.read_text(encoding="utf-8") and "g-broken" in report.read_text(encoding="utf-8")


def test_eval_with_one_mode_writes_a_report_about_that_mode(tmp_path, capsys, monkeypatch):
    """`ipt-qa eval --mode bm25` used to crash with KeyError: 'hybrid' while writing the report."""
    from fakes import HashEmbedder

    monkeypatch.setattr("qa.live.load_embedder", lambda: HashEmbedder())
    gold = write_gold(tmp_path / "gold.jsonl", [
        row("g1", "who created ipt", [("focus-of-ipt", QUOTE)]),
        row("g2", "how long does ipt last", [("mydepressionteam-ipt",
                                              "IPT sessions are commonly scheduled once a week for 12 to 16 weeks.")],
            split="test"),
        row("g3", "what is the capital of france", [], split="test", kind="off-topic")])
    report = tmp_path / "report.md"
    code = main(["eval", "--mode", "bm25", "--gold", str(gold), "--index", str(tmp_path / "index"),
                 "--report", str(report)])
    assert code == 0, capsys.readouterr().err
    text = report.read_text(encoding="utf-8")
    assert "## Where bm25 fails" in text and "| bm25 |" in text and "| hybrid |" not in text
    assert (tmp_path / "recall_at_k.png").exists() or (tmp_path / "report_recall_at_k.png").exists()

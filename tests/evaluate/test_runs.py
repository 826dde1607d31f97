"""Scoring any system's run file against the quote-anchored gold set, saving a run and comparing with it."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from tiny_gold import TINY_GOLD

from qa.cli import main
from qa.evaluate.gold import load_gold, relevant_spans
from qa.evaluate.runfile import RunFileError, read_run_file, score_run_file
from qa.evaluate.saved import compare_with_baseline, save_run
from qa.evaluate.scoring import evaluate
from qa.ingest.corpus import load_corpus

ROOT = Path(__file__).resolve().parents[2]
GOLD_PATH = ROOT / "eval" / "gold.jsonl"


def tiny_texts(corpus: Path) -> dict[str, str]:
    return {s.id: s.text for s in load_corpus(corpus)}


def files_of(corpus: Path) -> dict[str, str]:
    out = {}
    for s in load_corpus(corpus):
        out[s.path.name] = out[s.display_path] = s.id
    return out


def write_lines(path: Path, rows) -> Path:
    path.write_text("".join((r if isinstance(r, str) else json.dumps(r)) + "\n" for r in rows), encoding="utf-8")
    return path


def span(texts, sid, needle):
    i = texts[sid].index(needle)
    return {"source_id": sid, "start": i, "end": i + len(needle)}


# --- a run written by hand ----------------------------------------------------------------------------------------

def test_hand_written_run_is_scored_by_span_overlap(tiny_corpus, tmp_path):
    texts = tiny_texts(tiny_corpus)
    rows = [
        # a1 by id: a wrong passage first, the right one second (MRR 0.5)
        {"id": "a1", "abstained": False, "passages": [span(texts, "alpha", "IPT usually lasts"),
                                                      span(texts, "alpha", "Gerald Klerman and Myrna")]},
        # a2 found by its question text, passage named by file instead of source_id
        {"question": "how long does  it last?", "passages": [
            {"file": "alpha.txt",
             **{k: v for k, v in span(texts, "alpha", "lasts 12 to 16").items() if k != "source_id"}}]},
        # a3: text only, located in the source; a4: text with other white space, then the right one at rank 3
        {"id": "a3", "passages": [{"text": "- role transitions\n- social isolation"}]},
        {"id": "a4", "passages": [{"text": "grief after a loss"}, {"text": "Who   created\nIPT?"},
                                  {"text": "Therapy can be expensive"}]},
        {"id": "x1", "abstained": True, "passages": []},
    ]
    run = write_lines(tmp_path / "run.jsonl", rows)
    res = score_run_file(run, TINY_GOLD, texts, files_of(tiny_corpus), name="byhand")
    fig = res["modes"]["byhand"]
    assert fig["dev"]["Recall@1"] == 0.5 and fig["dev"]["mrr@10"] == 0.75  # a1 at rank 2, a2 at rank 1
    assert fig["test"]["Recall@1"] == 0.5 and fig["test"]["Recall@3"] == 1.0  # a3 first, a4 third
    assert fig["test"]["mrr@10"] == pytest.approx((1 + 1 / 3) / 2, abs=1e-4)
    assert fig["test"]["abstain_recall"] == 1.0 and fig["all"]["wrongly_abstained"] == 0.0
    assert "ndcg@10" not in fig["all"]  # depends on the segmentation: not given for another system
    lo, hi = fig["all"]["ci"]["Recall@1"]
    assert lo <= fig["all"]["Recall@1"] <= hi
    lengths = [len("IPT usually lasts"), len("Gerald Klerman and Myrna"), len("lasts 12 to 16"),
               len("- role transitions\n- social isolation"), len("grief after a loss"), len("Who created\nIPT?"),
               len("Therapy can be expensive")]
    assert res["run"]["passage_chars"] == {"mean": round(sum(lengths) / len(lengths), 1), "max": max(lengths)}
    assert res["run"]["missing"] == [] and res["run"]["unlocated"] == 0


def test_text_not_in_any_source_is_not_acceptable_and_a_missing_record_is_empty(tiny_corpus, tmp_path):
    texts = tiny_texts(tiny_corpus)
    run = write_lines(tmp_path / "run.jsonl", [{"id": "a1", "passages": [{"text": "Freud created IPT in 1900"}]}])
    res = score_run_file(run, TINY_GOLD, texts, files_of(tiny_corpus))
    assert res["run"]["unlocated"] == 1 and set(res["run"]["missing"]) == {"a2", "a3", "a4", "x1"}
    assert res["modes"]["run"]["all"]["Recall@10"] == 0.0


@pytest.mark.parametrize("line, message", [
    ("{oops", "not JSON"),
    (json.dumps({"id": "zz9", "passages": []}), "id 'zz9' is not a question of the gold set"),
    (json.dumps({"question": "something else entirely", "passages": []}), "not in the gold set"),
    (json.dumps({"passages": []}), "neither \"id\" nor \"question\""),
    (json.dumps({"id": "a1", "passages": []}), "a second record for question a1"),
    (json.dumps({"id": "a2", "passages": [{"source_id": "gamma", "start": 0, "end": 5}]}), "unknown source_id"),
    (json.dumps({"id": "a2", "passages": [{"file": "nope.txt", "start": 0, "end": 5}]}), "is not a source"),
    (json.dumps({"id": "a2", "passages": [{"source_id": "alpha", "start": 5, "end": 99999}]}), "start/end"),
    (json.dumps({"id": "a2", "passages": [{"start": 5, "end": 9}]}), "without source_id"),
    (json.dumps({"id": "a2", "passages": [{"rank": 1}]}), "needs source_id"),
    (json.dumps({"id": "a2", "passages": "not a list"}), "list of passages"),
])
def test_bad_run_lines_are_named_by_line_number(tiny_corpus, tmp_path, line, message):
    run = write_lines(tmp_path / "run.jsonl", [{"id": "a1", "passages": []}, line])
    with pytest.raises(RunFileError, match=re.escape(message)) as e:
        read_run_file(run, TINY_GOLD, tiny_texts(tiny_corpus), files_of(tiny_corpus))
    assert str(e.value).startswith(f"{run}:2:")


def test_cli_run_errors_are_one_line(tmp_path, capsys):
    bad = write_lines(tmp_path / "run.jsonl", [json.dumps({"id": "not-a-gold-id", "passages": []})])
    for argv, what in ((["--run", str(bad)], "not-a-gold-id"),
                       (["--run", str(tmp_path / "absent.jsonl")], "no run file"),
                       (["--baseline", str(tmp_path / "nothing")], "no saved run"),
                       (["--run", str(bad), "--save-run", str(tmp_path / "s")], "does not combine")):
        code = main(["eval", *argv, "--report", "-", "--index", str(tmp_path / "index")])
        err = capsys.readouterr().err.strip().splitlines()
        assert code == 2 and len([x for x in err if "note:" not in x]) == 1 and what in err[-1]
    assert not (tmp_path / "index").exists()  # refused before a model was loaded or an index built


# --- a run from another segmentation: whole paragraphs -------------------------------------------------------------

def paragraph_run(texts: dict[str, str], questions) -> tuple[list[dict], list[tuple[str, int, int]]]:
    """A trivial other system: passages are whole paragraphs, ranked by words shared with the question."""
    paras = []
    for sid, text in texts.items():
        for m in re.finditer(r"\S(?:.*?\S)?(?=\n\s*\n|\s*\Z)", text, re.S):
            paras.append((sid, m.start(), m.end()))
    rows = []
    for q in questions:
        qw = set(re.findall(r"\w+", q.question.lower()))
        scored = sorted(paras, key=lambda p: (-len(qw & set(re.findall(r"\w+", texts[p[0]][p[1]:p[2]].lower()))), p))
        rows.append({"id": q.id, "abstained": False,
                     "passages": [{"rank": r, "source_id": s, "start": a, "end": b} for r, (s, a, b) in
                                  enumerate(scored[:10], 1)]})
    return rows, paras


def test_a_run_cut_into_whole_paragraphs_is_scored_on_the_same_gold(tmp_path):
    corpus = ROOT / "corpus"
    texts = {s.id: s.text for s in load_corpus(corpus)}
    gold = load_gold(GOLD_PATH)
    rows, paras = paragraph_run(texts, gold)
    run = write_lines(tmp_path / "paragraphs.jsonl", rows)
    res = score_run_file(run, gold, texts, files_of(corpus), name="paragraphs")
    # The figures, recomputed by hand from the span rule.
    ans = [q for q in gold if q.answerable]
    rr, hit1 = [], []
    for q, row in zip(gold, rows, strict=False):
        if not q.answerable:
            continue
        spans = relevant_spans(q, texts)
        ranks = [p["rank"] for p in row["passages"] if any(
            s == p["source_id"] and max(a, p["start"]) < min(b, p["end"]) for s, a, b in spans)]
        rr.append(1 / ranks[0] if ranks else 0.0)
        hit1.append(bool(ranks) and ranks[0] == 1)
    fig = res["modes"]["paragraphs"]["all"]
    assert fig["answerable"] == len(ans)
    assert fig["mrr@10"] == pytest.approx(sum(rr) / len(rr), abs=1e-4)
    assert fig["Recall@1"] == pytest.approx(sum(hit1) / len(hit1), abs=1e-4)
    used = [p["end"] - p["start"] for row in rows for p in row["passages"]]
    assert res["run"]["passage_chars"]["max"] == max(used)
    assert res["run"]["passage_chars"]["mean"] == pytest.approx(sum(used) / len(used), abs=0.1)


# --- saving a run and comparing with it --------------------------------------------------------------------------

def test_saved_run_files_and_a_comparison_with_it(tiny_searcher, tiny_corpus, tmp_path):
    texts = tiny_texts(tiny_corpus)
    gold = tmp_path / "gold.jsonl"
    gold.write_text("", encoding="utf-8")
    results = evaluate(tiny_searcher, TINY_GOLD, texts, modes=("hybrid", "bm25"))
    save_run(tmp_path / "saved", results, TINY_GOLD, tiny_searcher, gold)
    saved = tmp_path / "saved"
    assert {p.name for p in saved.iterdir()} == {"run.hybrid.trec", "run.bm25.trec", "records.hybrid.jsonl",
                                                  "records.bm25.jsonl", "qrels.trec", "meta.json"}
    trec = [line.split() for line in (saved / "run.hybrid.trec").read_text().splitlines()]
    assert all(len(f) == 6 and f[1] == "Q0" and f[5] == "ipt-qa-hybrid" for f in trec)
    a1_ranks = [f[3] for f in trec if f[0] == "a1"]
    assert a1_ranks == [str(i) for i in range(1, len(a1_ranks) + 1)]
    qrels = [line.split() for line in (saved / "qrels.trec").read_text().splitlines()]
    assert {f[0] for f in qrels} == {"a1", "a2", "a3", "a4"} and all(f[1] == "0" and f[3] == "1" for f in qrels)
    assert {f[2] for f in qrels} <= {f[2] for f in trec} | {f[2] for f in qrels}
    records = [json.loads(x) for x in (saved / "records.hybrid.jsonl").read_text().splitlines()]
    assert [r["id"] for r in records] == [q.id for q in TINY_GOLD]
    assert records[0]["passages"][0]["text"] == texts[records[0]["passages"][0]["source_id"]][
        records[0]["passages"][0]["start"]:records[0]["passages"][0]["end"]]

    # Scoring the saved records as a run file gives the live figures back.
    rerun = score_run_file(saved / "records.hybrid.jsonl", TINY_GOLD, texts, files_of(tiny_corpus), name="h")
    for split in ("dev", "test", "all"):
        for m in ("Recall@1", "Recall@5", "mrr@10", "abstain_recall"):
            assert rerun["modes"]["h"][split].get(m) == results["modes"]["hybrid"][split].get(m)

    # Against itself: no difference, nothing better or worse.
    same = compare_with_baseline(saved, results, TINY_GOLD, texts, files_of(tiny_corpus))
    assert same["modes"]["hybrid"]["changes"] == []
    assert same["modes"]["hybrid"]["splits"]["all"]["difference"]["mrr@10"]["difference"] == 0.0

    # A baseline in which a1's first passage was pushed down: now it is better, by rank 3 -> 1.
    assert results["ranks"]["hybrid"]["a1"] == 1
    rows = records
    first = rows[0]["passages"].pop(0)
    rows[0]["passages"].insert(2, first)
    write_lines(saved / "records.hybrid.jsonl", rows)
    cmp = compare_with_baseline(saved, results, TINY_GOLD, texts, files_of(tiny_corpus))
    (change,) = cmp["modes"]["hybrid"]["changes"]
    assert change == {"id": "a1", "split": "dev", "question": "Who created IPT?", "change": "better",
                      "before": "3", "after": "1"}
    d = cmp["modes"]["hybrid"]["splits"]["dev"]["difference"]["mrr@10"]
    assert d["difference"] == pytest.approx(1 - (1 / 3 + 1) / 2 + 0.5 - 0.5, abs=1e-3) or d["difference"] > 0
    assert 0.0 <= d["p_value"] <= 1.0 and d["ci"][0] <= d["difference"] <= d["ci"][1]

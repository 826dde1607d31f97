"""The BEIR export, read back the way a BEIR-style harness reads it, and passage ids that survive rebuilds."""

from __future__ import annotations

import csv
import json
import shutil
from pathlib import Path

from qa.cli import main
from qa.evaluate.beir import export_beir, stable_ids
from qa.evaluate.gold import load_gold, relevant_spans
from qa.ingest.corpus import load_corpus

ROOT = Path(__file__).resolve().parents[2]
GOLD_PATH = ROOT / "eval" / "gold.jsonl"


def load_beir(folder: Path, split: str):
    """What beir's GenericDataLoader(folder).load(split) does: corpus and queries from JSON Lines, qrels from
    a TSV with a header line."""
    corpus = {}
    for line in (folder / "corpus.jsonl").read_text(encoding="utf-8").splitlines():
        d = json.loads(line)
        corpus[d["_id"]] = d
    queries = {json.loads(x)["_id"]: json.loads(x) for x in (folder / "queries.jsonl").read_text().splitlines()}
    qrels: dict = {}
    with open(folder / "qrels" / f"{split}.tsv", encoding="utf-8") as f:
        reader = csv.reader(f, delimiter="\t")
        assert next(reader) == ["query-id", "corpus-id", "score"]
        for qid, did, score in reader:
            qrels.setdefault(qid, {})[did] = int(score)
    return corpus, queries, qrels


def test_export_reads_back_and_points_at_the_gold_quotes(tmp_path, capsys):
    out = tmp_path / "beir"
    assert main(["eval", "--export-beir", str(out), "--index", str(tmp_path / "index")]) == 0
    assert "BEIR files written" in capsys.readouterr().out
    texts = {s.id: s.text for s in load_corpus(ROOT / "corpus")}
    gold = {q.id: q for q in load_gold(GOLD_PATH)}
    for split in ("dev", "test"):
        corpus, queries, qrels = load_beir(out, split)
        assert set(queries) == set(gold)  # every question, unanswerable ones too (they have no qrels)
        answerable = {q.id for q in gold.values() if q.split == split and q.answerable}
        assert qrels and set(qrels) <= answerable
        for qid in answerable - set(qrels):  # only a question whose quotes no passage holds has no qrels
            spans = relevant_spans(gold[qid], texts)
            assert not any(s == m["source_id"] and max(a, m["start"]) < min(b, m["end"])
                           for m in (d["metadata"] for d in corpus.values()) for s, a, b in spans)
        for qid, docs in qrels.items():
            assert queries[qid]["text"] == gold[qid].question and queries[qid]["metadata"]["split"] == split
            spans = relevant_spans(gold[qid], texts)
            for did in docs:
                m = corpus[did]["metadata"]
                assert corpus[did]["text"] == texts[m["source_id"]][m["start"]:m["end"]]
                assert any(s == m["source_id"] and max(a, m["start"]) < min(b, m["end"]) for s, a, b in spans)
    assert not (tmp_path / "index").exists()  # no model, no index needed


def test_passage_ids_survive_a_rebuild_after_an_edit(tmp_path):
    corpus = tmp_path / "corpus"
    shutil.copytree(ROOT / "corpus", corpus)
    gold = load_gold(GOLD_PATH)

    def export(name):
        out = tmp_path / name
        export_beir(out, gold, {s.id: s.text for s in load_corpus(corpus)}, corpus)
        return {json.loads(x)["_id"]: json.loads(x) for x in (out / "corpus.jsonl").read_text().splitlines()}

    before = export("before")
    path = corpus / "focus-of-ipt.txt"
    # A new paragraph at the top shifts every offset (and the index's "<source>#<n>" numbering) below it.
    path.write_text("A paragraph added by a maintainer, about nothing in particular.\n\n"
                    + path.read_text(encoding="utf-8"), encoding="utf-8")
    after = export("after")
    assert len(after) == len(before) + 1
    moved = [i for i, d in before.items() if d["metadata"]["source_id"] == "focus-of-ipt"]
    assert moved and all(i in after for i in moved)  # unchanged passages keep their ids ...
    assert all(after[i]["metadata"]["start"] > before[i]["metadata"]["start"] for i in moved)  # ... wherever they are
    assert {k: v for k, v in before.items() if k not in moved}.keys() <= after.keys()


def test_identical_texts_in_one_source_get_distinct_ids():
    class P:
        def __init__(self, sid, start, text):
            self.source_id, self.start, self.end, self.text = sid, start, start + len(text), text

    ids = stable_ids([P("a", 0, "same"), P("a", 10, "same"), P("b", 0, "same")])
    assert len(set(ids.values())) == 3 and ids[("a", 10, 14)] == ids[("a", 0, 4)] + "-2"

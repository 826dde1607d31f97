"""Saving and loading the index: round trip, and every check `load_index` makes before trusting the files."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from qa.errors import IndexCorrupt, IndexMissing, IndexStale, QAError
from qa.index.build import build_index
from qa.index.layout import sign_manifest
from qa.index.load import load_index
from qa.search import Searcher
from qa.settings import Settings

ROOT = Path(__file__).resolve().parents[2]
SETTINGS = Settings(abstain=False)
QUESTIONS = ["Who created IPT?", "how many weekly sessions", "problem areas grief role disputes",
             "is therapy expensive", "social isolation"]


def answers(index, embedder, questions=QUESTIONS) -> list[list[tuple]]:
    """Everything a user sees of each answer that could differ between two copies of one index."""
    s = Searcher(index, embedder, SETTINGS)
    return [[(h.source_id, h.start, h.end, h.section, h.score, h.similarity, h.highlight["start"],
              h.highlight["end"], [(a.source_id, a.start) for a in h.also_in]) for h in s.ask(q).passages]
            for q in questions]


def current_file(index: Path, name: str) -> Path:
    return (index / "current").resolve() / name


@pytest.fixture
def built(tiny_corpus, tmp_path, fake_embedder) -> Path:
    index = tmp_path / "index"
    build_index(tiny_corpus, index, fake_embedder, SETTINGS)
    return index


def test_round_trip_gives_identical_results(built, tiny_corpus, fake_embedder):
    first = load_index(built, tiny_corpus, settings=SETTINGS)
    again = load_index(built, tiny_corpus, settings=SETTINGS)
    assert first.passages == again.passages
    assert np.array_equal(first.vectors, again.vectors)
    assert np.array_equal(first.sentence_vectors, again.sentence_vectors)
    got = answers(first, fake_embedder)
    assert got == answers(again, fake_embedder)
    assert all(got), "every question should find something in the tiny corpus"
    # Raw retriever scores too, not only the rounded ones shown.
    q = fake_embedder.encode(["Who created IPT?"])[0]
    s1, s2 = Searcher(first, fake_embedder, SETTINGS), Searcher(again, fake_embedder, SETTINGS)
    assert np.array_equal(s1.retriever.dense_scores(q), s2.retriever.dense_scores(q))
    terms = s1.query.terms("Who created IPT?")
    assert np.array_equal(s1.retriever.bm25_scores(terms), s2.retriever.bm25_scores(terms))


def test_rebuild_without_change_answers_identically(built, tiny_corpus, fake_embedder):
    before = answers(load_index(built, tiny_corpus, settings=SETTINGS), fake_embedder)
    build_index(tiny_corpus, built, fake_embedder, SETTINGS)
    assert answers(load_index(built, tiny_corpus, settings=SETTINGS), fake_embedder) == before


def test_passages_quote_the_sources_exactly(built, tiny_corpus):
    loaded = load_index(built, tiny_corpus, settings=SETTINGS)
    files = {s["id"]: s["file"] for s in loaded.manifest["sources"]}
    for p in loaded.passages:
        text = Path(tiny_corpus / files[p.source_id]).read_text(encoding="utf-8")
        assert text[p.start:p.end] == p.text


def test_missing_index(tmp_path, tiny_corpus):
    with pytest.raises(IndexMissing, match="ipt-qa build"):
        load_index(tmp_path / "nothing", tiny_corpus)


def truncate(path: Path) -> None:
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])


def flip_byte(path: Path) -> None:
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0x01
    path.write_bytes(bytes(data))


def empty_file(path: Path) -> None:
    path.write_bytes(b"")


def delete(path: Path) -> None:
    path.unlink()


@pytest.mark.parametrize("damage", [truncate, flip_byte, empty_file, delete], ids=lambda f: f.__name__)
@pytest.mark.parametrize("name", ["dense.faiss", "passages.jsonl", "vectors.npy", "sentences.npy",
                                  "sentence_offsets.npy", "bm25/params.index.json"])
def test_damaged_file_is_refused_then_repaired_by_a_build(built, tiny_corpus, fake_embedder, name, damage):
    before = answers(load_index(built, tiny_corpus, settings=SETTINGS), fake_embedder)
    path = current_file(built, name)
    assert path.is_file(), sorted(p.name for p in path.parent.rglob("*"))
    damage(path)
    with pytest.raises(IndexCorrupt) as err:
        load_index(built, tiny_corpus, settings=SETTINGS)
    msg = str(err.value)
    assert name.split("/")[-1] in msg and "ipt-qa build" in msg and "\n" not in msg

    report = build_index(tiny_corpus, built, fake_embedder, SETTINGS)
    assert report.reused == 0  # nothing is taken from a damaged index
    assert answers(load_index(built, tiny_corpus, settings=SETTINGS), fake_embedder) == before


@pytest.mark.parametrize("content", [b"", b"{not json", b"[]", b'{"format_version": 1}'])
def test_damaged_manifest_is_refused(built, tiny_corpus, content):
    current_file(built, "manifest.json").write_bytes(content)
    with pytest.raises(IndexCorrupt, match="manifest.json"):
        load_index(built, tiny_corpus, settings=SETTINGS)


def _edit_manifest(index: Path, change) -> None:
    path = current_file(index, "manifest.json")
    manifest = json.loads(path.read_text(encoding="utf-8"))
    change(manifest)
    # Re-signed, as a deliberate edit would be: what is tested is the check after the signature's.
    path.write_text(json.dumps(sign_manifest(manifest)), encoding="utf-8")


def test_manifest_without_a_needed_file_is_refused(built, tiny_corpus):
    _edit_manifest(built, lambda m: m["files"].pop("dense.faiss"))
    with pytest.raises(IndexCorrupt, match="dense.faiss"):
        load_index(built, tiny_corpus, settings=SETTINGS)


def test_other_format_version_is_stale(built, tiny_corpus):
    _edit_manifest(built, lambda m: m.update(format_version=0))
    with pytest.raises(IndexStale, match="--full"):
        load_index(built, tiny_corpus, settings=SETTINGS)


def test_other_model_weights_are_stale(built, tiny_corpus, fake_embedder):
    load_index(built, tiny_corpus, settings=SETTINGS, model_sha256=fake_embedder.weights_sha256)
    with pytest.raises(IndexStale, match="weights"):
        load_index(built, tiny_corpus, settings=SETTINGS, model_sha256="f" * 64)


def test_other_segmentation_settings_are_stale(built, tiny_corpus):
    with pytest.raises(IndexStale, match="settings"):
        load_index(built, tiny_corpus, settings=SETTINGS.replace(max_passage_chars=300))


def test_edited_source_is_stale_and_named(built, tiny_corpus):
    with open(tiny_corpus / "alpha.txt", "a", encoding="utf-8") as f:
        f.write("\nA late addition about IPT.\n")
    with pytest.raises(IndexStale) as err:
        load_index(built, tiny_corpus, settings=SETTINGS)
    msg = str(err.value)
    assert "alpha.txt" in msg and "edited" in msg and "ipt-qa build" in msg
    assert "beta" not in msg


def test_added_and_removed_sources_are_stale_and_named(built, tiny_corpus):
    toml = (tiny_corpus / "sources.toml").read_text(encoding="utf-8")
    toml = toml.replace('id = "beta"\ntitle = "Beta guide"\nfile = "beta.md"',
                        'id = "gamma"\ntitle = "Gamma"\nfile = "gamma.txt"')
    (tiny_corpus / "sources.toml").write_text(toml, encoding="utf-8")
    (tiny_corpus / "beta.md").unlink()
    (tiny_corpus / "gamma.txt").write_text("Gamma on IPT.\n", encoding="utf-8")
    with pytest.raises(IndexStale) as err:
        load_index(built, tiny_corpus, settings=SETTINGS)
    msg = str(err.value)
    assert "gamma.txt (gamma) added" in msg and "beta.md (beta) removed" in msg


def test_broken_corpus_manifest_makes_the_index_stale_with_the_reason(built, tiny_corpus):
    (tiny_corpus / "sources.toml").write_text("[[source]\n", encoding="utf-8")
    with pytest.raises(IndexStale, match="sources.toml"):
        load_index(built, tiny_corpus, settings=SETTINGS)


def test_dangling_current_link_is_corrupt(built, tiny_corpus):
    shutil.rmtree((built / "current").resolve())
    with pytest.raises(IndexCorrupt, match="ipt-qa build"):
        load_index(built, tiny_corpus, settings=SETTINGS)


@pytest.mark.model
def test_cli_ask_on_a_corrupted_index_fails_in_one_line(tiny_corpus, tmp_path, real_embedder):
    index = tmp_path / "index"
    # Built with the real model, so the CLI's only complaint can be the damage (not other weights).
    build_index(tiny_corpus, index, real_embedder)
    flip_byte(current_file(index, "dense.faiss"))
    proc = subprocess.run([sys.executable, "-m", "qa", "ask", "--index", str(index), "--corpus", str(tiny_corpus),
                           "Who created IPT?"], cwd=ROOT, capture_output=True, text=True, timeout=300,
                          env={**os.environ, "HF_HUB_OFFLINE": "1"})
    assert proc.returncode == 2, proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1, proc.stderr
    assert "dense.faiss" in lines[0] and "ipt-qa build" in lines[0] and "Traceback" not in proc.stderr
    assert proc.stdout == ""


def test_index_errors_are_qa_errors():
    # The CLI and the page print any QAError as one line; the index's errors must be among them.
    assert issubclass(IndexCorrupt, QAError) and issubclass(IndexStale, QAError)

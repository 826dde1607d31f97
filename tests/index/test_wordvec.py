"""The static word-vector table (qa/index/wordvec.py): built with the index, hash-checked, reused."""

from __future__ import annotations

import numpy as np
import pytest
from fakes import HashEmbedder

from qa.errors import IndexCorrupt
from qa.index import wordvec
from qa.index.build import build_index
from qa.index.load import load_index
from qa.settings import Settings

SETTINGS = Settings(abstain=False)


@pytest.fixture(autouse=True)
def private_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("IPT_QA_CACHE", str(tmp_path / "cache"))
    monkeypatch.setattr(wordvec, "english_words", lambda: frozenset({"video", "call", "zoom"}))


def test_table_holds_english_and_corpus_words_at_unit_length(tiny_corpus, tmp_path):
    build_index(tiny_corpus, tmp_path / "index", HashEmbedder(), SETTINGS)
    table = load_index(tmp_path / "index", tiny_corpus, settings=SETTINGS).word_table
    assert table is not None
    assert {"video", "zoom"} <= table.row.keys()
    corpus_words = {w for p in (tiny_corpus).glob("*.txt") for w in wordvec.text_words(p.read_text())}
    assert corpus_words <= table.row.keys()
    norms = np.linalg.norm(table.vectors, axis=1)
    assert np.allclose(norms[norms > 0], 1.0, atol=1e-2)
    assert list(table.rows(["zoom", "nope", "video"])) == sorted([table.row["zoom"], table.row["video"]])


def test_english_words_are_embedded_once_per_machine_and_reused(tiny_corpus, tmp_path):
    first, second = HashEmbedder(), HashEmbedder()
    wordvec.build_table(first, ["alpha beta"])
    assert first.words_encoded >= 3  # video, call, zoom (and the corpus words)
    wordvec.build_table(second, ["alpha beta"])
    assert second.words_encoded == 2  # only alpha and beta: the English words came from the cache
    previous = wordvec.build_table(second, ["alpha beta gamma"])
    third = HashEmbedder()
    wordvec.build_table(third, ["alpha beta gamma"], previous)
    assert third.words_encoded == 0


def test_a_damaged_table_is_refused_by_its_hash(tiny_corpus, tmp_path):
    build_index(tiny_corpus, tmp_path / "index", HashEmbedder(), SETTINGS)
    path = (tmp_path / "index" / "current").resolve() / wordvec.WORDVEC_FILE
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0xFF
    path.write_bytes(bytes(data))
    with pytest.raises(IndexCorrupt, match="wordvec.npz"):
        load_index(tmp_path / "index", tiny_corpus, settings=SETTINGS)

"""Case 8 (issue 12, items 5-7 and the corpus minors): sources that are valid text but hostile to the index.

Unicode line separators inside a source or a title, a source that is a symlink leaving the corpus folder, a
source too big to segment in reasonable time, a manifest nested past the parser's recursion limit, an id with
a trailing newline: each is indexed exactly or refused with one line naming the file.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from qa.corpus import load_corpus
from qa.errors import CorpusError, IndexProblem
from qa.index import build_index, load_index
from qa.search import Searcher
from qa.settings import Settings
from rel_support import ROOT, child_env

SETTINGS = Settings(abstain_min_similarity=-1.0)  # the fake embedder's cosines are not MiniLM's
SEPARATORS = {"LINE SEPARATOR": "\u2028", "PARAGRAPH SEPARATOR": "\u2029", "NEXT LINE": "\x85"}


def _cli_build(corpus: Path, index: Path, *extra: str) -> subprocess.CompletedProcess:
    """`ipt-qa build` with the fake embedder standing in for the model (IPT_QA_FAKE_EMBEDDER is read by
    tests/reliability/fake_build.py), so the CLI's own error path is what runs."""
    return subprocess.run([sys.executable, str(Path(__file__).with_name("fake_build.py")), "build", "--corpus",
                           str(corpus), "--index", str(index), *extra],
                          capture_output=True, text=True, cwd=ROOT, env=child_env(), timeout=120)


def _one_line_error(proc: subprocess.CompletedProcess, *must: str) -> str:
    assert proc.returncode == 2, (proc.returncode, proc.stdout, proc.stderr)
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("ipt-qa: "), proc.stderr
    assert "Traceback" not in proc.stderr
    for word in must:
        assert word in lines[0], (word, lines[0])
    return lines[0]


# ---------------------------------------------------------------------------------------------------------
# item 5: Unicode line separators


def _with_separators(corpus: Path) -> None:
    alpha = corpus / "alpha.txt"
    text = alpha.read_text(encoding="utf-8")
    extra = "".join(f"\n\nThe {name} sits here{sep}inside a sentence about IPT sessions{sep}and therapists."
                    for name, sep in SEPARATORS.items())
    alpha.write_text(text.replace("weekly sessions.", "weekly sessions.\u2028Each lasts an hour.") + extra,
                     encoding="utf-8")
    manifest = corpus / "sources.toml"
    manifest.write_text(manifest.read_text(encoding="utf-8").replace(
        'title = "Beta guide"', 'title = "Beta\\u2028guide\\u2029on\\u0085IPT"'), encoding="utf-8")


def test_unicode_line_separators_index_and_read_back_exactly(tiny_corpus, tmp_path, fake_embedder):
    _with_separators(tiny_corpus)
    index = tmp_path / "index"
    for full in (False, True):  # `build --full`, the advice printed for an unreadable index, works too
        build_index(tiny_corpus, index, fake_embedder, SETTINGS, full=full)
        loaded = load_index(index, tiny_corpus, settings=SETTINGS)
        texts = {s.id: s.text for s in load_corpus(tiny_corpus)}
        assert any(sep in p.text for p in loaded.passages for sep in SEPARATORS.values())
        assert any("\u2028" in p.context for p in loaded.passages if p.source_id == "beta")
        for p in loaded.passages:
            assert texts[p.source_id][p.start:p.end] == p.text, p.id
            assert p.line_start == texts[p.source_id].count("\n", 0, p.start) + 1, p.id
            assert p.line_end == texts[p.source_id].count("\n", 0, p.end) + 1, p.id
        # One record per line for anyone who reads the file with splitlines() (or a JSON Lines tool).
        raw = (index / "current" / "passages.jsonl").read_text(encoding="utf-8")
        assert len(raw.splitlines()) == len(loaded.passages)
    searcher = Searcher(loaded, fake_embedder, SETTINGS)
    answer = searcher.ask("inside a sentence about IPT sessions").to_dict()
    assert answer["passages"]
    for hit in answer["passages"]:
        assert texts[hit["source_id"]][hit["start"]:hit["end"]] == hit["text"]


# ---------------------------------------------------------------------------------------------------------
# item 6: symlinks that leave the corpus folder


def test_source_linked_outside_the_corpus_is_refused_naming_it(tiny_corpus, tmp_path, fake_embedder):
    (tiny_corpus / "alpha.txt").unlink()
    (tiny_corpus / "alpha.txt").symlink_to("/etc/passwd")
    with pytest.raises(CorpusError) as refused:
        build_index(tiny_corpus, tmp_path / "index", fake_embedder, SETTINGS)
    assert "alpha.txt" in str(refused.value) and "/etc/passwd" in str(refused.value)
    assert not (tmp_path / "index" / "current").exists()
    line = _one_line_error(_cli_build(tiny_corpus, tmp_path / "index2"), "alpha.txt", "/etc/passwd",
                           "outside the corpus folder")
    assert "root:" not in line


def test_link_inside_the_corpus_folder_is_fine(tiny_corpus, tmp_path, fake_embedder):
    (tiny_corpus / "texts").mkdir()
    os.replace(tiny_corpus / "alpha.txt", tiny_corpus / "texts" / "alpha.txt")
    (tiny_corpus / "alpha.txt").symlink_to("texts/alpha.txt")
    build_index(tiny_corpus, tmp_path / "index", fake_embedder, SETTINGS)
    assert load_index(tmp_path / "index", tiny_corpus, settings=SETTINGS).sources["alpha"]


def test_index_is_not_served_once_a_source_became_a_link_outside(tiny_corpus, tmp_path, fake_embedder):
    """Same bytes, so the same SHA-256: only the path check tells that the file now lives elsewhere."""
    index = tmp_path / "index"
    build_index(tiny_corpus, index, fake_embedder, SETTINGS)
    outside = tmp_path / "elsewhere.txt"
    os.replace(tiny_corpus / "alpha.txt", outside)
    (tiny_corpus / "alpha.txt").symlink_to(outside)
    with pytest.raises(IndexProblem) as refused:
        load_index(index, tiny_corpus, settings=SETTINGS)
    assert "alpha.txt" in str(refused.value) and "outside the corpus folder" in str(refused.value)

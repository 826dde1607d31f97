"""Case 2: bad sources. tests/ingest/test_corpus.py already refuses 17 kinds of bad source by name and checks that
`build_index` leaves the index as it was; what it does not run is the command a maintainer types. Here
`ipt-qa build` (python -m qa build) meets a broken corpus: exit 2, one line naming the file, and every file
and link of the existing index byte for byte as before."""

from __future__ import annotations

import subprocess
import sys

import pytest
from fakes import HashEmbedder
from rel_support import ROOT, child_env, tree_snapshot
from test_corpus import broken_toml, file_without_entry, non_utf8, only_page_chrome

from qa.index.build import build_index
from qa.index.load import load_index
from qa.settings import Settings

SETTINGS = Settings(abstain=False)


@pytest.mark.model  # the command loads the real model before it reads the corpus
@pytest.mark.parametrize("breaker", [non_utf8, file_without_entry, broken_toml, only_page_chrome],
                         ids=lambda f: f.__name__)
def test_failed_cli_build_leaves_the_index_byte_identical(tiny_corpus, tmp_path, breaker):
    index = tmp_path / "index"
    build_index(tiny_corpus, index, HashEmbedder(), SETTINGS)
    before = tree_snapshot(index)
    name = breaker(tiny_corpus)

    proc = subprocess.run([sys.executable, "-m", "qa", "build", "--index", str(index), "--corpus",
                           str(tiny_corpus)], capture_output=True, text=True, cwd=ROOT, env=child_env(), timeout=300)
    assert proc.returncode == 2, (proc.stdout, proc.stderr)
    err = proc.stderr.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("ipt-qa: ") and name in err[0], proc.stderr
    assert proc.stdout == ""
    assert tree_snapshot(index) == before
    loaded = load_index(index, settings=SETTINGS, check_corpus=False)
    assert [p.source_id for p in loaded.passages] == ["alpha", "alpha", "beta", "beta"]

"""Issue 21, item 8 (minor): a source added while the page runs can be chosen alone in the sources filter;
an oversized corpus manifest and one linked from outside the corpus folder are refused in one line."""

from __future__ import annotations

import os

import pytest
from app_support import GRADIO_PANDAS_NOISE, serve
from rel_support import gradio_call

from qa import open_searcher
from qa.errors import CorpusError
from qa.index.build import build_index
from qa.ingest.corpus import load_corpus
from qa.settings import Settings

SETTINGS = Settings(abstain=False)  # the fake embedder's cosines are not MiniLM's
GAMMA = """Gamma handout

Interpersonal psychotherapy groups meet once a week for twelve weeks in the gamma clinic.
"""


@pytest.mark.filterwarnings(*[m.args[0] for m in GRADIO_PANDAS_NOISE])
def test_a_source_added_while_the_page_runs_can_be_chosen_alone(tiny_corpus, tmp_path, fake_embedder):
    """Before: /show with sources=["gamma"] failed with "Value: 'gamma' ... is not in the list of choices"."""
    index = tmp_path / "index"
    build_index(tiny_corpus, index, fake_embedder, SETTINGS)
    searcher = open_searcher(index, tiny_corpus, settings=SETTINGS, embedder=fake_embedder, rebuild="never")
    with serve(searcher, tiny_corpus) as url:
        (tiny_corpus / "gamma.txt").write_text(GAMMA, encoding="utf-8")
        with open(tiny_corpus / "sources.toml", "a", encoding="utf-8") as f:
            f.write('\n[[source]]\nid = "gamma"\ntitle = "Gamma handout"\nfile = "gamma.txt"\n')
        build_index(tiny_corpus, index, fake_embedder, SETTINGS)
        event, out = gradio_call(url, "show", ["how often do groups meet", 3, ["gamma"]])
        assert event == "complete", (event, out)
        assert "Gamma handout" in out[0] and "Alpha notes" not in out[0] and "twelve weeks" in out[0]
        event, out = gradio_call(url, "show", ["how often do groups meet", 3, ["no-such-source"]])
        assert event == "complete" and "unknown source(s) [&#x27;no-such-source&#x27;]" in out[0], out
        event, out = gradio_call(url, "show", ["how often do groups meet", 3, "gamma"])  # not a list
        assert event == "error" and "sources must be a list" in out


def test_an_oversized_corpus_manifest_is_refused_in_one_line(tiny_corpus):
    """Before: a 60 MB sources.toml was parsed whole."""
    manifest = tiny_corpus / "sources.toml"
    manifest.write_text(manifest.read_text(encoding="utf-8") + "#" * (2 * 1024 * 1024) + "\n", encoding="utf-8")
    with pytest.raises(CorpusError) as e:
        load_corpus(tiny_corpus)
    message = str(e.value)
    assert "\n" not in message and "sources.toml" in message and "over the limit of 1 MiB" in message


@pytest.mark.parametrize("target", ["/etc/passwd", "copy"])
def test_a_corpus_manifest_linked_from_outside_is_refused_as_a_link(tiny_corpus, tmp_path, target):
    """Before: a link to /etc/passwd gave "cannot parse", and a link to a valid manifest outside was read."""
    manifest = tiny_corpus / "sources.toml"
    if target == "copy":
        outside = tmp_path / "elsewhere.toml"
        outside.write_bytes(manifest.read_bytes())
        target = str(outside)
    manifest.unlink()
    os.symlink(target, manifest)
    with pytest.raises(CorpusError) as e:
        load_corpus(tiny_corpus)
    message = str(e.value)
    assert "outside the corpus folder" in message and "cannot parse" not in message and "\n" not in message
    assert "root:" not in message

"""Case 8 (issue 12, items 5-7 and the corpus minors): sources that are valid text but hostile to the index.

Unicode line separators inside a source or a title, a source that is a symlink leaving the corpus folder, a
source too big to segment in reasonable time, a manifest nested past the parser's recursion limit, an id with
a trailing newline: each is indexed exactly or refused with one line naming the file.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from rel_support import ROOT, child_env

from qa.errors import CorpusError, IndexProblem
from qa.index.build import build_index
from qa.index.load import load_index
from qa.ingest.corpus import load_corpus
from qa.search import Searcher
from qa.settings import Settings

SETTINGS = Settings(abstain=False)  # the fake embedder's cosines are not MiniLM's
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


# ---------------------------------------------------------------------------------------------------------
# item 7: build time linear in the size of a source, progress, and a size limit

def _big_text(n_chars: int) -> str:
    """Real prose (the project's sources, repeated) cut to `n_chars`."""
    unit = "\n\n".join(p.read_text(encoding="utf-8") for p in sorted((ROOT / "corpus").glob("*.txt")))
    return ("\n\n".join([unit] * (n_chars // len(unit) + 1)))[:n_chars]


def _source(text: str, name: str = "big.txt"):
    from qa.ingest.corpus import Source

    return Source(id="big", title="Big", path=Path("/nonexistent") / name, text=text, sha256="0" * 64)


def test_segmentation_time_grows_linearly_with_the_source(tmp_path):
    """CPU seconds for 8 times the text, measured in the same run: linear is about 8x, the old per-passage
    line counting gave about 40x (0.5 MB: 0.5 s, 4 MB: 20 s)."""
    from qa.ingest.passages import segment

    def cpu(n_chars: int) -> float:
        src = _source(_big_text(n_chars))
        t = time.process_time()
        passages = segment(src)
        spent = time.process_time() - t
        assert passages[-1].line_end == src.text.count("\n", 0, passages[-1].end) + 1
        return spent

    small, big = min(cpu(1 << 19) for _ in range(2)), cpu(1 << 22)
    assert big / small < 16, (small, big)


class _CountingRegex:
    """Stands in for a compiled pattern and counts the lines it is asked to match."""

    def __init__(self, pattern, counter: list[int]):
        self._pattern, self._counter = pattern, counter

    def match(self, *args):
        self._counter[0] += 1
        return self._pattern.match(*args)


def test_long_list_costs_linear_work_to_build(tmp_path, monkeypatch, fake_embedder):
    """Each item of a list is embedded with the list's lead-in; finding it walked up past every item above
    (a 450 KB list: 97 s). Counted, not timed: line matches for a list 4 times as long."""
    import qa.ingest.passages

    def matches(n_items: int) -> int:
        corpus = tmp_path / f"c{n_items}"
        corpus.mkdir()
        (corpus / "list.txt").write_text("IPT helps with problems such as:\n"
                                         + "".join(f"- problem number {i} of the list\n" for i in range(n_items)),
                                         encoding="utf-8")
        (corpus / "sources.toml").write_text('[[source]]\nid = "list"\ntitle = "A list"\nfile = "list.txt"\n',
                                             encoding="utf-8")
        counter = [0]
        monkeypatch.setattr(qa.ingest.passages, "BULLET_RE", _CountingRegex(qa.ingest.passages.BULLET_RE, counter))
        build_index(corpus, tmp_path / f"i{n_items}", fake_embedder, SETTINGS)
        monkeypatch.undo()
        assert len(load_index(tmp_path / f"i{n_items}", corpus, settings=SETTINGS).passages) > n_items // 30
        return counter[0]

    small, big = matches(500), matches(2000)
    assert big < 5 * small, (small, big)  # linear: 4x; walking up past every item: 16x


def test_oversized_source_is_refused_at_once_naming_the_limit(tiny_corpus, tmp_path, fake_embedder, monkeypatch):
    import builtins
    import io

    from qa.settings import MAX_SOURCE_BYTES

    with open(tiny_corpus / "alpha.txt", "r+b") as f:  # sparse: 200 MB that take no disk
        f.truncate(200 * 2**20)
    _one_line_error(_cli_build(tiny_corpus, tmp_path / "index"), "alpha.txt", "200.0 MiB",
                    f"{MAX_SOURCE_BYTES // 2**20} MiB", "split it")
    # Refused before reading (not a 200 MB read and segmentation): the build never opens the file.
    opened: list[str] = []
    real_open = io.open

    def watched(file, *args, **kwargs):
        opened.append(os.fspath(file) if isinstance(file, (str, os.PathLike)) else repr(file))
        return real_open(file, *args, **kwargs)

    monkeypatch.setattr(io, "open", watched)
    monkeypatch.setattr(builtins, "open", watched)
    with pytest.raises(CorpusError, match="200.0 MiB"):
        build_index(tiny_corpus, tmp_path / "index2", fake_embedder, SETTINGS)
    monkeypatch.undo()
    assert opened and not [p for p in opened if p.endswith("alpha.txt")], opened


def test_long_build_says_what_it_is_doing(tmp_path, fake_embedder, capsys):
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    (corpus / "big.txt").write_text(_big_text(1_100_000), encoding="utf-8")
    (corpus / "sources.toml").write_text('[[source]]\nid = "big"\ntitle = "Big"\nfile = "big.txt"\n',
                                         encoding="utf-8")
    build_index(corpus, tmp_path / "index", fake_embedder, SETTINGS)
    err = capsys.readouterr().err
    assert "segmenting big.txt (1.1 million characters) ..." in err, err

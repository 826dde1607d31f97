"""The maintainers' rebuild: incremental (only changed text is embedded again), atomic (a failed, interrupted
or killed build leaves the previous index usable), and reporting what changed."""

from __future__ import annotations

import errno
import os
import shutil
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import numpy as np
import pytest
from fakes import HashEmbedder

import qa.index.build
import qa.index.install
import qa.index.layout
from qa.errors import IndexCorrupt, IndexProblem, QAError
from qa.index.build import build_index
from qa.index.load import load_index
from qa.ingest.banks import load_bank
from qa.ingest.corpus import load_corpus
from qa.ingest.passages import segment, sentence_contexts
from qa.search import Searcher
from qa.settings import Settings

ROOT = Path(__file__).resolve().parents[2]
TESTS = Path(__file__).resolve().parents[1]
SETTINGS = Settings(abstain=False)
REAL_QUESTIONS = ["What is interpersonal psychotherapy?", "Who developed IPT?", "How long does IPT last?",
                  "What are the problem areas in IPT?", "Is IPT effective for depression?"]


class RecordingEmbedder(HashEmbedder):
    """The fake embedder, remembering every text it was asked to embed."""

    def __init__(self):
        super().__init__()
        self.seen: list[str] = []

    def encode(self, texts):
        self.seen += list(texts)
        return super().encode(texts)


@pytest.fixture
def real_corpus(tmp_path) -> Path:
    """A writable copy of the real corpus (the project's own is never touched)."""
    dst = tmp_path / "corpus"
    shutil.copytree(ROOT / "corpus", dst)
    return dst


def texts_to_embed(corpus: Path, settings=SETTINGS) -> dict[str, set[str]]:
    """Per source, every text a build embeds: each passage's context, each sentence's context and the
    questions of its usable question-bank rows (off-topic rows under "")."""
    out: dict[str, set[str]] = {"": set()}
    sources = load_corpus(corpus)
    for src in sources:
        texts = set()
        for p in segment(src, settings):
            texts.add(p.context)
            texts.update(sentence_contexts(p, src.text))
        out[src.id] = texts
    for row in load_bank(corpus, {s.id: s.text for s in sources}).rows:
        out[row.source_id].add(row.question)
    return out


def passage_keys(corpus: Path) -> Counter:
    return Counter((p.source_id, p.context) for s in load_corpus(corpus) for p in segment(s, SETTINGS))


def answers(index_dir: Path, corpus: Path | None, embedder, questions) -> list[list[tuple]]:
    index = load_index(index_dir, corpus, settings=SETTINGS, check_corpus=corpus is not None)
    s = Searcher(index, embedder, SETTINGS)
    return [[(h.source_id, h.start, h.end, h.score, h.similarity) for h in s.ask(q).passages] for q in questions]


def leftovers(index_dir: Path) -> list[str]:
    """Everything in the index directory besides the current build, its predecessor and the lock."""
    keep = {"current", ".lock", "builds"}
    current = (index_dir / "current").resolve().name
    out = [p.name for p in index_dir.iterdir() if p.name not in keep]
    builds = sorted((index_dir / "builds").iterdir(), key=lambda p: p.name)
    out += [f"builds/{p.name}" for p in builds if p.name.startswith(".")]
    complete = [p.name for p in builds if not p.name.startswith(".") and p.name != current]
    if len(complete) > 1:
        out += [f"builds/{n}" for n in complete]
    return out


# ---------------------------------------------------------------------------------------------------------
# incremental builds and the report


def test_first_build_reports_everything_added(real_corpus, tmp_path):
    emb = HashEmbedder()
    report = build_index(real_corpus, tmp_path / "index", emb, SETTINGS)
    expected = set().union(*texts_to_embed(real_corpus).values())
    assert report.sources_added == sorted(s.id for s in load_corpus(real_corpus))
    assert report.sources_edited == report.sources_removed == report.sources_unchanged == []
    assert report.passages_added == report.passages_total == sum(passage_keys(real_corpus).values())
    assert report.passages_removed == 0
    assert report.embedded == emb.texts_encoded == len(expected)
    assert report.reused == 0


def test_rebuild_without_change_embeds_nothing(real_corpus, tmp_path):
    build_index(real_corpus, tmp_path / "index", HashEmbedder(), SETTINGS)
    emb = HashEmbedder()
    report = build_index(real_corpus, tmp_path / "index", emb, SETTINGS)
    assert emb.texts_encoded == report.embedded == 0
    assert report.passages_added == report.passages_removed == 0
    assert report.sources_added == report.sources_edited == report.sources_removed == []
    assert len(report.sources_unchanged) == 5
    assert "0 computed" in report.summary()


def test_edit_appending_a_paragraph_embeds_only_what_changed(real_corpus, tmp_path):
    index = tmp_path / "index"
    build_index(real_corpus, index, HashEmbedder(), SETTINGS)
    old_texts = texts_to_embed(real_corpus)
    old_passages = passage_keys(real_corpus)
    old = load_index(index, real_corpus, settings=SETTINGS)
    old_vectors = {p.context: v for p, v in zip(old.passages, old.vectors, strict=False)}

    with open(real_corpus / "ipt-definition.txt", "a", encoding="utf-8") as f:
        f.write("\n\nHomework between sessions helps patients practise new ways of relating to others.\n")
    new_texts = texts_to_embed(real_corpus)
    emb = RecordingEmbedder()
    report = build_index(real_corpus, index, emb, SETTINGS)

    changed = new_texts["ipt-definition"] - set().union(*old_texts.values())
    assert changed, "the edit must change something"
    assert report.embedded == emb.texts_encoded == len(changed)
    assert set(emb.seen) == changed
    # Only the tail of the edited source changed: most of its own texts were reused too.
    assert len(changed) < len(new_texts["ipt-definition"])
    assert report.sources_edited == ["ipt-definition"]
    assert report.sources_unchanged == sorted(set(new_texts) - {"ipt-definition", ""})
    assert report.sources_added == report.sources_removed == []
    new_passages = passage_keys(real_corpus)
    assert report.passages_added == sum((new_passages - old_passages).values()) >= 1
    assert report.passages_removed == sum((old_passages - new_passages).values())
    assert report.reused == len(set().union(*new_texts.values())) - len(changed)
    summary = report.summary()
    assert "1 edited (ipt-definition)" in summary and "4 unchanged" in summary
    assert f"{report.embedded} computed, {report.reused} reused" in summary

    # Reused vectors are the old ones, bit for bit.
    new = load_index(index, real_corpus, settings=SETTINGS)
    for p, v in zip(new.passages, new.vectors, strict=False):
        if p.context in old_vectors:
            assert np.array_equal(v, old_vectors[p.context])


def test_edit_of_one_word_embeds_one_passage_and_one_sentence(real_corpus, tmp_path):
    index = tmp_path / "index"
    build_index(real_corpus, index, HashEmbedder(), SETTINGS)
    path = real_corpus / "understanding-ipt.txt"
    text = path.read_text(encoding="utf-8")
    assert text.count("relationships") >= 1
    # Same length, so the segmentation (and every other passage) stays as it was.
    path.write_text(text.replace("relationships", "relationshipz", 1), encoding="utf-8")
    emb = RecordingEmbedder()
    report = build_index(real_corpus, index, emb, SETTINGS)
    assert report.passages_added == report.passages_removed == 1
    assert report.embedded == emb.texts_encoded == 2, emb.seen
    assert all("relationshipz" in t for t in emb.seen)
    assert report.sources_edited == ["understanding-ipt"]


def test_title_change_re_embeds_that_source_only(tiny_corpus, tmp_path):
    index = tmp_path / "index"
    build_index(tiny_corpus, index, HashEmbedder(), SETTINGS)
    toml = tiny_corpus / "sources.toml"
    toml.write_text(toml.read_text(encoding="utf-8").replace('"Alpha notes on IPT"', '"Alpha: notes on IPT"'),
                    encoding="utf-8")
    emb = RecordingEmbedder()
    report = build_index(tiny_corpus, index, emb, SETTINGS)
    # The title is part of every passage's embedded context, so the source counts as edited.
    assert report.sources_edited == ["alpha"] and report.sources_unchanged == ["beta"]
    assert report.passages_added == report.passages_removed == 2
    # Only the passages' contexts carry the title; the sentences are embedded without it and are reused.
    assert report.embedded == emb.texts_encoded == 2
    assert all(t.startswith("Alpha: notes on IPT\n") for t in emb.seen)


def test_full_rebuild_embeds_everything(real_corpus, tmp_path):
    build_index(real_corpus, tmp_path / "index", HashEmbedder(), SETTINGS)
    emb = HashEmbedder()
    report = build_index(real_corpus, tmp_path / "index", emb, SETTINGS, full=True)
    assert report.full and report.reused == 0
    assert report.embedded == emb.texts_encoded == len(set().union(*texts_to_embed(real_corpus).values()))
    assert "--full" in report.summary()


def test_other_model_reuses_nothing(tiny_corpus, tmp_path):
    build_index(tiny_corpus, tmp_path / "index", HashEmbedder(), SETTINGS)
    emb = HashEmbedder()
    emb.weights_sha256 = "1" * 64
    report = build_index(tiny_corpus, tmp_path / "index", emb, SETTINGS)
    assert report.reused == 0 and report.embedded == emb.texts_encoded > 0


def test_removed_source_is_gone_everywhere(tiny_corpus, tmp_path):
    index = tmp_path / "index"
    emb = HashEmbedder()
    build_index(tiny_corpus, index, emb, SETTINGS)
    before = load_index(index, tiny_corpus, settings=SETTINGS)
    n_alpha = sum(p.source_id == "alpha" for p in before.passages)
    hits = Searcher(before, emb, SETTINGS).ask("Who created interpersonal psychotherapy? Klerman Weissman")
    assert hits.passages[0].source_id == "alpha"

    (tiny_corpus / "alpha.txt").unlink()
    toml = tiny_corpus / "sources.toml"
    toml.write_text('[[source]]\nid = "beta"\ntitle = "Beta guide"\nfile = "beta.md"\n', encoding="utf-8")
    report = build_index(tiny_corpus, index, emb, SETTINGS)
    assert report.sources_removed == ["alpha"] and report.sources_unchanged == ["beta"]
    assert report.passages_removed == n_alpha and report.passages_added == 0
    assert report.embedded == 0

    after = load_index(index, tiny_corpus, settings=SETTINGS)
    assert {p.source_id for p in after.passages} == {"beta"}
    assert after.faiss_index.ntotal == len(after.passages) == len(before.passages) - n_alpha
    assert after.bm25.scores["num_docs"] == len(after.passages)
    assert len(after.vectors) == len(after.passages)
    assert "alpha" not in after.sources
    searcher = Searcher(after, emb, SETTINGS)
    for q in ("Who created interpersonal psychotherapy? Klerman Weissman", "12 to 16 weekly sessions"):
        for h in searcher.ask(q, k=10).passages:
            assert h.source_id == "beta" and all(a.source_id == "beta" for a in h.also_in)


def test_added_markdown_source_is_found_under_its_heading(tiny_corpus, tmp_path):
    index = tmp_path / "index"
    emb = HashEmbedder()
    build_index(tiny_corpus, index, emb, SETTINGS)
    (tiny_corpus / "gamma.md").write_text(
        "# Gamma handbook\n\n## Sleep and mood\n\n"
        "Keeping a regular bedtime steadies mood while interpersonal work goes on.\n\n"
        "## Ending therapy\n\nThe last sessions review progress and plan for future setbacks.\n",
        encoding="utf-8")

    # Without its manifest entry the file is refused, by name, and the index stays as it was.
    target = (index / "current").resolve()
    with pytest.raises(QAError, match="gamma.md"):
        build_index(tiny_corpus, index, emb, SETTINGS)
    assert (index / "current").resolve() == target

    with open(tiny_corpus / "sources.toml", "a", encoding="utf-8") as f:
        f.write('\n[[source]]\nid = "gamma"\ntitle = "Gamma handbook"\nfile = "gamma.md"\n')
    report = build_index(tiny_corpus, index, emb, SETTINGS)
    assert report.sources_added == ["gamma"] and report.sources_unchanged == ["alpha", "beta"]
    assert report.passages_added == 2

    loaded = load_index(index, tiny_corpus, settings=SETTINGS)
    gamma = [p for p in loaded.passages if p.source_id == "gamma"]
    assert [p.section for p in gamma] == ["Sleep and mood", "Ending therapy"]
    text = (tiny_corpus / "gamma.md").read_text(encoding="utf-8")
    assert all(text[p.start:p.end] == p.text for p in gamma)
    top = Searcher(loaded, emb, SETTINGS).ask("regular bedtime steadies mood").passages[0]
    assert (top.source_id, top.section) == ("gamma", "Sleep and mood")
    assert "Keeping a regular bedtime" in top.text


# ---------------------------------------------------------------------------------------------------------
# atomicity: failures, leftovers, kills


def test_leftovers_of_crashed_builds_do_not_matter(tiny_corpus, tmp_path):
    index = tmp_path / "index"
    emb = HashEmbedder()
    build_index(tiny_corpus, index, emb, SETTINGS)
    before = answers(index, tiny_corpus, emb, ["Who created IPT?"])
    builds = index / "builds"
    # What crashes at various points leave behind: a half-written temp dir, a complete but never installed
    # build, a temp symlink, and a stray file.
    (builds / ".20000101T000000-deadbeef.tmp" / "bm25").mkdir(parents=True)
    (builds / ".20000101T000000-deadbeef.tmp" / "dense.faiss").write_bytes(b"\x00" * 10)
    shutil.copytree((index / "current").resolve(), builds / "99991231T235959-orphan00")
    os.symlink("builds/nowhere", index / ".current.20000101T000000-deadbeef")
    (builds / "stray.txt").write_text("x")

    assert answers(index, tiny_corpus, emb, ["Who created IPT?"]) == before
    build_index(tiny_corpus, index, emb, SETTINGS)
    assert answers(index, tiny_corpus, emb, ["Who created IPT?"]) == before
    assert leftovers(index) == []


def test_builds_keep_the_current_and_the_previous_only(tiny_corpus, tmp_path):
    index = tmp_path / "index"
    emb = HashEmbedder()
    dirs = []
    for i in range(4):
        with open(tiny_corpus / "alpha.txt", "a", encoding="utf-8") as f:
            f.write(f"\nEdit number {i} of these notes.\n")
        dirs.append(build_index(tiny_corpus, index, emb, SETTINGS).directory)
    assert (index / "current").resolve() == dirs[-1]
    assert sorted(p for p in (index / "builds").iterdir()) == sorted(dirs[-2:])
    # The link is relative, so the index directory can be moved or copied as a whole.
    assert not os.path.isabs(os.readlink(index / "current"))


def _fail_writes_after(monkeypatch, n: int) -> list[Path]:
    """Make qa.index.layout.write_file fail like a full disk once n files are written; returns the paths written."""
    written: list[Path] = []
    real = qa.index.layout.write_file

    def write(path, data):
        if len(written) >= n:
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(path))
        real(path, data)
        written.append(Path(path))

    monkeypatch.setattr(qa.index.layout, "write_file", write)
    return written


@pytest.mark.parametrize("after", [0, 1, 5, 10_000], ids=["first-file", "second-file", "sixth-file", "never"])
def test_disk_full_leaves_the_old_index(real_corpus, tmp_path, monkeypatch, after):
    index = tmp_path / "index"
    emb = HashEmbedder()
    build_index(real_corpus, index, emb, SETTINGS)
    target = (index / "current").resolve()
    before = answers(index, real_corpus, emb, REAL_QUESTIONS)
    with open(real_corpus / "focus-of-ipt.txt", "a", encoding="utf-8") as f:
        f.write("\nA new closing paragraph about the focus of IPT.\n")

    written = _fail_writes_after(monkeypatch, after)
    if after == 10_000:
        # A write that never fails: the disk fills up at the swap instead.
        def no_space(*a, **k):
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        monkeypatch.setattr(qa.index.install.os, "symlink", no_space)
    with pytest.raises(IndexProblem) as err:
        build_index(real_corpus, index, emb, SETTINGS)
    monkeypatch.undo()
    msg = str(err.value)
    assert "\n" not in msg and str(index) in msg and "No space left" in msg, msg
    assert isinstance(err.value, QAError)
    if after < 10_000:
        assert len(written) == after  # the failure struck where intended, part way through the files
    assert (index / "current").resolve() == target
    assert leftovers(index) == [], "the failed build must clean up after itself"
    # The old index answers as before (checked without the corpus, which has moved on) ...
    assert answers(index, None, emb, REAL_QUESTIONS) == before
    # ... and the next build, with room on the disk, goes through.
    build_index(real_corpus, index, emb, SETTINGS)
    load_index(index, real_corpus, settings=SETTINGS)


def test_failed_verification_installs_nothing(tiny_corpus, tmp_path, monkeypatch):
    index = tmp_path / "index"
    emb = HashEmbedder()
    build_index(tiny_corpus, index, emb, SETTINGS)
    target = (index / "current").resolve()
    real = qa.index.build._faiss_bytes
    monkeypatch.setattr(qa.index.build, "_faiss_bytes", lambda vectors: real(vectors[:-1]))  # one vector lost
    with open(tiny_corpus / "alpha.txt", "a", encoding="utf-8") as f:
        f.write("\nAnother line about IPT.\n")
    with pytest.raises(IndexCorrupt, match="not installed"):
        build_index(tiny_corpus, index, emb, SETTINGS)
    assert (index / "current").resolve() == target
    assert leftovers(index) == []


def test_interrupted_build_cleans_up(tiny_corpus, tmp_path, monkeypatch):
    index = tmp_path / "index"
    emb = HashEmbedder()
    build_index(tiny_corpus, index, emb, SETTINGS)
    target = (index / "current").resolve()

    def interrupt(step):
        if step == "written":
            raise KeyboardInterrupt

    monkeypatch.setattr(qa.index.layout, "checkpoint", interrupt)
    with pytest.raises(KeyboardInterrupt):
        build_index(tiny_corpus, index, emb, SETTINGS, full=True)
    assert (index / "current").resolve() == target
    assert leftovers(index) == []


def _kill_child_at(stage: str, corpus: Path, index: Path, tmp_path: Path) -> None:
    marker = tmp_path / f"marker-{stage.replace(':', '-')}"
    child = subprocess.Popen([sys.executable, str(TESTS / "build_child.py"), str(corpus), str(index), stage,
                              str(marker)], cwd=ROOT)
    try:
        deadline = time.monotonic() + 120
        while not marker.exists():
            assert child.poll() is None, f"the child build ended (code {child.returncode}) before {stage}"
            assert time.monotonic() < deadline, f"the child build never reached {stage}"
            time.sleep(0.02)
        assert marker.read_text() == stage.partition(":")[0]
    finally:
        os.kill(child.pid, signal.SIGKILL)
        child.wait(timeout=30)
    assert child.returncode == -signal.SIGKILL


@pytest.mark.parametrize("stage", ["embedding", "writing:1", "writing:4", "written", "swapping"])
def test_kill_9_mid_build_leaves_the_old_index(real_corpus, tmp_path, stage):
    index = tmp_path / "index"
    emb = HashEmbedder()
    build_index(real_corpus, index, emb, Settings())
    target = (index / "current").resolve()
    before = answers(index, real_corpus, emb, REAL_QUESTIONS)

    # The killed build works on an edited copy, so it has real work to do and a different result.
    edited = tmp_path / "edited"
    shutil.copytree(real_corpus, edited)
    with open(edited / "understanding-ipt.txt", "a", encoding="utf-8") as f:
        f.write("\n\nA closing paragraph added to give the build something new to embed.\n")
    _kill_child_at(stage, edited, index, tmp_path)

    assert (index / "current").resolve() == target
    assert answers(index, real_corpus, emb, REAL_QUESTIONS) == before
    # The next build, for either corpus, goes through and clears what the killed one left.
    report = build_index(edited, index, emb, Settings())
    assert report.sources_edited == ["understanding-ipt"]
    load_index(index, edited)
    assert leftovers(index) == []


def test_kill_9_after_the_swap_leaves_the_new_index(real_corpus, tmp_path):
    index = tmp_path / "index"
    emb = HashEmbedder()
    build_index(real_corpus, index, emb, Settings())
    edited = tmp_path / "edited"
    shutil.copytree(real_corpus, edited)
    with open(edited / "understanding-ipt.txt", "a", encoding="utf-8") as f:
        f.write("\n\nA closing paragraph added to give the build something new to embed.\n")
    _kill_child_at("swapped", edited, index, tmp_path)
    load_index(index, edited)  # installed and complete, only the clean-up was missed
    build_index(edited, index, emb, Settings())
    assert leftovers(index) == []


# ---------------------------------------------------------------------------------------------------------
# the command line, with the real model


def _cli_build(index: Path, corpus: Path, *extra: str) -> str:
    proc = subprocess.run([sys.executable, "-m", "qa", "build", "--index", str(index), "--corpus", str(corpus),
                           *extra], cwd=ROOT, capture_output=True, text=True, timeout=600,
                          env={**os.environ, "HF_HUB_OFFLINE": "1"})
    assert proc.returncode == 0, proc.stderr
    assert "Traceback" not in proc.stderr
    return proc.stdout


@pytest.mark.model
def test_cli_build_prints_what_changed(real_corpus, tmp_path):
    index = tmp_path / "index"
    first = _cli_build(index, real_corpus)
    assert "sources: 5 added" in first and "0 reused" in first

    with open(real_corpus / "ipt-definition.txt", "a", encoding="utf-8") as f:
        f.write("\n\nHomework between sessions helps patients practise new ways of relating to others.\n")
    second = _cli_build(index, real_corpus)
    assert "1 edited (ipt-definition)" in second and "4 unchanged" in second
    assert "passages:" in second and "1 added" in second.split("passages:")[1].splitlines()[0]
    computed = int(second.split("embeddings: ")[1].split(" computed")[0])
    assert 0 < computed < 10

    third = _cli_build(index, real_corpus)
    assert "embeddings: 0 computed" in third and "5 unchanged" in third
    assert "0 added, 0 removed" in third


def test_build_is_quiet_when_not_at_a_terminal(tiny_corpus, tmp_path, capsys):
    # The progress bar is for people; under pytest (as in logs and pipes) stderr is not a terminal.
    build_index(tiny_corpus, tmp_path / "index", HashEmbedder(), SETTINGS)
    captured = capsys.readouterr()
    assert captured.err == "" and captured.out == ""


def test_failure_after_the_swap_does_not_undo_the_build(tiny_corpus, tmp_path, monkeypatch):
    index = tmp_path / "index"
    emb = HashEmbedder()
    build_index(tiny_corpus, index, emb, SETTINGS)

    def broken_prune(*a, **k):
        raise OSError(errno.EIO, os.strerror(errno.EIO))

    monkeypatch.setattr(qa.index.install, "prune", broken_prune)
    with open(tiny_corpus / "alpha.txt", "a", encoding="utf-8") as f:
        f.write("\nA line added after the first build.\n")
    report = build_index(tiny_corpus, index, emb, SETTINGS)
    assert (index / "current").resolve() == report.directory
    load_index(index, tiny_corpus, settings=SETTINGS)

"""Case 3: faults while running and while building.

(a) The page keeps answering from memory when its index directory is deleted, truncated or bit-flipped under
    it, and a fresh load reports the damage.
(b) Real build processes SIGKILLed after a random delay (seeded): the index always loads and answers as
    before (or, if the kill came after the swap, as the new build).
(c) A real full disk (a small tmpfs): the build fails with one clear line and the old index is untouched.

Kills at fixed points, a simulated ENOSPC (monkeypatched writes) and damaged files at load time are covered
by tests/index/test_rebuild.py and tests/index/test_index.py; these add the running app, random kill times and a real
file system running out of space.
"""

from __future__ import annotations

import contextlib
import os
import random
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from app_support import GRADIO_PANDAS_NOISE, serve
from fakes import HashEmbedder
from rel_support import CORPUS, HERE, ROOT, child_env, tree_snapshot

from qa.errors import IndexCorrupt, IndexMissing, IndexProblem, QAError
from qa.index.build import build_index
from qa.index.load import load_index
from qa.search import Searcher
from qa.settings import Settings

QUESTIONS = ["Who created IPT?", "How long does IPT last?", "What are the problem areas in IPT?",
             "Is IPT as good as medication?", "What is the capital of France?"]
SETTINGS = Settings(abstain=False)
pytestmark = GRADIO_PANDAS_NOISE


def _answers(index_dir: Path, corpus: Path, embedder, questions=QUESTIONS) -> list[list[tuple]]:
    s = Searcher(load_index(index_dir, corpus, settings=SETTINGS), embedder, SETTINGS)
    return [[(h.source_id, h.start, h.end, h.score) for h in s.ask(q).passages] for q in questions]


# ---------------------------------------------------------------------------------------------------------
# (a) the running page, with its index damaged under it


def _damage(path: Path, how: str, rng: random.Random) -> None:
    data = bytearray(path.read_bytes())
    if how == "truncate":
        path.write_bytes(bytes(data[:len(data) // 2]))
    elif path.name == "manifest.json":
        # Flip a bit of a recorded file hash (the manifest's own SHA-256 catches it first).
        files_at = data.index(b'"files"')
        pos = data.index(b'": "', files_at) + 4 + rng.randrange(64)
        data[pos] ^= 1
        path.write_bytes(bytes(data))
    else:
        pos = rng.randrange(len(data))
        data[pos] ^= 1 << rng.randrange(8)
        path.write_bytes(bytes(data))


@pytest.mark.model
def test_running_app_answers_from_memory_while_its_index_is_damaged(real_index_dir, real_embedder, tmp_path):
    from gradio_client import Client

    index, backup = tmp_path / "index", tmp_path / "backup"
    shutil.copytree(real_index_dir, index, symlinks=True)
    shutil.copytree(real_index_dir, backup, symlinks=True)
    searcher = Searcher(load_index(index, CORPUS), real_embedder)
    rng = random.Random(3)
    with serve(searcher) as url:
        client = Client(url, analytics_enabled=False, verbose=False, download_files=False)

        def ask(q: str) -> dict:
            return client.predict(q, 5, None, api_name="/ask")

        baseline = {q: ask(q) for q in QUESTIONS}
        assert not baseline[QUESTIONS[0]]["abstained"]

        # 1. The whole index directory deleted.
        shutil.rmtree(index)
        with pytest.raises(IndexMissing):
            load_index(index, CORPUS)
        assert {q: ask(q) for q in QUESTIONS} == baseline
        shutil.copytree(backup, index, symlinks=True)
        load_index(index, CORPUS)

        # 2. Every file of the build, truncated to half and then with one bit flipped (restored in between).
        files = sorted(p for p in (index / "current").resolve().rglob("*") if p.is_file())
        assert len(files) >= 10
        n = 0
        for how in ("truncate", "bitflip"):
            for path in files:
                original = path.read_bytes()
                _damage(path, how, rng)
                with pytest.raises(IndexCorrupt) as err:
                    load_index(index, CORPUS)
                assert "\n" not in str(err.value) and "ipt-qa build" in str(err.value)
                q = QUESTIONS[n % len(QUESTIONS)]
                n += 1
                assert ask(q) == baseline[q], (how, path.name)
                path.write_bytes(original)
            assert {q: ask(q) for q in QUESTIONS} == baseline
        load_index(index, CORPUS)


def test_random_bit_flips_in_the_manifest_never_crash_the_loader(tmp_path):
    """A flipped bit in the manifest never crashes the loader with anything but an IndexProblem, and never
    loads with changed contents: the manifest carries its own SHA-256 (before it did not, and 15 of 200 flips
    loaded silently with other titles, URLs or file names of sources). Flips that leave the JSON the same
    (whitespace) load the same index."""
    corpus = tmp_path / "corpus"
    shutil.copytree(CORPUS, corpus)
    index = tmp_path / "index"
    build_index(corpus, index, HashEmbedder(), SETTINGS)
    manifest = (index / "current").resolve() / "manifest.json"
    original = manifest.read_bytes()
    base = load_index(index, corpus, settings=SETTINGS)

    def signature(ix):
        return ([(p.source_id, p.start, p.end, p.text, p.section) for p in ix.passages],
                {k: (v.title, v.path, v.url, tuple(v.links), v.sha256) for k, v in ix.sources.items()})

    rng = random.Random(11)
    outcome = {"refused": 0, "same": 0, "different": 0}
    deadline = time.monotonic() + 60
    for _ in range(200):
        assert time.monotonic() < deadline
        data = bytearray(original)
        data[rng.randrange(len(data))] ^= 1 << rng.randrange(8)
        manifest.write_bytes(bytes(data))
        try:
            loaded = load_index(index, corpus, settings=SETTINGS)
        except IndexProblem:
            outcome["refused"] += 1
            continue
        outcome["same" if signature(loaded) == signature(base) else "different"] += 1
    manifest.write_bytes(original)
    print(f"\nmanifest.json, 200 random bit flips: {outcome}")
    assert outcome["refused"] > 0 and outcome["different"] == 0, outcome


# ---------------------------------------------------------------------------------------------------------
# (b) builds killed at random moments

KILL_RUNS = 20


def _events(log: Path) -> list[tuple[float, str]]:
    if not log.exists():
        return []
    out = []
    for line in log.read_text().splitlines():
        t, _, event = line.partition(" ")
        out.append((float(t), event))
    return out


def _run_child(corpus: Path, index: Path, log: Path, kill_after: float | None) -> list[str]:
    """Start kill_child.py; once it logs "start", SIGKILL it after `kill_after` s (None: let it finish)."""
    log.unlink(missing_ok=True)
    child = subprocess.Popen([sys.executable, str(HERE / "kill_child.py"), str(corpus), str(index), str(log)],
                             cwd=ROOT, env=child_env())
    try:
        deadline = time.monotonic() + 60
        while not any(e == "start" for _, e in _events(log)):
            assert child.poll() is None, f"the child ended (code {child.returncode}) before starting its build"
            assert time.monotonic() < deadline, "the child never started its build"
            time.sleep(0.002)
        if kill_after is None:
            assert child.wait(timeout=60) == 0
        else:
            time.sleep(kill_after)
            os.kill(child.pid, signal.SIGKILL)
            child.wait(timeout=30)
    finally:
        if child.poll() is None:
            os.kill(child.pid, signal.SIGKILL)
            child.wait(timeout=30)
    return [e for _, e in _events(log)]


def test_builds_killed_at_random_moments_leave_a_loadable_index(tmp_path):
    old_corpus, new_corpus = tmp_path / "old", tmp_path / "new"
    shutil.copytree(CORPUS, old_corpus)
    shutil.copytree(CORPUS, new_corpus)
    with open(new_corpus / "understanding-ipt.txt", "a", encoding="utf-8") as f:
        f.write("\n\nA closing paragraph added so that the killed build has something new to install.\n")
    emb = HashEmbedder()
    index = tmp_path / "index"
    build_index(old_corpus, index, emb, SETTINGS)
    old_answers = _answers(index, old_corpus, emb)

    # Calibrate: how long a build takes here once the child is running (the best of two), and what the new
    # build answers.
    durations = []
    scratch = tmp_path / "scratch"
    for _i in range(2):
        shutil.rmtree(scratch, ignore_errors=True)
        shutil.copytree(index, scratch, symlinks=True)
        _run_child(new_corpus, scratch, tmp_path / "calibrate.log", None)
        ev = dict((e, t) for t, e in _events(tmp_path / "calibrate.log"))
        durations.append(ev["finished"] - ev["start"])
    new_answers = _answers(scratch, new_corpus, emb)
    assert new_answers != old_answers
    duration = min(durations)

    rng = random.Random(20261122)
    reached: list[str] = []
    t_end = time.monotonic() + 240
    for run in range(KILL_RUNS):
        assert time.monotonic() < t_end, f"the kill runs took too long (run {run})"
        old_target = (index / "current").resolve()
        events = _run_child(new_corpus, index, tmp_path / f"run{run}.log", rng.uniform(0, 1.1 * duration))
        last = events[-1] if events else "(none)"
        reached.append(last)
        target = (index / "current").resolve()
        if target == old_target:
            # Killed before the swap: the previous build is current, loads, and answers as before.
            assert "swapped" not in events and "finished" not in events, events
            assert _answers(index, old_corpus, emb) == old_answers, (run, events)
        else:
            # Killed after the swap: the new build is complete and answers as the new corpus does. Put the old
            # corpus back (an ordinary build) so that every run starts from the same state.
            assert "swapping" in events, events
            assert _answers(index, new_corpus, emb) == new_answers, (run, events)
            build_index(old_corpus, index, emb, SETTINGS)
            assert _answers(index, old_corpus, emb) == old_answers
    summary = {e: reached.count(e) for e in dict.fromkeys(reached)}
    print(f"\n{KILL_RUNS} builds killed within {1.1 * duration:.3f} s of starting (a full build takes "
          f"{duration:.3f} s); last step reached: {summary}")
    # Most kills must land inside the build, not before it starts or after it ends.
    assert sum(1 for e in reached if e not in ("start", "finished")) >= KILL_RUNS // 2, summary

    # What the killed builds left behind is cleared by the next build.
    build_index(new_corpus, index, emb, SETTINGS)
    assert _answers(index, new_corpus, emb) == new_answers
    builds = sorted(p.name for p in (index / "builds").iterdir())
    assert not [b for b in builds if b.startswith(".")] and len(builds) <= 2, builds
    assert not list(index.glob(".current.*"))


# ---------------------------------------------------------------------------------------------------------
# (c) a real full disk


def _used(path: Path) -> int:
    st = os.statvfs(path)
    return (st.f_blocks - st.f_bfree) * st.f_frsize


@contextlib.contextmanager
def _tmpfs(mountpoint: Path, size: int):
    if os.geteuid() != 0:
        pytest.skip("mounting a tmpfs needs root; this run is not root")
    mountpoint.mkdir(parents=True, exist_ok=True)
    proc = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size},mode=0755", "tmpfs", str(mountpoint)],
                          capture_output=True, text=True, timeout=30)
    if proc.returncode != 0:
        pytest.skip(f"mount -t tmpfs is not permitted here: {proc.stderr.strip()}")
    try:
        yield mountpoint
    finally:
        if subprocess.run(["umount", str(mountpoint)], capture_output=True, timeout=30).returncode != 0:
            subprocess.run(["umount", "-l", str(mountpoint)], capture_output=True, timeout=30)


def _remount(mountpoint: Path, size: int) -> None:
    subprocess.run(["mount", "-o", f"remount,size={size}", str(mountpoint)], check=True, capture_output=True,
                   timeout=30)


@pytest.fixture
def nearly_full_disk(tiny_corpus, tmp_path):
    """A tmpfs holding an index of the tiny corpus, shrunk so that a build of the real corpus cannot fit.

    Sizes are measured, not guessed: the tiny index and a probe build of the real corpus (fake embedder,
    256 dimensions; the real model's 384 need more) are written on a roomy tmpfs first, then the tmpfs is
    shrunk to what the tiny index uses plus half of what the real build needs."""
    page = os.sysconf("SC_PAGE_SIZE")
    with _tmpfs(tmp_path / "disk", 96 << 20) as disk:  # roomy: the word-vector table alone is ~11 MB here
        index = disk / "index"
        build_index(tiny_corpus, index, HashEmbedder(), SETTINGS)
        used_tiny = _used(disk)
        build_index(CORPUS, disk / "probe", HashEmbedder(), SETTINGS)
        need_real = _used(disk) - used_tiny
        shutil.rmtree(disk / "probe")
        size = -(-(used_tiny + need_real // 2) // page) * page
        _remount(disk, size)
        print(f"\ntmpfs: tiny index uses {used_tiny} B, a real build needs {need_real} B; size set to {size} B")
        yield disk, index


def _check_intact(index: Path, tiny_corpus: Path, before: dict, answers: list) -> None:
    assert tree_snapshot(index) == before
    assert _answers(index, tiny_corpus, HashEmbedder()) == answers


def test_full_disk_build_fails_cleanly_and_keeps_the_old_index(nearly_full_disk, tiny_corpus, tmp_path):
    disk, index = nearly_full_disk
    before, answers, used = tree_snapshot(index), _answers(index, tiny_corpus, HashEmbedder()), _used(disk)
    corpus = tmp_path / "real"
    shutil.copytree(CORPUS, corpus)

    with pytest.raises(IndexProblem) as err:
        build_index(corpus, index, HashEmbedder(), SETTINGS)
    msg = str(err.value)
    assert isinstance(err.value, QAError)
    assert "\n" not in msg and "No space left" in msg and str(index) in msg and "previous index" in msg, msg
    _check_intact(index, tiny_corpus, before, answers)
    assert _used(disk) == used, "the failed build left files behind on the full disk"

    # With room again, the same build goes through.
    _remount(disk, 96 << 20)
    build_index(corpus, index, HashEmbedder(), SETTINGS)
    load_index(index, corpus, settings=SETTINGS)


@pytest.mark.model
def test_full_disk_cli_build_exits_2_with_one_line(nearly_full_disk, tiny_corpus, tmp_path):
    disk, index = nearly_full_disk
    before, answers, used = tree_snapshot(index), _answers(index, tiny_corpus, HashEmbedder()), _used(disk)
    proc = subprocess.run([sys.executable, "-m", "qa", "build", "--index", str(index), "--corpus", str(CORPUS)],
                          capture_output=True, text=True, cwd=ROOT, env=child_env(), timeout=600)
    assert proc.returncode == 2, (proc.stdout, proc.stderr)
    err = proc.stderr.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("ipt-qa: ") and "No space left" in err[0], proc.stderr
    assert "Traceback" not in proc.stderr
    _check_intact(index, tiny_corpus, before, answers)
    assert _used(disk) == used

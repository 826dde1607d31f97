"""Install a finished build: write its files into a new build directory, verify it, swap `current` to it
atomically, and prune what older or crashed builds left (the layout: qa/index/layout.py)."""

from __future__ import annotations

import contextlib
import os
import shutil
import time
import uuid
from pathlib import Path

from qa.errors import IndexCorrupt, IndexProblem
from qa.index import layout
from qa.index.layout import BUILDS, CURRENT, fsync_dir
from qa.index.load import load_index
from qa.settings import Settings


def install_build(index_dir: Path, files: dict[str, bytes], settings: Settings, n_passages: int, n_sentences: int,
             keep: Path | None) -> Path:
    """Write `files` into a new build directory, verify it, and make it `current`; returns its path.

    Until the os.replace that swaps `current`, any failure (or interruption) removes everything this build
    wrote and re-raises; after it, the build is installed and only the clean-up of old builds remains.
    """
    builds = index_dir / BUILDS
    build_id = time.strftime("%Y%m%dT%H%M%S", time.gmtime()) + "-" + uuid.uuid4().hex[:8]
    # Dot names: `prune` knows them for leftovers of a crash, and nothing else takes them for builds.
    tmp = builds / f".{build_id}.tmp"
    final = builds / build_id
    link_tmp = index_dir / f".{CURRENT}.{build_id}"
    try:
        builds.mkdir(parents=True, exist_ok=True)
        tmp.mkdir()
        dirs = [tmp]
        for name, data in files.items():
            path = tmp / name
            if path.parent not in dirs:
                path.parent.mkdir(parents=True, exist_ok=True)
                dirs.append(path.parent)
            layout.write_file(path, data)
            layout.checkpoint("writing")
        for d in dirs:
            fsync_dir(d)
        os.rename(tmp, final)
        fsync_dir(builds)
        layout.checkpoint("written")
        _verify(index_dir, final, settings, n_passages, n_sentences)
        os.symlink(Path(BUILDS) / build_id, link_tmp)  # relative, so the index directory can be moved
        layout.checkpoint("swapping")
        _clear_non_link_current(index_dir / CURRENT)
        os.replace(link_tmp, index_dir / CURRENT)
    except BaseException:
        # Also on KeyboardInterrupt: a half build must not linger (the next build would delete it anyway).
        shutil.rmtree(tmp, ignore_errors=True)
        shutil.rmtree(final, ignore_errors=True)
        with contextlib.suppress(OSError):
            link_tmp.unlink(missing_ok=True)
        raise
    layout.checkpoint("swapped")
    # The new build is installed: what follows may fail without that being the build's failure.
    with contextlib.suppress(OSError):
        fsync_dir(index_dir)  # at worst a power cut undoes the swap, and the previous build is still there
    with contextlib.suppress(OSError):
        prune(index_dir, keep={final.name} | ({keep.name} if keep else set()))  # the next build retries
    return final


def _clear_non_link_current(current: Path) -> None:
    """`current` is ours and always a link; an empty directory in its place (which os.replace cannot replace
    with a link) is removed. A directory with files in it is not deleted: the message says to move it."""
    if current.is_dir() and not current.is_symlink():
        try:
            current.rmdir()
        except OSError:
            raise IndexProblem(f"{current}: a directory with files in it where the link to the live build "
                               "belongs; move it out of the index folder, then run `ipt-qa build` again") from None


def _verify(index_dir: Path, build_dir: Path, settings: Settings, n_passages: int, n_sentences: int) -> None:
    """Read a finished build back as a loader would, before anyone is pointed at it."""
    try:
        check = load_index(index_dir, settings=settings, check_corpus=False, build_dir=build_dir)
    except IndexProblem as e:
        raise IndexCorrupt(f"{build_dir}: the new build does not read back ({e}); not installed, the previous "
                           "index is unchanged") from None
    counts = (len(check.passages), check.faiss_index.ntotal, check.bm25.scores["num_docs"], len(check.vectors))
    if set(counts) != {n_passages} or len(check.sentence_vectors) != n_sentences:
        raise IndexCorrupt(f"{build_dir}: verification failed (passages, FAISS, BM25, vectors: {counts}; expected "
                           f"{n_passages}); not installed, the previous index is unchanged")


def prune(index_dir: Path, keep: set[str]) -> None:
    """Remove every build not named in `keep`, and leftovers of crashed builds (temp dirs and links).

    Runs under the build lock, so no other build is writing; best effort, as what remains is harmless.
    """
    for entry in (index_dir / BUILDS).iterdir():
        if entry.name in keep:
            continue
        if entry.is_dir() and not entry.is_symlink():
            shutil.rmtree(entry, ignore_errors=True)
        else:
            with contextlib.suppress(OSError):
                entry.unlink()
    for entry in index_dir.glob(f".{CURRENT}.*"):
        with contextlib.suppress(OSError):
            entry.unlink()

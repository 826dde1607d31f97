"""The on-disk layout of an index and the small pieces every index module shares.

Build, save and load the index: FAISS (dense) + bm25s (keyword) + passages, as plain files.

Layout of an index directory:

    <index>/current -> builds/<build id>      symlink, swapped atomically when a build is complete
    <index>/builds/<build id>/manifest.json   format version, model id + weights hash, settings,
                                              source hashes, SHA-256 of every other file
                                passages.jsonl one passage per line (offsets, section, sentences, hashes)
                                dense.faiss    FAISS index of passage vectors (inner product)
                                wordvec.npz    static word vectors (qa/index/wordvec.py)
                                bank.jsonl     the question banks' usable rows, each with its passage
                                bank.npy       their questions' vectors (qa/index/bank.py)
                                vectors.npy    the same passage vectors, reused by incremental builds
                                sentences.npy  sentence vectors, for highlighting and grouping
                                bm25/          bm25s arrays (.npy) and vocabulary (.json)
    <index>/.lock                              held while a build runs

Nothing is ever pickled. A build writes everything into `builds/.<id>.tmp`, renames it to `builds/<id>`,
loads it back to verify it (file hashes, passage counts of FAISS and BM25), then points `current` at it by
renaming a fresh symlink over the old one (os.replace, atomic on POSIX). A crash or `kill -9` at any point
leaves `current` on the previous, complete build; the next build deletes whatever a crashed one left.
The build that `current` replaced is kept one round longer, so a process that resolved `current` just
before the swap can still read it.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import io
import json
import os
import sys
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from qa.errors import IndexCorrupt
from qa.ingest.passages import Passage

CURRENT = "current"
BUILDS = "builds"
MANIFEST = "manifest.json"
# Files every build has (besides bm25/*); a manifest that does not list one of them is damaged.
REQUIRED_FILES = ("passages.jsonl", "vectors.npy", "sentences.npy", "sentence_offsets.npy", "dense.faiss",
                  "wordvec.npz", "bank.jsonl", "bank.npy")
SIGNATURE = "manifest_sha256"
REBUILD_HINT = "run `ipt-qa build` to rebuild it"
REBUILD_FULL_HINT = "run `ipt-qa build --full` to rebuild it"


@dataclass
class SourceInfo:
    id: str
    title: str
    path: str  # as printed in citations
    url: str
    links: list[str]
    sha256: str
    meta: dict = field(default_factory=dict)  # author, site, published, retrieved, extractor (for citations)


def sha256_bytes(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def manifest_digest(manifest: dict) -> str:
    body = {k: v for k, v in manifest.items() if k != SIGNATURE}
    return sha256_bytes(json.dumps(body, sort_keys=True, ensure_ascii=False).encode("utf-8"))


def sign_manifest(manifest: dict) -> dict:
    """The manifest with the SHA-256 of its own content (canonical JSON, this field left out) added. Every other
    index file has its hash in the manifest; this one had none, so an edit to it (two sources' files swapped,
    `"model": null`, a source dropped) gave tracebacks or silently wrong citations."""
    return {**manifest, SIGNATURE: manifest_digest(manifest)}


def fsync_dir(path: Path) -> None:
    """Make a directory's entries (new files, renames) durable, not only the files' contents."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def write_file(path: Path, data: bytes) -> None:
    """Write one index file durably. (Tests replace it to simulate a full disk.)"""
    with open(path, "wb") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())


def npy_bytes(arr: np.ndarray) -> bytes:
    buf = io.BytesIO()
    np.save(buf, arr, allow_pickle=False)
    return buf.getvalue()


def npy_load(data: bytes, name: str) -> np.ndarray:
    try:
        return np.load(io.BytesIO(data), allow_pickle=False)
    except Exception as e:  # noqa: BLE001 - any parse failure means a damaged file
        raise IndexCorrupt(f"{name}: unreadable ({e}); {REBUILD_FULL_HINT}") from None


def build_dir_of(index_dir: Path) -> Path | None:
    """The build directory that `current` points to (which may be missing), or None if there is no link.
    A `current` that is no link (a directory) or a link loop raises IndexCorrupt, which `build` repairs."""
    link = index_dir / CURRENT
    if not link.is_symlink() and not link.exists():
        return None
    if not link.is_symlink():
        raise IndexCorrupt(f"{link}: a directory, not the link to a build; {REBUILD_FULL_HINT}")
    try:
        return link.resolve(strict=False)
    except (OSError, RuntimeError):  # a link loop, e.g. current -> current
        raise IndexCorrupt(f"{link}: a link that loops; {REBUILD_FULL_HINT}") from None


def checkpoint(step: str) -> None:
    """A no-op called at each step of a build, so that tests can stop, fail or SIGKILL a build at a known
    point (tests/build_child.py replaces it). Steps: "embedding" (after each batch), "writing" (after each
    file), "written" (build directory complete, not yet verified), "swapping" (verified, just before
    `current` is replaced), "swapped" (installed, before old builds are pruned)."""


@contextlib.contextmanager
def build_lock(index_dir: Path):
    """Hold the index directory's build lock (waiting, and saying so, while another build holds it)."""
    index_dir.mkdir(parents=True, exist_ok=True)
    with open(index_dir / ".lock", "w") as f:
        try:
            fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            print(f"waiting for another build of {index_dir} to finish ...", file=sys.stderr)
            fcntl.flock(f, fcntl.LOCK_EX)
        yield


# Characters that str.splitlines() (and some JSON Lines readers) take for line ends, which json.dumps with
# ensure_ascii=False leaves raw inside strings: a source holding one gave a passages.jsonl that did not read back.
_LINE_BREAKS_IN_STRINGS = {"\u2028": "\\u2028", "\u2029": "\\u2029", "\x85": "\\u0085"}


def jsonl_line(record: dict) -> str:
    """One JSON Lines record whose only line break is the final "\\n" (JSON escapes are the same text)."""
    line = json.dumps(record, ensure_ascii=False)
    for raw, escaped in _LINE_BREAKS_IN_STRINGS.items():
        line = line.replace(raw, escaped)
    return line + "\n"


def passage_record(p: Passage) -> dict:
    return {"id": p.id, "source_id": p.source_id, "start": p.start, "end": p.end,
            "line_start": p.line_start, "line_end": p.line_end, "section": p.section,
            "heading_end": p.heading_end, "sentences": [list(s) for s in p.sentences],
            "text": p.text, "context": p.context}


def read_manifest_quietly(index_dir: Path) -> dict | None:
    try:
        d = build_dir_of(index_dir)
        return json.loads((d / MANIFEST).read_text(encoding="utf-8")) if d else None
    except (OSError, ValueError):  # IndexCorrupt is a ValueError too
        return None

"""Load and validate the corpus: the source files and their manifest (`sources.toml`)."""

from __future__ import annotations

import hashlib
import os
import re
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

from .errors import CorpusError

MANIFEST_NAME = "sources.toml"
SOURCE_SUFFIXES = (".txt", ".md")
ID_RE = re.compile(r"^[a-z0-9][a-z0-9-]{0,63}$")


@dataclass(frozen=True)
class Source:
    id: str
    title: str
    path: Path  # absolute
    text: str  # exactly what open(path, encoding="utf-8").read() returns
    sha256: str  # of the file's bytes
    url: str = ""
    links: tuple[str, ...] = field(default_factory=tuple)
    provenance: str = ""

    @property
    def is_markdown(self) -> bool:
        return self.path.suffix.lower() == ".md"

    @property
    def display_path(self) -> str:
        """The path printed in citations: relative to the working directory when the corpus lies below it."""
        rel = os.path.relpath(self.path)
        return self.path.as_posix() if rel.startswith("..") else Path(rel).as_posix()


def file_sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def decode_source(path: Path, data: bytes) -> str:
    """Decode a source file's bytes as `open(path, encoding="utf-8").read()` would, or say what is wrong."""
    if not data.strip():
        raise CorpusError(f"{path}: the file is empty; remove it and its manifest entry, or give it text")
    if b"\x00" in data:
        raise CorpusError(f"{path}: the file looks binary (it contains NUL bytes); sources must be UTF-8 text")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as e:
        raise CorpusError(
            f"{path}: not valid UTF-8 (byte {e.start}: {data[e.start:e.start + 1]!r}); "
            "convert it, e.g. `iconv -f latin1 -t utf-8`"
        ) from None
    # Universal newlines, exactly as text-mode open() does, so offsets match open(path).read().
    return text.replace("\r\n", "\n").replace("\r", "\n")


def _entry(raw: dict, n: int, manifest: Path) -> dict:
    where = f"{manifest}: [[source]] #{n}"
    if not isinstance(raw, dict):
        raise CorpusError(f"{where} is not a table")
    missing = [k for k in ("id", "title", "file") if not isinstance(raw.get(k), str) or not raw.get(k).strip()]
    if missing:
        raise CorpusError(f"{where} lacks {', '.join(missing)} (each entry needs id, title and file)")
    if not ID_RE.match(raw["id"]):
        raise CorpusError(f"{where}: id {raw['id']!r} must be lower-case letters, digits and hyphens")
    if Path(raw["file"]).name != raw["file"]:
        raise CorpusError(f"{where}: file {raw['file']!r} must be a plain file name inside the corpus folder")
    return raw


def read_manifest(corpus_dir: Path) -> list[dict]:
    manifest = corpus_dir / MANIFEST_NAME
    if not manifest.is_file():
        raise CorpusError(f"{manifest}: no corpus manifest; create it with one [[source]] entry per file")
    try:
        data = tomllib.loads(manifest.read_text(encoding="utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as e:
        raise CorpusError(f"{manifest}: cannot parse: {e}") from None
    entries = [_entry(raw, n, manifest) for n, raw in enumerate(data.get("source", []), 1)]
    if not entries:
        raise CorpusError(f"{manifest}: lists no [[source]] entries")
    for key in ("id", "file"):
        seen: set[str] = set()
        for e in entries:
            if e[key] in seen:
                raise CorpusError(f"{manifest}: {key} {e[key]!r} appears twice")
            seen.add(e[key])
    return entries


def load_corpus(corpus_dir: str | os.PathLike) -> list[Source]:
    """Read every source listed in the manifest; refuse (naming the file) anything unlisted, missing or unreadable."""
    corpus_dir = Path(corpus_dir).resolve()
    if not corpus_dir.is_dir():
        raise CorpusError(f"{corpus_dir}: no such corpus folder")
    entries = read_manifest(corpus_dir)
    listed = {e["file"] for e in entries}
    unlisted = sorted(
        p.name for p in corpus_dir.iterdir()
        if p.is_file() and p.suffix.lower() in SOURCE_SUFFIXES and p.name not in listed
        and not p.name.startswith(".") and p.name.upper() != "README.MD"
    )
    if unlisted:
        raise CorpusError(
            f"{corpus_dir / unlisted[0]}: not in {MANIFEST_NAME}; add a [[source]] entry with id, title and file"
            + (f" (also unlisted: {', '.join(unlisted[1:])})" if len(unlisted) > 1 else "")
        )
    sources: list[Source] = []
    by_hash: dict[str, str] = {}
    for e in entries:
        path = corpus_dir / e["file"]
        if not path.is_file():
            raise CorpusError(f"{path}: listed in {MANIFEST_NAME} as {e['id']!r} but the file does not exist")
        data = path.read_bytes()
        text = decode_source(path, data)
        digest = hashlib.sha256(data).hexdigest()
        if digest in by_hash:
            raise CorpusError(f"{path}: same content as source {by_hash[digest]!r}; keep one of them")
        by_hash[digest] = e["id"]
        sources.append(Source(
            id=e["id"], title=e["title"].strip(), path=path, text=text, sha256=digest,
            url=str(e.get("url", "") or ""), links=tuple(e.get("links", []) or ()),
            provenance=str(e.get("provenance", "") or ""),
        ))
    return sources


def corpus_fingerprint(corpus_dir: str | os.PathLike) -> dict[str, str]:
    """Cheap staleness check: source id -> SHA-256 of its file, plus the manifest's own hash."""
    corpus_dir = Path(corpus_dir).resolve()
    out = {f"manifest:{MANIFEST_NAME}": file_sha256(corpus_dir / MANIFEST_NAME)}
    for e in read_manifest(corpus_dir):
        path = corpus_dir / e["file"]
        out[e["id"]] = file_sha256(path) if path.is_file() else "missing"
    return out

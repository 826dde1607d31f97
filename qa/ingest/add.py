"""`ipt-qa add PATH` and `ipt-qa remove ID`: a local web page, PDF, Markdown or text file becomes a source.

`add` checks everything before it writes anything (supported type, size, a duplicate of a source already there
by the original's SHA-256 or by its text, text that yields no passage, the id); then it stores the original
untouched under corpus/originals/, the extracted UTF-8 text under corpus/, and appends the `[[source]]` entry
with its provenance. A problem is one line (CorpusError) and leaves the corpus as it was. `remove` undoes an add.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import hashlib
import json
import os
import re
import tomllib
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

from qa.errors import CorpusError
from qa.ingest.corpus import ID_RE, MANIFEST_NAME, Source, check_size, read_corpus, read_manifest, same_text_key
from qa.ingest.extract import SUFFIXES, extract
from qa.ingest.passages import segment
from qa.settings import MAX_SOURCE_BYTES

ORIGINALS = "originals"
# Fewer words than this is no text to answer from (a navigation bar left over from an empty page, say).
MIN_WORDS = 5
DATE_RE = re.compile(r"\d{4}(-\d{2}(-\d{2})?)?")


@dataclass
class Added:
    id: str
    title: str
    file: Path  # the stored text
    original: Path  # the untouched copy
    extractor: str
    passages: int


def toml_string(value: str) -> str:
    """A TOML basic string (JSON's escapes are a subset of TOML's; DEL must be escaped in TOML too)."""
    return json.dumps(value, ensure_ascii=False).replace("\x7f", "\\u007f")


def _slug(title: str) -> str:
    words = re.findall(r"[a-z0-9]+", title.lower())
    slug = "-".join(words)[:48].strip("-")
    return slug or "source"


def check_url(url: str, what: str = "--url") -> str:
    """A web address as it will be printed into every citation: http(s), a host, and none of the characters that
    would let it out of a quoted attribute or a Markdown link (spaces, quotes, angle brackets, backslashes)."""
    url = url.strip()
    if not url:
        return ""
    bad = f"{what} {url[:200]!r} is not a web address"
    if any(c.isspace() or c in "\"'<>\\`" or ord(c) < 32 or ord(c) == 127 for c in url):
        raise CorpusError(f"{bad}: it contains a space, quote, angle bracket or backslash; nothing was added")
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - raises ValueError on a port that is not a number
    except ValueError as e:
        raise CorpusError(f"{bad} ({e}); nothing was added") from None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise CorpusError(f"{bad} (http:// or https:// and a host); nothing was added")
    return url


def _entry_text(fields: dict[str, object]) -> str:
    lines = ["", "[[source]]"]
    for key, value in fields.items():
        if isinstance(value, list):
            lines.append(f"{key} = [{', '.join(toml_string(v) for v in value)}]")
        else:
            lines.append(f"{key} = {toml_string(str(value))}")
    return "\n".join(lines) + "\n"


def _write_atomic(path: Path, data: bytes) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_bytes(data)
    os.replace(tmp, path)


def add_source(corpus_dir: str | os.PathLike, path: str | os.PathLike, *, url: str = "", title: str | None = None,
               source_id: str | None = None, retrieved: str | None = None, provenance: str | None = None) -> Added:
    """Add the local file `path` to the corpus (see the module docstring); the index is not rebuilt here.
    `provenance` replaces the default one ("added with `ipt-qa add` from NAME")."""
    corpus_dir = Path(corpus_dir).resolve()
    path = Path(path)
    if not path.is_file():
        raise CorpusError(f"{path}: no such file (give a local file, or an http(s):// address to fetch); "
                          "nothing was added")
    if path.suffix.lower() not in SUFFIXES:
        raise CorpusError(f"{path}: {path.suffix or 'a file without a suffix'} is not supported; add .html, .htm, "
                          ".pdf, .md or .txt files; nothing was added")
    check_size(path, MAX_SOURCE_BYTES, "per source", "MAX_SOURCE_BYTES", "; nothing was added")
    url = check_url(url)
    retrieved = retrieved or dt.date.today().isoformat()
    if not DATE_RE.fullmatch(retrieved):
        raise CorpusError(f"--retrieved {retrieved!r} must be a date written YYYY-MM-DD; nothing was added")
    corpus = read_corpus(corpus_dir)  # the corpus as it is must be valid before anything is added to it
    entries = read_manifest(corpus_dir)
    data = path.read_bytes()
    digest = hashlib.sha256(data).hexdigest()
    for e, s in zip(entries, corpus.sources, strict=True):
        if digest in (s.sha256, e.get("original_sha256")):
            raise CorpusError(f"{path}: the same file as source {s.id!r} (SHA-256 {digest[:12]}...); nothing was added")

    got = extract(path, data)
    if len(got.text.split()) < MIN_WORDS:
        raise CorpusError(f"{path}: no text could be extracted (a scanned PDF, an empty page or only page "
                          "furniture?); nothing was added")
    stored = got.text.encode("utf-8")
    if len(stored) > MAX_SOURCE_BYTES:
        raise CorpusError(f"{path}: its text is {len(stored) / 2**20:,.1f} MiB, over the limit of "
                          f"{MAX_SOURCE_BYTES / 2**20:g} MiB per source; nothing was added")
    same = same_text_key(got.text)
    for s in corpus.sources:
        if same_text_key(s.text) == same:
            raise CorpusError(f"{path}: its text is the same as source {s.id!r}; nothing was added")

    title = " ".join((title or got.title or path.stem.replace("-", " ").replace("_", " ")).split())
    taken = {e["id"] for e in entries} | {e["file"] for e in entries}
    if source_id is not None:
        if not ID_RE.fullmatch(source_id):
            raise CorpusError(f"--id {source_id!r} must be lower-case letters, digits and hyphens; nothing was added")
        if source_id in taken:
            raise CorpusError(f"--id {source_id!r} is already a source; choose another; nothing was added")
    else:
        base = _slug(title)
        source_id = next(c for c in (base, *(f"{base}-{n}" for n in range(2, 1000))) if c not in taken)
    text_file = corpus_dir / f"{source_id}{got.suffix}"
    original = corpus_dir / ORIGINALS / f"{source_id}{path.suffix.lower()}"
    for target in (text_file, original):
        if target.exists() or target.name in taken:
            raise CorpusError(f"{target}: already exists; choose another --id; nothing was added")

    probe = Source(id=source_id, title=title, path=text_file, text=got.text, sha256="")
    passages = segment(probe)
    if not passages:
        raise CorpusError(f"{path}: no passage can be cut from its text (is it all page furniture?); nothing was added")

    fields: dict[str, object] = {"id": source_id, "title": title, "file": text_file.name, "url": url, "links": []}
    fields.update({k: v for k, v in got.meta.items() if k in ("author", "site", "published")})
    fields.update({"retrieved": retrieved, "original": f"{ORIGINALS}/{original.name}", "original_sha256": digest,
                   "extractor": got.extractor or "none (text stored as read)",
                   "provenance": (provenance or f"added with `ipt-qa add` from {path.name}")
                                 + (f" ({got.extractor})" if got.extractor else "")})
    manifest = corpus_dir / MANIFEST_NAME
    before = manifest.read_bytes()
    after = before.decode("utf-8").rstrip("\n") + "\n" + _entry_text(fields)
    tomllib.loads(after)  # what is appended must parse; a failure here is a bug, and nothing is written yet
    written: list[Path] = []
    try:
        original.parent.mkdir(exist_ok=True)
        _write_atomic(original, data)
        written.append(original)
        _write_atomic(text_file, stored)
        written.append(text_file)
        _write_atomic(manifest, after.encode("utf-8"))
    except OSError as e:
        for p in written:
            with contextlib.suppress(OSError):
                p.unlink()
        raise CorpusError(f"{corpus_dir}: cannot write ({e.strerror or e}); nothing was added") from None
    return Added(source_id, title, text_file, original, got.extractor, len(passages))




def source_block(text: str, source_id: str) -> tuple[int, int] | None:
    """(start, end) line range of the `[[source]]` table whose id is `source_id` in a manifest's text, or None."""
    lines = text.split("\n")
    heads = [i for i, line in enumerate(lines) if re.match(r"\s*\[", line)]
    for a, b in zip(heads, [*heads[1:], len(lines)], strict=True):
        if lines[a].strip() != "[[source]]":
            continue
        try:
            entry = tomllib.loads("\n".join(lines[a:b]))["source"][0]
        except (tomllib.TOMLDecodeError, KeyError, IndexError):
            continue
        if entry.get("id") == source_id:
            return a, b
    return None


def remove_source(corpus_dir: str | os.PathLike, source_id: str) -> list[Path]:
    """Take source `source_id` out of the manifest and delete its text and its original (if `add` stored one);
    returns the files deleted. The index is not rebuilt here."""
    corpus_dir = Path(corpus_dir).resolve()
    entries = read_manifest(corpus_dir)
    entry = next((e for e in entries if e["id"] == source_id), None)
    if entry is None:
        known = ", ".join(e["id"] for e in entries)
        raise CorpusError(f"{source_id!r} is not a source (the sources are: {known}); nothing was removed")
    if len(entries) == 1:
        raise CorpusError(f"{source_id!r} is the only source; the corpus needs at least one; nothing was removed")
    manifest = corpus_dir / MANIFEST_NAME
    text = manifest.read_text(encoding="utf-8")
    lines = text.split("\n")
    found = source_block(text, source_id)
    if found is None:
        raise CorpusError(f"{manifest}: the entry of {source_id!r} could not be found as a [[source]] table; "
                          "remove it by hand")
    a, b = found
    while b > a and (not lines[b - 1].strip() or lines[b - 1].lstrip().startswith("#")):
        b -= 1  # comments just above the next table belong to it
    kept = "\n".join(lines[:a] + lines[b:]).rstrip("\n") + "\n"
    remaining = tomllib.loads(kept).get("source", [])
    if [e.get("id") for e in remaining] != [e["id"] for e in entries if e["id"] != source_id]:
        raise CorpusError(f"{manifest}: removing {source_id!r} would change other entries; remove it by hand")
    _write_atomic(manifest, kept.encode("utf-8"))
    deleted = []
    for name in (entry["file"], entry.get("original")):
        if not isinstance(name, str) or not name:
            continue
        p = (corpus_dir / name).resolve()
        if p.is_relative_to(corpus_dir) and p.is_file():
            p.unlink()
            deleted.append(p)
    return deleted

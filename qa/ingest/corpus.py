"""Load and validate the corpus: the source files and their manifest (`sources.toml`)."""

from __future__ import annotations

import hashlib
import os
import re
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

from qa.errors import CorpusError
from qa.ingest.banks import read_bank_bytes
from qa.settings import MAX_MANIFEST_BYTES, MAX_SOURCE_BYTES

MANIFEST_NAME = "sources.toml"
SOURCE_SUFFIXES = (".txt", ".md")
ID_RE = re.compile(r"[a-z0-9][a-z0-9-]{0,63}")
# Optional fields of an entry that a citation is made of (`ipt-qa add` writes them; qa/present/citation.py).
META_KEYS = ("author", "site", "published", "retrieved", "extractor")


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
    # What a reference to the source is made of (qa/present/citation.py), each "" when not recorded.
    meta: dict[str, str] = field(default_factory=dict, hash=False)  # author, site, published, retrieved, extractor

    @property
    def is_markdown(self) -> bool:
        return self.path.suffix.lower() == ".md"

    @property
    def display_path(self) -> str:
        return display_path(self.path)


def display_path(path: Path) -> str:
    """The path printed in citations: relative to the working directory when the file lies below it, else
    absolute, so that `open(path)` works from where the command runs."""
    path = Path(path).resolve()
    rel = os.path.relpath(path)
    return path.as_posix() if rel.startswith("..") else Path(rel).as_posix()


def file_sha256(path: Path) -> str:
    """SHA-256 of a file's bytes, read in chunks (model weights are large)."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def decode_source(path: Path, data: bytes) -> str:
    """Decode a source file's bytes as `open(path, encoding="utf-8").read()` would, or say what is wrong."""
    if b"\x00" in data:
        raise CorpusError(f"{path}: the file looks binary (it contains NUL bytes); sources must be UTF-8 text")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as e:
        raise CorpusError(
            f"{path}: not valid UTF-8 (byte {e.start}: {data[e.start:e.start + 1]!r}); "
            "convert it, e.g. `iconv -f latin1 -t utf-8`"
        ) from None
    # Checked on the text, not the bytes: a file holding only a byte-order mark or Unicode spaces is empty too.
    if not text.replace("\ufeff", "").strip():
        raise CorpusError(f"{path}: the file is empty; remove it and its manifest entry, or give it text")
    # Universal newlines, exactly as text-mode open() does, so offsets match open(path).read().
    return text.replace("\r\n", "\n").replace("\r", "\n")


def same_text_key(text: str) -> str:
    """What two sources share when they are the same text: a hash of their words, whatever the spacing, line
    ends or byte-order mark. The one rule for a duplicate, in the manifest and in `ipt-qa add`."""
    return hashlib.sha256(" ".join(text.replace("\ufeff", "").split()).encode("utf-8")).hexdigest()


def _source_path(corpus_dir: Path, entry: dict) -> Path:
    """The file of a manifest entry, refused when it resolves outside the corpus folder (a symlink to
    /etc/passwd was indexed and shown whole in the source view)."""
    path = corpus_dir / entry["file"]
    try:
        real = path.resolve(strict=False)
    except (OSError, RuntimeError):  # a symlink loop
        raise CorpusError(f"{path}: a symbolic link that loops; replace it with the file itself") from None
    if not real.is_relative_to(corpus_dir):
        raise CorpusError(f"{path}: listed as {entry['id']!r} but it is a link to {real}, outside the corpus "
                          f"folder {corpus_dir}; copy the file into the folder instead")
    return path


def check_size(path: Path, limit: int, what: str, setting: str, advice: str = "") -> None:
    """Refuse a file over its size limit before reading it (a 200 MB source used to build for ever, silently)."""
    size = path.stat().st_size
    if size > limit:
        raise CorpusError(f"{path}: {size / 2**20:,.1f} MiB is over the limit of {limit / 2**20:g} MiB {what} "
                          f"({setting} in qa/settings.py){advice}")


def _check_size(path: Path) -> None:
    check_size(path, MAX_SOURCE_BYTES, "per source", "MAX_SOURCE_BYTES", "; split it into several sources")


def _entry(raw: dict, n: int, manifest: Path) -> dict:
    where = f"{manifest}: [[source]] #{n}"
    if not isinstance(raw, dict):
        raise CorpusError(f"{where} is not a table")
    missing = [k for k in ("id", "title", "file") if not str(raw.get(k) or "").strip() or not isinstance(raw[k], str)]
    if missing:
        raise CorpusError(f"{where} lacks {', '.join(missing)} (each entry needs id, title and file)")
    if not ID_RE.fullmatch(raw["id"]):  # not .match: "$" also matches before a final newline
        raise CorpusError(f"{where}: id {raw['id']!r} must be lower-case letters, digits and hyphens")
    if Path(raw["file"]).name != raw["file"]:
        raise CorpusError(f"{where}: file {raw['file']!r} must be a plain file name inside the corpus folder")
    if Path(raw["file"]).suffix.lower() not in SOURCE_SUFFIXES:
        # Only these are read as plain text (.md with its headings); a PDF or .docx needs converting first.
        raise CorpusError(f"{manifest.parent / raw['file']}: sources must be {' or '.join(SOURCE_SUFFIXES)} files "
                          f"(listed in {manifest.name} as {raw['id']!r}); convert it to text first")
    if not isinstance(raw.get("url", ""), str):
        raise CorpusError(f"{where} ({raw['id']!r}): url must be a string")
    for key in META_KEYS + ("original", "original_sha256", "provenance"):
        if not isinstance(raw.get(key, ""), str):
            raise CorpusError(f"{where} ({raw['id']!r}): {key} must be a string")
    links = raw.get("links", [])
    if not isinstance(links, list) or not all(isinstance(x, str) for x in links):
        raise CorpusError(f"{where} ({raw['id']!r}): links must be a list of strings, e.g. links = [\"https://...\"]")
    return raw


def _parse_manifest(corpus_dir: Path) -> tuple[list[dict], str]:
    """The manifest's validated entries and the SHA-256 of the very bytes they were parsed from."""
    entries, _, digest = _parse_manifest_full(corpus_dir)
    return entries, digest


def _topic(raw, manifest: Path) -> dict | None:
    """The optional `[topic]` table: `name` (text) and `aliases` (list of text)."""
    if raw is None:
        return None
    if not isinstance(raw, dict) or not isinstance(raw.get("name"), str) or not raw["name"].strip():
        raise CorpusError(f'{manifest}: [topic] needs name = "..." (the subject every question is read as being '
                          'about), and optionally aliases = ["...", ...]')
    aliases = raw.get("aliases", [])
    if not isinstance(aliases, list) or not all(isinstance(a, str) for a in aliases):
        raise CorpusError(f"{manifest}: [topic] aliases must be a list of text, e.g. [\"IPT\"]")
    return {"name": raw["name"].strip(), "aliases": [a.strip() for a in aliases if a.strip()]}


def _parse_manifest_full(corpus_dir: Path) -> tuple[list[dict], dict | None, str]:

    manifest = corpus_dir / MANIFEST_NAME
    if not manifest.is_file():
        raise CorpusError(f"{manifest}: no corpus manifest; create it with one [[source]] entry per file")
    real = manifest.resolve()
    if not real.is_relative_to(corpus_dir.resolve()):  # as for the sources: no reading outside the folder
        raise CorpusError(f"{manifest}: a link to {real}, outside the corpus folder {corpus_dir.resolve()}; "
                          "copy the file into the folder instead")
    check_size(manifest, MAX_MANIFEST_BYTES, "for the corpus manifest", "MAX_MANIFEST_BYTES")
    data = manifest.read_bytes()
    try:
        parsed = tomllib.loads(data.decode("utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as e:
        raise CorpusError(f"{manifest}: cannot parse: {e}") from None
    except RecursionError:  # tomllib recurses once per level of nested arrays or tables
        raise CorpusError(f"{manifest}: cannot parse: arrays or tables nested too deeply") from None
    raw_entries = parsed.get("source", [])
    if not isinstance(raw_entries, list):
        # `[source]` (one table) instead of `[[source]]` (an array of tables) is an easy slip to make.
        raise CorpusError(f"{manifest}: write each entry as [[source]] (double brackets), not [source]")
    entries = [_entry(raw, n, manifest) for n, raw in enumerate(raw_entries, 1)]
    topic = _topic(parsed.get("topic"), manifest)
    if not entries:
        raise CorpusError(f"{manifest}: lists no [[source]] entries")
    for key in ("id", "file"):
        seen: set[str] = set()
        for entry in entries:
            if entry[key] in seen:
                raise CorpusError(f"{manifest}: {key} {entry[key]!r} appears twice")
            seen.add(entry[key])
    return entries, topic, hashlib.sha256(data).hexdigest()


def read_manifest(corpus_dir: Path) -> list[dict]:
    """The validated [[source]] entries of the corpus manifest (a CorpusError names what is wrong)."""
    return _parse_manifest(Path(corpus_dir))[0]


@dataclass(frozen=True)
class Corpus:
    sources: list[Source]
    # What the index records to notice later edits: source id -> SHA-256 of the bytes read, plus the
    # manifest's own hash (same keys as corpus_fingerprint()).
    fingerprint: dict[str, str]
    topic: dict | None = None  # the `[topic]` table: what every question is read as being about (qa/ingest/topic.py)
    banks: dict[str, bytes] = field(default_factory=dict)  # question-bank file -> its bytes (qa/ingest/banks.py)


def load_corpus(corpus_dir: str | os.PathLike) -> list[Source]:
    """Read every source listed in the manifest; refuse (naming the file) anything unlisted, missing or unreadable."""
    return read_corpus(corpus_dir).sources


def read_corpus(corpus_dir: str | os.PathLike) -> Corpus:
    """Like load_corpus, with the fingerprint of exactly the bytes that were read.

    Hashing the files again afterwards (corpus_fingerprint) could see an edit made in between and record
    it as indexed when it was not; here every file, the manifest included, is read once.
    """
    corpus_dir = Path(corpus_dir).resolve()
    if not corpus_dir.is_dir():
        raise CorpusError(f"{corpus_dir}: no such corpus folder")
    entries, topic, manifest_sha256 = _parse_manifest_full(corpus_dir)
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
    fingerprint = {f"manifest:{MANIFEST_NAME}": manifest_sha256}
    by_text: dict[str, str] = {}
    for e in entries:
        path = _source_path(corpus_dir, e)
        if not path.is_file():
            raise CorpusError(f"{path}: listed in {MANIFEST_NAME} as {e['id']!r} but the file does not exist")
        _check_size(path)
        data = path.read_bytes()
        text = decode_source(path, data)
        # Compared after decoding, so one text saved twice with other line ends or spacing is still caught.
        same = same_text_key(text)
        if same in by_text:
            raise CorpusError(f"{path}: same content as source {by_text[same]!r}; keep one of them")
        by_text[same] = e["id"]
        digest = hashlib.sha256(data).hexdigest()
        fingerprint[e["id"]] = digest
        sources.append(Source(
            id=e["id"], title=e["title"].strip(), path=path, text=text, sha256=digest,
            url=e.get("url", "") or "", links=tuple(e.get("links", []) or ()),
            provenance=str(e.get("provenance", "") or ""),
            meta={k: e[k].strip() for k in META_KEYS if e.get(k, "").strip()},
        ))
    # The question banks count as part of the corpus: editing one makes the index stale like editing a source.
    banks = read_bank_bytes(corpus_dir)
    fingerprint.update({f"bank:{name}": hashlib.sha256(data).hexdigest() for name, data in banks.items()})
    return Corpus(sources, fingerprint, topic, banks)


def corpus_fingerprint(corpus_dir: str | os.PathLike) -> dict[str, str]:
    """Cheap staleness check: source id -> SHA-256 of its file, plus the manifest's own hash.

    Unlike read_corpus it does not validate the files (a missing one is "missing"), so that a stale index
    can say what changed; a manifest that cannot be parsed raises CorpusError.
    """
    corpus_dir = Path(corpus_dir).resolve()
    entries, manifest_sha256 = _parse_manifest(corpus_dir)
    out = {f"manifest:{MANIFEST_NAME}": manifest_sha256}
    for e in entries:
        path = _source_path(corpus_dir, e)  # an index built before this check must not serve such a file
        out[e["id"]] = file_sha256(path) if path.is_file() else "missing"
    for name, data in read_bank_bytes(corpus_dir).items():
        out[f"bank:{name}"] = hashlib.sha256(data).hexdigest()
    return out

"""`ipt-qa refresh [ID ...] [--dry-run]`: fetch each source that has an address again and compare it with the
original `ipt-qa add` kept. Unchanged: said so. Changed: which passages were added, removed or changed (old
and new text segmented as the index does) and which question-bank rows would go stale; then, unless a dry run,
the previous original is kept as originals/<id>.<its retrieval date><suffix>, the new one and its text stored,
and the entry's address, date, hash and extractor updated. A source that cannot be fetched or read is one line
and is left as it was. A source added by hand (no original kept) is compared with its stored text, never
rewritten. The index is not rebuilt here (the CLI does it once, and undoes the refresh if that fails).
"""

from __future__ import annotations

import difflib
import hashlib
import os
import re
import tomllib
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from qa.errors import CorpusError
from qa.ingest.add import MIN_WORDS, ORIGINALS, _write_atomic, source_block, toml_string
from qa.ingest.banks import BankRow, load_bank
from qa.ingest.corpus import MANIFEST_NAME, Source, read_corpus, read_manifest, same_text_key
from qa.ingest.extract import extract
from qa.ingest.fetch import Fetched, fetch
from qa.ingest.passages import Passage, segment
from qa.settings import MAX_SOURCE_BYTES

THEN = "nothing was changed"
UNCHANGED, CHANGED, FAILED, BY_HAND = "unchanged", "changed", "failed", "added by hand"


@dataclass
class Refreshed:
    id: str
    status: str  # UNCHANGED, CHANGED, FAILED or BY_HAND
    lines: list[str]  # the first is the summary
    applied: bool = False  # the corpus was changed (the index needs a build)


@dataclass
class Refresh:
    sources: list[Refreshed] = field(default_factory=list)
    _before: dict[Path, bytes | None] = field(default_factory=dict)  # every file touched, as it was

    @property
    def applied(self) -> bool:
        return any(s.applied for s in self.sources)

    def undo(self) -> None:
        """Put every file touched back as it was (a build that failed after the refresh)."""
        for path, data in self._before.items():
            if data is None:
                path.unlink(missing_ok=True)
            else:
                _write_atomic(path, data)


def passage_changes(old: list[Passage], new: list[Passage]) -> tuple[list[Passage], list[Passage],
                                                                      list[tuple[Passage, Passage]]]:
    """(added, removed, changed as (old, new) pairs) between two segmentations, aligned by their texts."""
    added: list[Passage] = []
    removed: list[Passage] = []
    changed: list[tuple[Passage, Passage]] = []
    sm = difflib.SequenceMatcher(a=[p.text for p in old], b=[p.text for p in new], autojunk=False)
    for op, a1, a2, b1, b2 in sm.get_opcodes():
        if op == "equal":
            continue
        pairs = min(a2 - a1, b2 - b1) if op == "replace" else 0
        changed += list(zip(old[a1:a1 + pairs], new[b1:b1 + pairs], strict=True))
        removed += old[a1 + pairs:a2]
        added += new[b1 + pairs:b2]
    return added, removed, changed


def set_fields(corpus_dir: Path, source_id: str, fields: dict[str, str]) -> None:
    """Set (or add) one-line string fields of a source's `[[source]]` entry, every other line kept as it is."""
    manifest = corpus_dir / MANIFEST_NAME
    text = manifest.read_text(encoding="utf-8")
    lines = text.split("\n")
    found = source_block(text, source_id)
    if found is not None:
        a, b = found
        block = lines[a:b]
        end = max(i for i, line in enumerate(block) if line.strip() and not line.lstrip().startswith("#")) + 1
        for key, value in fields.items():
            at = next((i for i, line in enumerate(block) if re.match(rf"\s*{re.escape(key)}\s*=", line)), None)
            if at is None:
                block.insert(end, f"{key} = {toml_string(value)}")
                end += 1
            else:
                block[at] = f"{key} = {toml_string(value)}"
        kept = "\n".join(lines[:a] + block + lines[b:])
        after = tomllib.loads(kept).get("source", [])
        before = tomllib.loads(text).get("source", [])
        # A value over several lines, say, would make the edit other than the one asked for: refused below.
        if after == [e | fields if e.get("id") == source_id else e for e in before]:
            _write_atomic(manifest, kept.encode("utf-8"))
            return
    raise CorpusError(f"{manifest}: the entry of {source_id!r} cannot be updated line by line; edit it by hand")


def _short(text: str, n: int = 70) -> str:
    one = " ".join(text.split())
    return repr(one if len(one) <= n else one[:n] + "...")


def _where_differ(pair: tuple[Passage, Passage]) -> tuple[str, str]:
    """The two texts from a few words before the first word that differs ("... " when cut)."""
    a, b = pair[0].text.split(), pair[1].text.split()
    same = next((i for i, (x, y) in enumerate(zip(a, b, strict=False)) if x != y), min(len(a), len(b)))
    start = max(0, same - 3)
    return tuple(("... " if start else "") + " ".join(w[start:]) for w in (a, b))  # type: ignore[return-value]


def _archive_name(originals: Path, source_id: str, date: str, suffix: str) -> Path:
    base = f"{source_id}.{date or 'undated'}"
    return next(p for p in (originals / f"{base}{n}{suffix}" for n in ("", *(f"-{k}" for k in range(2, 1000))))
                if not p.exists())


def refresh(corpus_dir: str | os.PathLike, ids: list[str] | None = None, *, dry_run: bool = False,
            fetcher: Callable[..., Fetched] = fetch) -> Refresh:
    """Refresh the sources `ids` (default: every source with an address); see the module docstring."""
    corpus_dir = Path(corpus_dir).resolve()
    corpus = read_corpus(corpus_dir)
    entries = {e["id"]: e for e in read_manifest(corpus_dir)}
    sources = {s.id: s for s in corpus.sources}
    for sid in ids or []:
        if sid not in entries:
            raise CorpusError(f"{sid!r} is not a source (the sources are: {', '.join(entries)}); {THEN}")
        if not str(entries[sid].get("url") or ""):
            raise CorpusError(f"{sid!r} has no address (url) in {MANIFEST_NAME} to fetch it from; {THEN}")
    chosen = list(dict.fromkeys(ids)) if ids else [sid for sid, e in entries.items() if str(e.get("url") or "")]
    if not chosen:
        raise CorpusError(f"no source has an address (url) in {MANIFEST_NAME}; {THEN}")
    texts = {s.id: s.text for s in corpus.sources}
    stale_now = {(r.file, r.line) for r in load_bank(corpus_dir, texts).stale}
    out = Refresh()
    for sid in chosen:
        try:
            out.sources.append(_one(corpus_dir, entries[sid], sources[sid], texts, stale_now, dry_run, fetcher, out))
        except CorpusError as e:
            out.sources.append(Refreshed(sid, FAILED, [f"{sid}: {e}"]))
    return out


def _one(corpus_dir: Path, entry: dict, src: Source, texts: dict[str, str], stale_now: set[tuple[str, int]],
         dry_run: bool, fetcher: Callable[..., Fetched], out: Refresh) -> Refreshed:
    sid, was = src.id, str(entry.get("retrieved") or "")
    got = fetcher(str(entry["url"]), then=THEN)
    original = corpus_dir / str(entry.get("original") or "") if entry.get("original") else None
    kept = original.read_bytes() if original is not None and original.is_file() else None
    if kept is not None and hashlib.sha256(kept).digest() == hashlib.sha256(got.data).digest():
        return Refreshed(sid, UNCHANGED, [f"{sid}: unchanged since {was or 'it was added'} ({got.url})"])
    new = extract(Path(f"{sid}{got.suffix}"), got.data)
    if len(new.text.split()) < MIN_WORDS:
        raise CorpusError(f"{got.url}: no text could be extracted from what it serves now; {THEN}")
    if new.text == src.text:
        return Refreshed(sid, UNCHANGED, [f"{sid}: text unchanged since {was or 'it was added'} ({got.url}; only "
                                          f"the markup differs from the kept original); {THEN}"])
    if new.suffix != src.path.suffix.lower():
        raise CorpusError(f"{got.url}: it is now read as {new.suffix}, its stored text is {src.path.suffix}; "
                          f"remove the source and add it again; {THEN}")
    if len(new.text.encode("utf-8")) > MAX_SOURCE_BYTES:
        raise CorpusError(f"{got.url}: its text is over {MAX_SOURCE_BYTES / 2**20:g} MiB now; {THEN}")
    other = next((i for i, t in texts.items() if i != sid and same_text_key(t) == same_text_key(new.text)), None)
    if other:
        raise CorpusError(f"{got.url}: its text is now the same as source {other!r}; {THEN}")

    probe = Source(id=sid, title=src.title, path=src.path, text=new.text, sha256="")
    added, removed, changed = passage_changes(segment(src), segment(probe))
    stale = [r for r in load_bank(corpus_dir, texts | {sid: new.text}).stale if (r.file, r.line) not in stale_now]
    lines = [f"{sid}: changed since {was or 'it was added'} ({got.url}): passages {len(added)} added, "
             f"{len(removed)} removed, {len(changed)} changed; {len(stale)} question-bank row(s) would go stale"]
    lines += [f"  + added   {_short(p.text)}" for p in added]
    lines += [f"  - removed {_short(p.text)}" for p in removed]
    lines += [f"  ~ changed {_short(a, 44)} -> {_short(b, 44)}" for a, b in map(_where_differ, changed)]
    lines += [f"  stale row {_row(r)}" for r in stale]
    if kept is None:
        lines.append(f"  no original kept (added by hand): its stored text is never replaced; {THEN} (remove it "
                     "and `ipt-qa add` the address to follow it)")
        return Refreshed(sid, BY_HAND, lines)
    if dry_run:
        lines.append(f"  dry run: {THEN}")
        return Refreshed(sid, CHANGED, lines)
    assert original is not None
    archive = _archive_name(original.parent, sid, was, original.suffix)
    fresh = corpus_dir / ORIGINALS / f"{sid}{got.suffix}"
    manifest = corpus_dir / MANIFEST_NAME
    mine = Refresh(_before={p: p.read_bytes() if p.is_file() else None
                            for p in (manifest, src.path, original, fresh, archive)})
    try:
        os.replace(original, archive)
        _write_atomic(fresh, got.data)
        _write_atomic(src.path, new.text.encode("utf-8"))
        set_fields(corpus_dir, sid, {"url": got.url, "retrieved": got.retrieved,
                                     "original": f"{ORIGINALS}/{fresh.name}",
                                     "original_sha256": hashlib.sha256(got.data).hexdigest(),
                                     "extractor": new.extractor or "none (text stored as read)"})
    except (OSError, CorpusError) as e:
        mine.undo()  # this source as it was; the others already refreshed stay
        raise CorpusError(f"{sid}: cannot be updated ({e}); {THEN}") from None
    for p, data in mine._before.items():
        out._before.setdefault(p, data)
    lines.append(f"  kept the previous original as {ORIGINALS}/{archive.name}; text and entry updated")
    return Refreshed(sid, CHANGED, lines, applied=True)


def _row(r: BankRow) -> str:
    return f"{r.file}:{r.line}  {r.question!r}  quote {_short(r.quote, 50)}"

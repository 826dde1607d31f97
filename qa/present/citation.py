"""A reference for a quoted passage, for learners who put it in an assignment: APA 7 and MLA 9 strings, an APA
in-text citation, and a footnote (the quoted text with its source title, lines and, for a PDF, page).

Built only from what corpus/sources.toml records (title, author, site, published, retrieved, url); nothing is
guessed. A source whose address is not recorded says so ("No address recorded.") instead of inventing one.
"""

from __future__ import annotations

import re
from bisect import bisect_right

from qa.ingest.extract import PAGE_HEADING_RE

NO_ADDRESS = "No address recorded."
MONTHS = ("January", "February", "March", "April", "May", "June", "July", "August", "September", "October",
          "November", "December")
MLA_MONTHS = ("Jan.", "Feb.", "Mar.", "Apr.", "May", "June", "July", "Aug.", "Sept.", "Oct.", "Nov.", "Dec.")
_DATE_RE = re.compile(r"(\d{4})(?:-(\d{2})(?:-(\d{2}))?)?")


def _date(value: str) -> tuple[int, int, int] | None:
    """(year, month or 0, day or 0) of an ISO date "2024", "2024-03" or "2024-03-05"; None otherwise."""
    m = _DATE_RE.fullmatch(value.strip()) if value else None
    if not m:
        return None
    y, mo, d = int(m.group(1)), int(m.group(2) or 0), int(m.group(3) or 0)
    return (y, mo, d) if 0 <= mo <= 12 and 0 <= d <= 31 else None


def _end(text: str) -> str:
    """A sentence of the reference: ends with one full stop (or the title's own ? or !)."""
    text = text.strip()
    return text if text.endswith((".", "?", "!")) else text + "."


def _person(name: str) -> list[str] | None:
    """A person's name as words ("James Park" -> ["James", "Park"]); None when it looks like an organisation."""
    words = name.replace("Dr. ", "").split()
    if 2 <= len(words) <= 4 and all(w[:1].isupper() and w.replace(".", "").replace("-", "").isalpha() for w in words):
        return words
    return None


def apa_author(name: str) -> str:
    """"James Park" -> "Park, J."; an organisation stays as written."""
    words = _person(name)
    if words is None:
        return _end(name)
    return f"{words[-1]}, " + " ".join(f"{w[0]}." for w in words[:-1])


def mla_author(name: str) -> str:
    """"James Park" -> "Park, James."; an organisation stays as written."""
    words = _person(name)
    return _end(name if words is None else f"{words[-1]}, {' '.join(words[:-1])}")


def _plain_title(title: str, site: str) -> str:
    """The title without a trailing " | Site" (or " - Site") that repeats the site's name."""
    for sep in (" | ", " - ", " – "):
        if site and title.endswith(sep + site):
            return title[: -len(sep + site)].strip()
    return title.strip()


def apa_date(value: str) -> str:
    d = _date(value)
    if d is None:
        return "(n.d.)"
    y, mo, day = d
    return f"({y}" + (f", {MONTHS[mo - 1]}" if mo else "") + (f" {day}" if mo and day else "") + ")"


def long_date(value: str) -> str:
    """"2026-12-02" -> "December 2, 2026" (APA's retrieval date)."""
    d = _date(value)
    if d is None or not (d[1] and d[2]):
        return value
    return f"{MONTHS[d[1] - 1]} {d[2]}, {d[0]}"


def mla_date(value: str) -> str:
    """"2024-01-24" -> "24 Jan. 2024"; "2024-01" -> "Jan. 2024"; "" when there is no date."""
    d = _date(value)
    if d is None:
        return ""
    y, mo, day = d
    return " ".join(x for x in ((str(day) if mo and day else ""), (MLA_MONTHS[mo - 1] if mo else ""), str(y)) if x)


def apa(title: str, url: str, meta: dict) -> str:
    """APA 7 reference of a web page or document."""
    site, author = meta.get("site", ""), meta.get("author", "")
    title = _plain_title(title, site)
    parts = [f"{apa_author(author)} {apa_date(meta.get('published', ''))}.", _end(title)] if author \
        else [_end(title), f"{apa_date(meta.get('published', ''))}."]
    if site and site != author:
        parts.append(_end(site))
    if url:
        retrieved = meta.get("retrieved", "")
        parts.append(f"Retrieved {long_date(retrieved)}, from {url}" if retrieved else url)
    else:
        parts.append(NO_ADDRESS)
    return " ".join(parts)


def mla(title: str, url: str, meta: dict) -> str:
    """MLA 9 works-cited entry of a web page or document."""
    site, author = meta.get("site", ""), meta.get("author", "")
    title = _plain_title(title, site)
    quoted = f"\u201c{title}\u201d" if title.endswith(("?", "!")) else f"\u201c{title}.\u201d"
    container = [x for x in ((site if site != author else ""), mla_date(meta.get("published", "")),
                             re.sub(r"^https?://", "", url)) if x]
    parts = ([mla_author(author)] if author else []) + [quoted]
    if container:
        parts.append(_end(", ".join(container)))
    if not url:
        parts.append(NO_ADDRESS)
    if meta.get("retrieved") and mla_date(meta["retrieved"]):
        parts.append(f"Accessed {mla_date(meta['retrieved'])}.")
    return " ".join(parts)


def pages_label(markers: list[tuple[int, int]], start: int, end: int) -> str:
    """"p. 3" or "pp. 3–4" for characters start..end of a PDF's text, from its (offset, page) headings."""
    if not markers:
        return ""
    offsets = [o for o, _ in markers]
    i = bisect_right(offsets, start) - 1
    first = markers[i][1] if i >= 0 else markers[0][1]
    j = bisect_right(offsets, max(start, end - 1)) - 1
    last = markers[j][1] if j >= 0 else first
    return f"p. {first}" if last == first else f"pp. {first}\u2013{last}"


def page_markers(texts: list[tuple[int, str]]) -> list[tuple[int, int]]:
    """(offset, page) of every `## Page N` heading in a source's passages, given as (start, text) pairs."""
    found = {start + m.start(): int(m.group(1)) for start, text in texts for m in PAGE_HEADING_RE.finditer(text)}
    return sorted(found.items())


def in_text(title: str, meta: dict, pages: str) -> str:
    """The APA in-text citation: "(Park, 2024)", "(Lee, 2024, p. 3)", or the title when no author is known."""
    author = meta.get("author", "")
    d = _date(meta.get("published", ""))
    year = str(d[0]) if d else "n.d."
    words = _person(author) if author else None
    who = (words[-1] if words else author) if author else f"\u201c{_plain_title(title, meta.get('site', ''))},\u201d"
    sep = " " if who.endswith("\u201d") else ", "
    return f"({who}{sep}{year}" + (f", {pages}" if pages else "") + ")"


def footnote(title: str, text: str, line_start: int, line_end: int, pages: str) -> str:
    """The quoted text with its source title, line numbers and page, for a footnote."""
    lines = f"line {line_start}" if line_start == line_end else f"lines {line_start}\u2013{line_end}"
    where = ", ".join(x for x in (title, pages, lines) if x)
    return f"\u201c{' '.join(text.split())}\u201d ({where})."


def reference(title: str, url: str, meta: dict, text: str, line_start: int, line_end: int, pages: str = "") -> dict:
    """The record's `citation`: {"apa", "mla", "in_text", "footnote"}."""
    return {"apa": apa(title, url, meta), "mla": mla(title, url, meta), "in_text": in_text(title, meta, pages),
            "footnote": footnote(title, text, line_start, line_end, pages)}

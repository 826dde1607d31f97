"""Page structure read line by line from a raw web extract (qa/ingest/passages.py cuts passages from it).

The sources are raw web extracts, so structure is inferred line by line:

* a *heading* is a short line without closing punctuation (or a short "Label:" or a question line)
  that is followed by text; Markdown `#` headings count too. Stacked headings (a question followed by a
  sub-title) form one section label.
* a *lead-in* is a sentence ending in a colon; it stays with the list (bullets, links) that follows it.
* *page chrome* (sign-up prompts, social log-ins, bylines, punctuation-only lines) is dropped and ends the
  section it interrupts.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

BULLET_RE = re.compile(r"^\s*(?:[•·▪◦‣∙●○■□➢➤►✓✔*+\-–—]|\(?\d{1,2}[.)]|\(?[a-z][.)])\s+\S")


URL_RE = re.compile(r"^\s*<?(?:https?://|www\.)\S+>?\s*$", re.I)


MD_HEADING_RE = re.compile(r"^\s{0,3}(#{1,6})\s+(.*?)\s*#*\s*$")


MD_RULE_RE = re.compile(r"^\s{0,3}(?:[-*_]\s*){3,}$")


# Boilerplate that web pages wrap around an article. Kept as a list of patterns (the approach of
# boilerplate removers such as jusText) because these lines have no structure that tells them apart.
# A dateline ("by | Last updated on January 24, 2024") is page furniture, but it answers "when was this
# written": it becomes a passage of its own ("About this page") instead of being dropped as chrome.
DATELINE_RE = re.compile(r"^(?:by\b[^|]{0,60}\|\s*)?(?:last )?(?:updated|published|posted|reviewed|written)"
                         r"(?: on)?\b.{0,40}\b\d{4}$", re.I)


DATELINE_LABEL = "About this page"


CHROME_RES = [re.compile(p, re.I) for p in (
    r"^\W*$",  # punctuation-only lines such as ", , , ,"
    r"^by\s*\|",  # "by | Last updated on ..."
    r"^(last )?(updated|published|posted)( on)?\b.{0,40}\d{4}$",
    r"^(sign up|sign in|log in|login|register)\b.{0,30}$",
    r"^continue with \w+$",
    r"^already (a member|have an account)\b.{0,30}$",
    r"^(lock icon )?your privacy is our priority\b",
    r"^powered by\b.{0,40}$",
    r"^connect with others who understand\.?$",
    r"^(share|tweet|print|email|pin it|subscribe|advertisement|skip to (main )?content)$",
    r"^(resources|about [\w ]{1,30})$",  # site navigation links
    r"^author$",
)]


CLOSING_PUNCT = ".!,;…"


@dataclass
class Line:
    start: int  # offset of the first character
    end: int  # offset just past the last non-newline character
    text: str
    kind: str = "text"  # blank | chrome | dateline | heading | leadin | bullet | url | text


def split_lines(text: str) -> list[Line]:
    lines, pos = [], 0
    for raw in text.splitlines(keepends=True):
        body = raw.rstrip("\n")
        lines.append(Line(pos, pos + len(body), body))
        pos += len(raw)
    return lines


def _words(s: str) -> int:
    return len(s.split())


def _is_chrome(s: str) -> bool:
    s = s.strip()
    return any(r.search(s) for r in CHROME_RES)


def _heading_like(s: str) -> bool:
    s = s.strip()
    if not s or len(s) > 100 or _words(s) > 14 or s[-1] in CLOSING_PUNCT:
        return False
    if s.endswith(":"):
        return _words(s) <= 4  # "Key Principles:" is a heading; "Factors evaluated ... include:" a lead-in
    return True


def classify(lines: list[Line], markdown: bool) -> None:
    """Give each line a kind, looking at its neighbours where the line alone is ambiguous."""
    n = len(lines)
    for ln in lines:
        s = ln.text.strip()
        if not s:
            ln.kind = "blank"
        elif markdown and MD_HEADING_RE.match(ln.text):
            ln.kind = "heading"
        elif markdown and MD_RULE_RE.match(ln.text):
            ln.kind = "chrome"
        elif URL_RE.match(s):
            ln.kind = "url"
        elif BULLET_RE.match(ln.text):
            ln.kind = "bullet"
        elif DATELINE_RE.match(s):
            ln.kind = "dateline"
        elif _is_chrome(s):
            ln.kind = "chrome"
        elif s.endswith(":") and not _heading_like(s):
            ln.kind = "leadin"
        elif _heading_like(s):
            ln.kind = "heading"
        else:
            ln.kind = "text"
    # Bylines: the name printed around an "Author" line is chrome too.
    for i, ln in enumerate(lines):
        if ln.kind == "chrome" and ln.text.strip().lower() == "author":
            for j in (i - 1, i + 1):
                if 0 <= j < n and lines[j].kind == "heading" and _words(lines[j].text) <= 4:
                    lines[j].kind = "byline"
    # A heading must introduce something: a short line directly above a single URL is a link label (a list
    # item), and a heading-like last line is plain text. (One followed by chrome is a page title: it labels
    # the text after the chrome.)
    for i, ln in enumerate(lines):
        if ln.kind != "heading" or (markdown and MD_HEADING_RE.match(ln.text)):
            continue
        # Walked by index, not over a slice: copying the rest of the lines for every heading was quadratic.
        j = i + 1
        while j < n and lines[j].kind == "blank":
            j += 1
        nxt = lines[j] if j < n else None
        if nxt is None:
            ln.kind = "text"
        elif nxt.kind == "url" and lines[i + 1].kind == "url" and (i + 2 >= n or lines[i + 2].kind != "url"):
            ln.kind = "bullet"


@dataclass
class Section:
    labels: list[str]
    heading_lines: list[Line]  # contiguous heading lines directly above the body (may be empty)
    units: list[list[Line]]  # atomic groups: a paragraph, or a lead-in with its list
    byline: bool = False


def sections(lines: list[Line]) -> list[Section]:
    sections: list[Section] = []
    cur: Section | None = None
    pending: list[Line] = []  # heading lines not yet followed by body
    gap = False  # chrome seen since the pending headings
    byline = False
    group: list[Line] | None = None  # open lead-in group (lead-in + its list)

    def body_section() -> Section:
        nonlocal cur, pending, gap, byline
        if pending or cur is None:
            labels = [_clean_heading(h.text) for h in pending]
            cur = Section(labels, [] if gap else list(pending), [], byline=byline)
            sections.append(cur)
            pending, gap, byline = [], False, False
        return cur

    for ln in lines:
        k = ln.kind
        if k == "blank":
            continue
        if k == "dateline":
            # Its own passage; like chrome it interrupts, but it leaves pending headings to what follows.
            sections.append(Section([DATELINE_LABEL], [], [[ln]]))
            group, cur = None, None
            gap = gap or bool(pending)
            continue
        if k in ("chrome", "byline"):
            # Chrome interrupts: what follows starts afresh (a byline marks the author's bio).
            group, cur = None, None
            gap = gap or bool(pending)
            byline = byline or k == "byline"
            continue
        if k == "heading":
            if cur is not None and not pending:
                cur = None
            if gap:  # a heading after chrome supersedes the page title above the chrome
                pending, gap = [], False
            group = None
            pending.append(ln)
            continue
        sec = body_section()
        if k == "leadin":
            group = [ln]
            sec.units.append(group)
        elif k in ("bullet", "url") and group is not None:
            group.append(ln)
        elif k in ("bullet", "url") and sec.units and sec.units[-1][-1].kind in ("bullet", "url"):
            sec.units[-1].append(ln)  # a list without lead-in still stays together
        else:
            group = None
            sec.units.append([ln])
    # Headings at the very end that introduced nothing are kept as text.
    if pending:
        sections.append(Section([], [], [[h] for h in pending]))
    return sections


def _clean_heading(s: str) -> str:
    m = MD_HEADING_RE.match(s)
    s = (m.group(2) if m else s).strip()
    return s[:-1].strip() if s.endswith(":") else s

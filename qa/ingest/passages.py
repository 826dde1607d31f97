"""Segment a source into readable passages with exact character offsets.

The sources are raw web extracts, so structure is inferred line by line:

* a *heading* is a short line without closing punctuation (or a short "Label:" or a question line)
  that is followed by text; Markdown `#` headings count too. Stacked headings (a question followed by a
  sub-title) form one section label.
* a *lead-in* is a sentence ending in a colon; it stays with the list (bullets, links) that follows it.
* *page chrome* (sign-up prompts, social log-ins, bylines, punctuation-only lines) is dropped and ends the
  section it interrupts.

Each section's paragraphs are packed into passages of about `target_passage_chars`, never more than
`max_passage_chars`; a heading is part of its first passage's span when nothing but blank lines separates
them. A passage records the section label and the text to embed / index ("context": title, section, text).
"""

from __future__ import annotations

import hashlib
import re
from array import array
from bisect import bisect_left
from dataclasses import dataclass, field
from typing import Callable

from qa.ingest.corpus import Source
from qa.settings import Settings

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
# A sentence ends at . ! ? before a capital or digit, but not after an initial ("Myrna M. Weissman") or a
# common abbreviation ("Dr. Park", "e.g. CBT").
SENTENCE_END_RE = re.compile(
    r"(?<![\s(][A-Z]\.)(?<!\bDr\.)(?<!\bMr\.)(?<!\bMs\.)(?<!\bMrs\.)(?<!\bSt\.)(?<!\bvs\.)(?<!\be\.g\.)"
    r"(?<!\bi\.e\.)(?<!\bal\.)(?<!\bNo\.)(?<=[.!?])([\"”’)]?)\s+(?=[\"“‘(]?[A-Z0-9])")
CLOSING_PUNCT = ".!,;…"


@dataclass
class Line:
    start: int  # offset of the first character
    end: int  # offset just past the last non-newline character
    text: str
    kind: str = "text"  # blank | chrome | dateline | heading | leadin | bullet | url | text


@dataclass(frozen=True)
class Passage:
    id: str  # "<source id>#<n>", stable while the source's segmentation is unchanged
    source_id: str
    start: int
    end: int
    line_start: int  # 1-based, inclusive
    line_end: int
    section: str  # heading shown with the passage ("" when the passage has none)
    text: str  # == source.text[start:end]
    context: str  # what gets embedded and keyword-indexed
    sentences: tuple[tuple[int, int], ...] = field(default_factory=tuple)  # absolute spans, for highlighting
    heading_end: int = -1  # absolute offset where the heading part of the span ends (-1: no heading in span)

    @property
    def content_hash(self) -> str:
        return hashlib.sha256(self.context.encode("utf-8")).hexdigest()


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
class _Section:
    labels: list[str]
    heading_lines: list[Line]  # contiguous heading lines directly above the body (may be empty)
    units: list[list[Line]]  # atomic groups: a paragraph, or a lead-in with its list
    byline: bool = False


def _sections(lines: list[Line]) -> list[_Section]:
    sections: list[_Section] = []
    cur: _Section | None = None
    pending: list[Line] = []  # heading lines not yet followed by body
    gap = False  # chrome seen since the pending headings
    byline = False
    group: list[Line] | None = None  # open lead-in group (lead-in + its list)

    def body_section() -> _Section:
        nonlocal cur, pending, gap, byline
        if pending or cur is None:
            labels = [_clean_heading(h.text) for h in pending]
            cur = _Section(labels, [] if gap else list(pending), [], byline=byline)
            sections.append(cur)
            pending, gap, byline = [], False, False
        return cur

    for ln in lines:
        k = ln.kind
        if k == "blank":
            continue
        if k == "dateline":
            # Its own passage; like chrome it interrupts, but it leaves pending headings to what follows.
            sections.append(_Section([DATELINE_LABEL], [], [[ln]]))
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
        sections.append(_Section([], [], [[h] for h in pending]))
    return sections


def _clean_heading(s: str) -> str:
    m = MD_HEADING_RE.match(s)
    s = (m.group(2) if m else s).strip()
    return s[:-1].strip() if s.endswith(":") else s


def _sentence_spans(text: str, start: int, end: int) -> list[tuple[int, int]]:
    """Sentence spans (absolute offsets) inside text[start:end], one line at most each."""
    spans = []
    pos = start
    for line in text[start:end].split("\n"):
        lstart, lend = pos, pos + len(line)
        pos = lend + 1
        stripped = line.strip()
        if not stripped:
            continue
        lstart += len(line) - len(line.lstrip())
        lend -= len(line) - len(line.rstrip())
        s = lstart
        for m in SENTENCE_END_RE.finditer(text, lstart, lend):
            piece_end = m.end(1)  # keep a closing quote or bracket with its sentence
            if piece_end - s > 1:
                spans.append((s, piece_end))
            s = m.end()
        if lend > s:
            spans.append((s, lend))
    return spans


def _split_long_line(text: str, ln: Line, limit: int) -> list[Line]:
    """Cut one over-long paragraph at sentence boundaries into pieces of at most `limit` characters."""
    pieces: list[Line] = []
    cur_start = cur_end = None
    for s, e in _sentence_spans(text, ln.start, ln.end):
        while e - s > limit:  # a single sentence longer than the cap: cut at a space
            cut = text.rfind(" ", s, s + limit)
            cut = cut if cut > s else s + limit
            if cur_start is not None:
                pieces.append(Line(cur_start, cur_end, text[cur_start:cur_end], ln.kind))
                cur_start = None
            pieces.append(Line(s, cut, text[s:cut], ln.kind))
            s = cut + 1 if text[cut:cut + 1] == " " else cut
        if cur_start is None:
            cur_start, cur_end = s, e
        elif e - cur_start <= limit:
            cur_end = e
        else:
            pieces.append(Line(cur_start, cur_end, text[cur_start:cur_end], ln.kind))
            cur_start, cur_end = s, e
    if cur_start is not None:
        pieces.append(Line(cur_start, cur_end, text[cur_start:cur_end], ln.kind))
    return pieces


class LineNumbers:
    """1-based line of a character offset, as `text.count("\\n", 0, offset) + 1` would say, by bisection over
    the newline offsets found once: counting from the start for every passage made a build quadratic in the
    size of a source (1 MB: 1.4 s, 4 MB: 20 s, 200 MB: never)."""

    def __init__(self, text: str):
        self._newlines = array("q")
        pos = text.find("\n")
        while pos != -1:
            self._newlines.append(pos)
            pos = text.find("\n", pos + 1)

    def __call__(self, offset: int) -> int:
        return bisect_left(self._newlines, offset) + 1


def segment(source: Source, settings: Settings | None = None,
            progress: Callable[[int], None] | None = None) -> list[Passage]:
    """Split one source into passages (see the module docstring for the rules). `progress`, if given, is
    called with the offset reached after each passage (for a build's progress bar)."""
    settings = settings or Settings()
    text, limit, target = source.text, settings.max_passage_chars, settings.target_passage_chars
    lines = split_lines(text)
    classify(lines, source.is_markdown)
    line_number = LineNumbers(text)
    out: list[Passage] = []

    def emit(label: str, heads: list[Line], body: list[Line]) -> None:
        first = heads[0] if heads else body[0]
        start, end = first.start, body[-1].end
        sentences = []
        for ln in body:
            sentences += _sentence_spans(text, ln.start, ln.end)
        if not sentences:
            sentences = [(start, end)]
        span_text = text[start:end]
        parts = []
        if settings.context_title:
            parts.append(source.title)
        if settings.context_section and label and not (heads and label in span_text[:len(label) + 3]):
            parts.append(label)
        parts.append(span_text)
        out.append(Passage(
            id=f"{source.id}#{len(out) + 1}", source_id=source.id, start=start, end=end,
            line_start=line_number(start), line_end=line_number(end),
            section=label, text=span_text, context="\n".join(parts), sentences=tuple(sentences),
            heading_end=heads[-1].end if heads else -1,
        ))
        if progress is not None:
            progress(end)

    for sec in _sections(lines):
        labels = [x for x in sec.labels if x != source.title] or sec.labels  # the title adds nothing to a label
        label = " › ".join(labels) if labels else ("About the author" if sec.byline else "")
        heads = list(sec.heading_lines)
        # Flatten units into lines, splitting what cannot fit; remember where units begin.
        units: list[list[Line]] = []
        for unit in sec.units:
            flat: list[Line] = []
            for ln in unit:
                flat += _split_long_line(text, ln, limit) if ln.end - ln.start > limit else [ln]
            units.append(flat)
        body: list[Line] = []
        for unit in units:
            cur_start = (heads[0].start if heads else body[0].start) if body else None
            fits_target = body and unit[-1].end - cur_start <= target
            if body and not fits_target:
                emit(label, heads, body)
                heads, body = [], []
            for ln in unit:
                span_start = heads[0].start if heads else (body[0].start if body else ln.start)
                if (body or heads) and ln.end - span_start > limit:
                    if body:
                        emit(label, heads, body)
                        heads, body = [], []
                    elif heads:  # headings alone plus this line are too long: drop headings from the span
                        heads = []
                body.append(ln)
        if body:
            emit(label, heads, body)
    return out


class ListLeadIns:
    """For each line of a text, the lead-in sentence of the list it may belong to, found in one pass.

    `sentence_contexts` walked up from every list item past all the items above it to their lead-in: a list
    of n items cost n²/2 line reads (a 450 KB list: 97 s). The line it stops at is always the nearest one
    above that is neither blank, a bullet nor an address, so one forward pass can remember it."""

    def __init__(self, text: str):
        self.prefix_at: dict[int, str] = {}  # line start offset -> lead-in ("" when none)
        prefix, pos = "", 0
        for line in text.split("\n"):
            self.prefix_at[pos] = prefix
            if line.strip() and not BULLET_RE.match(line) and not URL_RE.match(line):
                prefix = _lead_in(line)
            pos += len(line) + 1


def _lead_in(line: str) -> str:
    """The sentence of `line` that introduces a list after it ("" when the line does not end in a colon)."""
    return re.split(r"(?<=[.!?])\s+", line.strip())[-1] if line.rstrip().endswith(":") else ""


def sentence_contexts(p: Passage, source_text: str, lead_ins: ListLeadIns | None = None) -> list[str]:
    """What to embed for each sentence of `p`: the sentence with what it needs to be understood alone.

    A list item ("Social isolation") gets its lead-in ("IPT is most effective for people ... such as:");
    any other sentence stands alone (measured: a heading prefix made sentence matching worse).
    `lead_ins` (ListLeadIns of `source_text`, made once per source) makes this linear for long lists.
    """
    out = []
    for a, b in p.sentences:
        sentence = source_text[a:b]
        line_start = source_text.rfind("\n", 0, a) + 1
        prefix = ""
        if BULLET_RE.match(source_text[line_start:b]) or URL_RE.match(source_text[line_start:b]):
            if lead_ins is not None:
                prefix = lead_ins.prefix_at[line_start]
            else:
                # Walk up past the other items of the list to the line that introduces it.
                pos = line_start
                while pos > 0:
                    prev_start = source_text.rfind("\n", 0, pos - 1) + 1
                    prev = source_text[prev_start:pos - 1]
                    if prev.strip() and not BULLET_RE.match(prev) and not URL_RE.match(prev):
                        prefix = _lead_in(prev)
                        break
                    pos = prev_start
        out.append(f"{prefix}\n{sentence}" if prefix and prefix not in sentence else sentence)
    return out


def segment_corpus(sources: list[Source], settings: Settings | None = None) -> list[Passage]:
    passages: list[Passage] = []
    for src in sources:
        passages += segment(src, settings)
    return passages

"""Segment a source into readable passages with exact character offsets. Page structure (headings, lead-ins, page
chrome) is read line by line in qa/ingest/structure.py.

Each section's paragraphs are packed into passages of about `target_passage_chars`, never more than
`max_passage_chars`; a heading is part of its first passage's span when nothing but blank lines separates
them. A passage records the section label and the text to embed / index ("context": title, section, text).
"""

from __future__ import annotations

import re
from array import array
from bisect import bisect_left
from collections.abc import Callable
from dataclasses import dataclass, field

from qa.ingest.corpus import Source
from qa.ingest.structure import BULLET_RE, URL_RE, Line, classify, sections, split_lines
from qa.settings import Settings

# Abbreviations whose full stop does not end a sentence ("Dr. Park", "e.g. CBT", "Weissman et al. 2000").
ABBREVIATIONS = ("Dr", "Mr", "Ms", "Mrs", "St", "Prof", "No", "vs", "Vs", "e.g", "E.g", "i.e", "I.e", "al",
                 "approx", "Approx", "cf", "Cf", "Fig")
# A sentence ends at . ! ? before a capital or digit, but not after an initial ("Myrna M. Weissman") or one of
# the abbreviations; a closing quote or bracket right after the stop stays with its sentence.
SENTENCE_END_RE = re.compile(
    r"(?<![\s(][A-Z]\.)" + "".join(rf"(?<!\b{re.escape(a)}\.)" for a in ABBREVIATIONS)
    + r"(?<=[.!?])([\"”’)\]]?)\s+(?=[\"“‘(\[]?[A-Z0-9])")
CLOSING = {")": "(", "]": "["}


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


def _bracket_pairs(text: str, start: int, end: int) -> tuple[list[tuple[int, int]], int]:
    """The (open, close) offsets of the parentheses and brackets closed inside text[start:end], and the offset
    of the first one left open (-1: none)."""
    pairs: list[tuple[int, int]] = []
    stack: list[int] = []
    for pos in range(start, end):
        ch = text[pos]
        if ch in "([":
            stack.append(pos)
        elif ch in CLOSING and stack and text[stack[-1]] == CLOSING[ch]:
            pairs.append((stack.pop(), pos))
    return pairs, stack[0] if stack else -1


def _sentence_spans(text: str, start: int, end: int, whole: bool = False) -> list[tuple[int, int]]:
    """Sentence spans (absolute offsets) inside text[start:end], one line at most each.

    A full stop inside a parenthesis or bracket closed on the same line does not end a sentence. A sentence
    the line leaves inside an open one (a page cut mid-citation: "... of depression (Weissman et al.") ends
    where that opens, so a highlight is never such a fragment; `whole` keeps it to the line's end instead,
    for cutting a line into passages, which must not drop text."""
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
        pairs, left_open = _bracket_pairs(text, lstart, lend) if "(" in line or "[" in line else ([], -1)
        s = lstart
        line_spans = []
        for m in SENTENCE_END_RE.finditer(text, lstart, lend):
            piece_end = m.end(1)  # keep a closing quote or bracket with its sentence
            if any(a < piece_end <= b for a, b in pairs):
                continue
            if piece_end - s > 1:
                line_spans.append((s, piece_end))
            s = m.end()
        if lend > s:
            line_spans.append((s, lend))
        if not whole and left_open != -1:
            line_spans = [_before_open(text, a, b, left_open) for a, b in line_spans]
        spans += line_spans
    return spans


def _before_open(text: str, a: int, b: int, left_open: int) -> tuple[int, int]:
    """Span [a, b) cut before the bracket opened at `left_open` and never closed, when that falls inside it
    and leaves some words before it."""
    if not a < left_open < b:
        return a, b
    cut = len(text[a:left_open].rstrip(" \t,;:-–—")) + a
    return (a, cut) if cut - a >= 10 else (a, b)


def _split_long_line(text: str, ln: Line, limit: int) -> list[Line]:
    """Cut one over-long paragraph at sentence boundaries into pieces of at most `limit` characters."""
    pieces: list[Line] = []
    cur_start: int | None = None
    cur_end = 0
    for s, e in _sentence_spans(text, ln.start, ln.end, whole=True):
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

    for sec in sections(lines):
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
            if body and unit[-1].end - (heads[0].start if heads else body[0].start) > target:
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

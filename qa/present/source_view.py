"""The source view: a whole source, line by line with numbers, the cited passage marked and its best sentence
emphasised, with the source's address, provenance and the links it names. Every piece of text is escaped."""

from __future__ import annotations

from dataclasses import dataclass

from qa.present.page import details_html, esc, lines_label, link_html

SOURCE_PLACEHOLDER = "Choose “Show in source” under a passage to read it here, highlighted in its full source."


@dataclass(frozen=True)
class SourceDoc:
    """What the source view needs to know about one source document."""

    id: str
    title: str
    path: str  # as printed in citations
    text: str  # the whole document, exactly as the citations' offsets count it
    url: str = ""
    links: tuple[str, ...] = ()
    provenance: str = ""


def _line_html(text: str, a: int, b: int, cited: tuple[int, int], best: tuple[int, int], first: list[bool]) -> str:
    """Characters a..b of one line, split where the cited span and best sentence begin and end."""
    cuts = sorted({a, b, *(x for x in (*cited, *best) if a < x < b)})
    out = []
    for x, y in zip(cuts, cuts[1:], strict=False):
        piece = esc(text[x:y])
        if cited[0] <= x and y <= cited[1]:
            cls = "ipt-cited ipt-best" if best[0] <= x and y <= best[1] else "ipt-cited"
            anchor = ' id="cited"' if first[0] else ""
            first[0] = False
            out.append(f'<mark class="{cls}"{anchor}>{piece}</mark>')
        else:
            out.append(piece)
    return "".join(out)


def source_text_html(text: str, start: int, end: int, hl_start: int, hl_end: int) -> str:
    """The whole source, line by line with line numbers, the cited span in <mark> (the first piece has
    id="cited", for scrolling) and its best sentence emphasised within it."""
    cited = (start, end)
    best = (max(hl_start, start), min(hl_end, end))
    first = [True]
    rows, pos = [], 0
    for n, line in enumerate(text.split("\n"), 1):
        a, b = pos, pos + len(line)
        pos = b + 1
        body = _line_html(text, a, b, cited, best, first) if line else ""
        # An empty line inside the span counts as in it, so the tinted block has no gaps.
        in_span = " ipt-in-span" if a < end and max(b, a + 1) > start else ""
        rows.append(f'<div class="ipt-line{in_span}"><span class="ipt-ln" aria-hidden="true">{n}</span>'
                    f'<span class="ipt-tx">{body}</span></div>')
    # A scrolling region: focusable, so that keyboard users can scroll it too (WCAG 2.1.1).
    return (f'<div class="ipt-source-text" tabindex="0" role="region" aria-label="Full text of the source">'
            f'{"".join(rows)}</div>')


def source_html(doc: SourceDoc, start: int, end: int, hl_start: int, hl_end: int) -> str:
    """The source view: title, its original page, a way back to the passage (for narrow screens, where the
    view sits below all the results), and the full text with the cited passage highlighted; the file, lines
    and characters behind "Details"."""
    before = doc.text[:start]
    line_start = before.count("\n") + 1
    line_end = line_start + doc.text[start:end].rstrip("\n").count("\n")
    meta = []
    if doc.url:
        meta.append(f'<p class="ipt-meta">Original page: {link_html(doc.url)}</p>')
    rows = [("File", f"{doc.path}, {lines_label(line_start, line_end)}"),
            ("Characters", f"{int(start)}–{int(end)}")]
    if not doc.url:
        rows.append(("Original page", "the address is not recorded in the text"))
    if doc.provenance:
        rows.append(("About this source", doc.provenance))
    links = ""
    if doc.links:
        items = "".join(f"<li>{link_html(u)}</li>" for u in doc.links)
        links = (f'<details class="ipt-details"><summary>Links named in this source ({len(doc.links)})</summary>'
                 f'<ul class="ipt-links">{items}</ul></details>')
    return (f'<section class="ipt-source" aria-label="Source: {esc(doc.title)}">'
            f'<div class="ipt-source-head"><h2 class="ipt-source-title" tabindex="-1">{esc(doc.title)}</h2>'
            '<button type="button" class="ipt-back" data-back="1">Back to the passage</button></div>'
            f'{"".join(meta)}<div class="ipt-source-foot">{details_html(rows)}{links}</div>'
            f"{source_text_html(doc.text, start, end, hl_start, hl_end)}</section>")


def source_placeholder_html() -> str:
    """What the source view shows before any citation is opened."""
    return f'<div class="ipt-source ipt-source-empty"><p>{esc(SOURCE_PLACEHOLDER)}</p></div>'

"""HTML for the learner's web page, as plain functions of the library's records (no Gradio here).

Everything that comes from outside this module (the question, source text, titles, sections, addresses) goes
through `html.escape` before it is placed in markup: `gr.HTML` does not sanitise what it is given. The
markup carries no scripts or inline event handlers; the page's one script (in app.py) listens for clicks on
the `data-*` buttons rendered here.
"""

from __future__ import annotations

import html
from dataclasses import dataclass
from urllib.parse import urlsplit

from .records import Answer, Hit

EXAMPLE_QUESTIONS = (
    "Who created IPT?",
    "How long does IPT last?",
    "What problems does IPT focus on?",
    "Is IPT as good as medication?",
    "What happens in an IPT session?",
    "Who can IPT help?",
)

DISCLAIMER = (
    "This page shows excerpts quoted word for word from five web sources about Interpersonal Psychotherapy "
    "(IPT), for learning. It is not medical advice: for advice about your own health, talk to a qualified "
    "professional."
)

COVERAGE = (
    "The sources cover what IPT is, who created it, how long it lasts, what it treats, its problem areas and "
    "process, and how it compares with other treatments."
)

# Questions about one's mental health are sensitive; the page says what happens to them. True because the
# page keeps no run history, nginx's log format (deploy/nginx.conf) and the app's logs leave them out, and
# tests/deploy/test_replicas.py checks every log for a question's text.
PRIVACY_NOTE = "Questions are not stored: what you type is used to find passages, and is neither saved nor logged."

SOURCE_PLACEHOLDER = "Choose “Show in source” under a passage to read it here, highlighted in its full source."


def esc(value: object) -> str:
    """Text made safe for an HTML element or a quoted attribute."""
    return html.escape(str(value), quote=True)


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


# -- small pieces ----------------------------------------------------------------------------------------


def lines_label(line_start: int, line_end: int) -> str:
    """"line 5" or "lines 5–9"."""
    return f"line {line_start}" if line_start == line_end else f"lines {line_start}–{line_end}"


def message_html(text: str, kind: str = "info") -> str:
    """A one-paragraph message box; kind is "info", "warning" or "error"."""
    role = ' role="alert"' if kind == "error" else ""
    return f'<div class="ipt-msg ipt-msg-{esc(kind)}"{role}><p>{esc(text)}</p></div>'


def disclaimer_html() -> str:
    """The note that is always on the page: excerpts for learning, not medical advice."""
    return f'<div class="ipt-disclaimer"><p><strong>About this page.</strong> {esc(DISCLAIMER)}</p></div>'


def privacy_html() -> str:
    """The footer line saying that questions are not stored."""
    return f'<p class="ipt-privacy">{esc(PRIVACY_NOTE)}</p>'


def notice_html(notice: str) -> str:
    """The crisis notice, styled as an alert (shown above any passage)."""
    return (f'<div class="ipt-notice" role="alert"><p class="ipt-notice-title">Need help now?</p>'
            f"<p>{esc(notice)}</p></div>")


def example_buttons_html(questions: tuple[str, ...] = EXAMPLE_QUESTIONS) -> str:
    """Example questions as buttons; app.py's click listener asks the one clicked."""
    return "".join(f'<button type="button" class="ipt-example" data-question="{esc(q)}">{esc(q)}</button>'
                   for q in questions)


def _safe_href(url: str) -> str | None:
    """Only plain web addresses become links; anything else (javascript:, data:, ...) stays text."""
    try:
        scheme = urlsplit(url.strip()).scheme.lower()
    except ValueError:
        return None
    return url.strip() if scheme in ("http", "https") else None


def link_html(url: str) -> str:
    """An external address as a link that opens in a new tab without giving it access to this page."""
    href = _safe_href(url)
    if href is None:
        return f"<span>{esc(url)}</span>"
    return f'<a href="{esc(href)}" target="_blank" rel="noopener noreferrer">{esc(url)}</a>'


def cite_button_html(source_id: str, start: int, end: int, highlight: dict, label: str,
                     css_class: str = "ipt-cite") -> str:
    """A button that opens a passage in the source view (the span and its best sentence travel as data)."""
    hl_start = int(highlight.get("start", start)) if highlight else start
    hl_end = int(highlight.get("end", start)) if highlight else start
    return (f'<button type="button" class="{css_class}" data-source="{esc(source_id)}" data-start="{int(start)}" '
            f'data-end="{int(end)}" data-hl-start="{hl_start}" data-hl-end="{hl_end}">{esc(label)}</button>')


# -- passage cards ---------------------------------------------------------------------------------------


def highlighted_text_html(text: str, start: int, highlight: dict) -> str:
    """The passage text escaped, with its best-matching sentence (absolute offsets) wrapped in <mark>."""
    if not highlight:
        return esc(text)
    a = min(max(int(highlight["start"]) - start, 0), len(text))
    b = min(max(int(highlight["end"]) - start, a), len(text))
    if a == b:
        return esc(text)
    return f'{esc(text[:a])}<mark class="ipt-hl">{esc(text[a:b])}</mark>{esc(text[b:])}'


_RELEVANCE_CLASS = {"strong match": "strong", "good match": "good", "partial match": "partial"}


def card_html(hit: Hit) -> str:
    """One result: the quoted passage with its highlight, where it comes from, and how well it matches."""
    section = (f'<p class="ipt-section">Section: {esc(hit.section)}</p>'
               if hit.section and hit.section != hit.title else "")
    where = f"{hit.path}, {lines_label(hit.line_start, hit.line_end)}"
    also = ""
    if hit.also_in:
        items = "".join(
            "<li>" + cite_button_html(a.source_id, a.start, a.end, a.highlight,
                                      f"{a.title} ({lines_label(a.line_start, a.line_end)})", "ipt-cite-inline")
            + "</li>" for a in hit.also_in)
        also = f'<div class="ipt-also">Also stated in:<ul>{items}</ul></div>'
    relevance = hit.relevance
    return (
        f'<article class="ipt-card" data-rank="{int(hit.rank)}">'
        f'<header class="ipt-card-head"><span class="ipt-rank" aria-label="result {int(hit.rank)}">'
        f"{int(hit.rank)}</span>"
        f'<div class="ipt-card-titles"><p class="ipt-title">{esc(hit.title)}</p>{section}</div>'
        f'<span class="ipt-rel ipt-rel-{_RELEVANCE_CLASS.get(relevance, "partial")}" '
        f'title="score {hit.score:.2f}">{esc(relevance)}</span></header>'
        f'<blockquote class="ipt-passage">{highlighted_text_html(hit.text, hit.start, hit.highlight)}</blockquote>'
        f'<footer class="ipt-card-foot">'
        f'{cite_button_html(hit.source_id, hit.start, hit.end, hit.highlight, "Show in source")}'
        f'<span class="ipt-where">{esc(where)}</span></footer>{also}</article>'
    )


def abstention_html(answer: Answer, examples: tuple[str, ...] = EXAMPLE_QUESTIONS) -> str:
    """Nothing in the sources answers: say so plainly, offer questions that work, say what is covered."""
    why = (f'<details class="ipt-why"><summary>Why?</summary><p>{esc(answer.reason)}</p></details>'
           if answer.reason else "")
    return (
        '<div class="ipt-abstain">'
        "<p class=\"ipt-abstain-title\">Nothing in the sources answers this question.</p>"
        f"<p>{esc(COVERAGE)}</p>"
        "<p>Questions the sources can answer:</p>"
        f'<div class="ipt-examples">{example_buttons_html(examples)}</div>{why}</div>'
    )


def answer_html(answer: Answer) -> str:
    """The whole result area for one answer: question, notes, crisis notice (first), then cards or abstention."""
    parts = []
    if answer.notice:
        parts.append(notice_html(answer.notice))
    parts.append(f'<p class="ipt-asked">You asked: <q>{esc(answer.question)}</q></p>')
    parts.extend(message_html(w, "warning") for w in answer.warnings)
    if answer.abstained or not answer.passages:
        parts.append(abstention_html(answer))
    else:
        n = len(answer.passages)
        parts.append(f'<p class="ipt-summary">{n} passage{"s" if n != 1 else ""} from the sources, best match '
                     "first. Each is quoted word for word; the highlighted sentence matches your question "
                     "best.</p>")
        parts.extend(card_html(h) for h in answer.passages)
    return f'<div class="ipt-results">{"".join(parts)}</div>'


# -- the source view -------------------------------------------------------------------------------------


def _line_html(text: str, a: int, b: int, cited: tuple[int, int], best: tuple[int, int], first: list[bool]) -> str:
    """Characters a..b of one line, split where the cited span and best sentence begin and end."""
    cuts = sorted({a, b, *(x for x in (*cited, *best) if a < x < b)})
    out = []
    for x, y in zip(cuts, cuts[1:]):
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
    return f'<div class="ipt-source-text">{"".join(rows)}</div>'


def source_html(doc: SourceDoc, start: int, end: int, hl_start: int, hl_end: int) -> str:
    """The source view: title, where it comes from, and its full text with the cited passage highlighted."""
    before = doc.text[:start]
    line_start = before.count("\n") + 1
    line_end = line_start + doc.text[start:end].rstrip("\n").count("\n")
    meta = [f'<p class="ipt-meta">{esc(doc.path)}, {esc(lines_label(line_start, line_end))} '
            f"(characters {int(start)}–{int(end)})</p>"]
    if doc.url:
        meta.append(f'<p class="ipt-meta">Original page: {link_html(doc.url)}</p>')
    else:
        meta.append('<p class="ipt-meta">Original page: the address is not recorded in the text.</p>')
    if doc.links:
        items = "".join(f"<li>{link_html(u)}</li>" for u in doc.links)
        meta.append(f'<div class="ipt-meta">Links named in this source:<ul class="ipt-links">{items}</ul></div>')
    if doc.provenance:
        meta.append(f'<details class="ipt-meta"><summary>About this source</summary>{esc(doc.provenance)}</details>')
    return (f'<div class="ipt-source"><p class="ipt-source-title">{esc(doc.title)}</p>{"".join(meta)}'
            f"{source_text_html(doc.text, start, end, hl_start, hl_end)}</div>")


def source_placeholder_html() -> str:
    """What the source view shows before any citation is opened."""
    return f'<div class="ipt-source ipt-source-empty"><p>{esc(SOURCE_PLACEHOLDER)}</p></div>'


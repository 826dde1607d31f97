"""HTML for the learner's web page, as plain functions of the library's records (no Gradio here).

Everything that comes from outside this module (the question, source text, titles, sections, addresses) goes
through `html.escape` before it is placed in markup: `gr.HTML` does not sanitise what it is given. The
markup carries no scripts or inline event handlers; the page's one script (in app.py) listens for clicks on
the `data-*` buttons rendered here. The source view is in qa/present/source_view.py."""

from __future__ import annotations

import html
import re
from urllib.parse import urlsplit

from qa.judge.searchable import NO_KNOWN_WORDS, NO_WORDS
from qa.present.cite_html import cite_block_html, share_html, suggestions_html
from qa.records import Answer, Hit, Span
from qa.retrieve.language import looks_non_english

EXAMPLE_QUESTIONS = (
    "Who created IPT?",
    "How long does IPT last?",
    "What problems does IPT focus on?",
    "Is IPT as good as medication?",
    "What happens in an IPT session?",
    "Who can IPT help?",
)

# "{sources}" in the texts below is the number of sources of the index answering ("six web sources"), counted
# each time: `ipt-qa add` and `remove` change it.
DISCLAIMER = (
    "Excerpts quoted word for word from {sources} web sources about Interpersonal Psychotherapy (IPT), for "
    "learning. It is not medical advice: for your own health, talk to a qualified professional."
)

COVERAGE = (
    "The sources cover what IPT is, who created it, how long it lasts, what it treats, its problem areas and "
    "process, and how it compares with other treatments."
)

# Questions about one's mental health are sensitive; the page says what happens to them. True because the
# page keeps no run history, nginx's log format (deploy/nginx.conf) and the app's logs leave them out, and
# tests/deploy/test_replicas.py checks every log for a question's text.
PRIVACY_NOTE = "Questions are not stored: what you type is used to find passages, and is neither saved nor logged."


# The refusal's "Why?", for a learner. The library's reason (similarity figures, thresholds) stays behind a
# second details control for the curious; the JSON API keeps it as it is.
WHY_NOT_CLOSE = (
    "The assistant only shows passages that answer a question closely, so that it never shows text that "
    "merely looks related. No passage in the {sources} sources came close enough to this question. Asking about "
    "one of the topics above, or using other words, may find one."
)
WHY_NOT_ENGLISH = (
    "Your question does not seem to be in English. The {sources} sources are all in English, and the assistant "
    "finds passages by comparing your question with their sentences, so it cannot match a question in "
    "another language. Please ask it in English."
)
NOT_ENGLISH_NOTE = (
    "The sources are in English. Your question does not seem to be, so these passages may match only a few "
    "of its words; asking in English gives better matches."
)
WEAK_MATCH = (
    "The sources touch on this but may not answer it: check that a passage below really answers your "
    "question before you rely on it."
)


_NUMBER_WORDS = ("no", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten", "eleven",
                 "twelve")


def with_count(text: str, sources: int | None) -> str:
    """`text` with "{sources}" replaced by how many sources there are, in words up to twelve; without a count
    ("the five sources" -> "the sources"), the words read on without it."""
    if sources is None:
        return text.replace(" {sources} ", " ")
    return text.replace("{sources}", _NUMBER_WORDS[sources] if 0 <= sources < len(_NUMBER_WORDS) else f"{sources:,}")


def esc(value: object) -> str:
    """Text made safe for an HTML element or a quoted attribute."""
    return html.escape(str(value), quote=True)


# -- small pieces ----------------------------------------------------------------------------------------


def lines_label(line_start: int, line_end: int) -> str:
    """"line 5" or "lines 5–9"."""
    return f"line {line_start}" if line_start == line_end else f"lines {line_start}–{line_end}"


def message_html(text: str, kind: str = "info") -> str:
    """A one-paragraph message box; kind is "info", "warning" or "error"."""
    role = ' role="alert"' if kind == "error" else ""
    return f'<div class="ipt-msg ipt-msg-{esc(kind)}"{role}><p>{esc(text)}</p></div>'


def disclaimer_html(sources: int | None = None) -> str:
    """The note that is always on the page: excerpts for learning from `sources` sources, not medical advice."""
    return (f'<div class="ipt-disclaimer"><p><strong>About this page.</strong> {esc(with_count(DISCLAIMER, sources))}'
            "</p></div>")


# A phone number in the notice: groups of digits ("988", "116 123"), not part of a longer word or number.
_PHONE_RE = re.compile(r"(?<![\w.,])\d{2,4}(?: \d{2,4})*(?![\w])")


def phone_links_html(text: str) -> str:
    """Text escaped, with every phone number in it a `tel:` link (one tap calls it on a phone)."""
    out, pos = [], 0
    for m in _PHONE_RE.finditer(text):
        out.append(esc(text[pos:m.start()]))
        out.append(f'<a href="tel:{m.group().replace(" ", "")}">{esc(m.group())}</a>')
        pos = m.end()
    out.append(esc(text[pos:]))
    return "".join(out)


def privacy_html() -> str:
    """The footer line saying that questions are not stored."""
    return f'<p class="ipt-privacy">{esc(PRIVACY_NOTE)}</p>'


def notice_html(notice: str) -> str:
    """The crisis notice: an alert, first in the results, focusable so the page can move focus to it."""
    return (f'<div class="ipt-notice" role="alert" tabindex="-1"><p class="ipt-notice-title">Need help now?</p>'
            f"<p>{phone_links_html(notice)}</p></div>")


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


def cite_button_html(source_id: str, start: int, end: int, highlight: Span | dict, label: str,
                     css_class: str = "ipt-cite") -> str:
    """A button that opens a passage in the source view (the span and its best sentence travel as data)."""
    hl_start = int(highlight.get("start", start)) if highlight else start
    hl_end = int(highlight.get("end", start)) if highlight else start
    return (f'<button type="button" class="{css_class}" data-source="{esc(source_id)}" data-start="{int(start)}" '
            f'data-end="{int(end)}" data-hl-start="{hl_start}" data-hl-end="{hl_end}">{esc(label)}</button>')


# -- passage cards ---------------------------------------------------------------------------------------


def highlighted_text_html(text: str, start: int, highlight: Span | dict) -> str:
    """The passage text escaped, with its best-matching sentence (absolute offsets) wrapped in <mark>."""
    if not highlight:
        return esc(text)
    a = min(max(int(highlight["start"]) - start, 0), len(text))
    b = min(max(int(highlight["end"]) - start, a), len(text))
    if a == b:
        return esc(text)
    return f'{esc(text[:a])}<mark class="ipt-hl">{esc(text[a:b])}</mark>{esc(text[b:])}'


_LABELS = ("strong", "good", "partial")


def relevance_label(hit: Hit) -> str:
    """"strong", "good" or "partial": the record's own `label`, computed by the one rule from the score that
    orders the cards (qa/judge/outcome.py); a record without one is shown as the least it can be, "partial"."""
    return hit.label if hit.label in _LABELS else "partial"


def details_html(rows: list[tuple[str, str]], summary: str = "Details") -> str:
    """The technical facts (file, lines, characters, scores) folded behind a control: evaluators find them,
    learners are not asked to read them."""
    items = "".join(f"<dt>{esc(k)}</dt><dd>{esc(v)}</dd>" for k, v in rows)
    return (f'<details class="ipt-details"><summary>{esc(summary)}</summary>'
            f'<dl class="ipt-details-list">{items}</dl></details>')


def card_heading(hit: Hit) -> tuple[str, str]:
    """(heading, from-line): the section the passage is in, and the source it comes from."""
    if hit.section and hit.section != hit.title:
        return hit.section, hit.title
    return hit.title, ""


def card_html(hit: Hit) -> str:
    """One result: where the passage is from (section and source), how well it matches, the quoted passage
    with its highlight, and "Show in source"; file, lines and scores behind "Details"."""
    heading, source = card_heading(hit)
    from_line = f'<p class="ipt-from">From: {esc(source)}</p>' if source else ""
    also = ""
    if hit.also_in:
        items = "".join(
            "<li>" + cite_button_html(a.source_id, a.start, a.end, a.highlight,
                                      f"{a.title} ({a.section})" if a.section and a.section != a.title
                                      else a.title, "ipt-cite-inline")
            + "</li>" for a in hit.also_in)
        also = f'<div class="ipt-also">Also stated in:<ul>{items}</ul></div>'
    label = relevance_label(hit)
    rows = [("File", f"{hit.path}, {lines_label(hit.line_start, hit.line_end)}"),
            ("Characters", f"{int(hit.start)}–{int(hit.end)}"),
            ("Score", f"{hit.score:.2f} of 1 (1: first by keywords and by meaning, holding any kind of answer "
                      "asked for)"),
            ("Similarity", f"{hit.similarity:.2f} (cosine, question and passage)")]
    return (
        f'<article class="ipt-card" data-rank="{int(hit.rank)}">'
        f'<header class="ipt-card-head"><span class="ipt-rank" aria-hidden="true">{int(hit.rank)}</span>'
        f'<div class="ipt-card-titles"><h2 class="ipt-title"><span class="ipt-visually-hidden">Result '
        f"{int(hit.rank)}: </span>{esc(heading)}</h2>{from_line}</div>"
        f'<span class="ipt-rel ipt-rel-{label}">{esc(label)} match</span></header>'
        f'<blockquote class="ipt-passage">{highlighted_text_html(hit.text, hit.start, hit.highlight)}</blockquote>'
        f'<footer class="ipt-card-foot">'
        f'{cite_button_html(hit.source_id, hit.start, hit.end, hit.highlight, "Show in source")}'
        f"{details_html(rows)}{cite_block_html(getattr(hit, 'citation', None) or {})}</footer>{also}</article>"
    )


def abstention_html(answer: Answer, examples: tuple[str, ...] | list[str] = EXAMPLE_QUESTIONS,
                    sources: int | None = None) -> str:
    """Nothing in the sources answers: say so plainly and why, in words for a learner. Offer questions that
    work and what is covered, except under a crisis notice, where cheerful suggestions would be out of place."""
    not_english = looks_non_english(answer.question)
    why = with_count(WHY_NOT_ENGLISH if not_english else WHY_NOT_CLOSE, sources)
    tech = (f'<details class="ipt-details"><summary>Technical detail</summary><p>{esc(answer.reason)}</p>'
            "</details>" if answer.reason else "")
    parts = ['<div class="ipt-abstain">',
             '<p class="ipt-abstain-title">Nothing in the sources answers this question.</p>']
    if answer.reason in (NO_WORDS, NO_KNOWN_WORDS):  # nothing to search for: the reason is the help
        parts.append(f'<p class="ipt-unsearchable">{esc(answer.reason[0].upper() + answer.reason[1:])}.</p>')
    if not_english:
        parts.append('<p class="ipt-english">The sources are in English: please ask in English.</p>')
    if not answer.notice:
        parts.append(f"<p>{esc(COVERAGE)}</p><p>Questions the sources can answer:</p>"
                     f'<div class="ipt-examples">{example_buttons_html(tuple(examples))}</div>')
    parts.append(f'<details class="ipt-why"><summary>Why?</summary><p>{esc(why)}</p>{tech}</details></div>')
    return "".join(parts)


def warning_html(warning: str) -> str:
    """A warning from the library; a weak match is said in words, its figures folded behind "Details"."""
    if "similarity" in warning.lower() or "weak match" in warning.lower():
        return (f'<div class="ipt-msg ipt-msg-warning"><p>{esc(WEAK_MATCH)}</p>'
                f'<details class="ipt-details"><summary>Details</summary><p>{esc(warning)}</p></details></div>')
    return message_html(warning, "warning")


# A longer question is echoed folded: its start, and the rest one click further (a 2,000-character question
# filled a phone's screen in bold above the results).
ECHO_CHARS = 160


def asked_html(question: str) -> str:
    """"You asked: ..." (focusable: on a phone the page moves focus here after Ask, closing the keyboard)."""
    if len(question) <= ECHO_CHARS:
        return f'<p class="ipt-asked" tabindex="-1">You asked: <q dir="auto">{esc(question)}</q></p>'
    cut = question[:ECHO_CHARS].rsplit(" ", 1)[0] if " " in question[:ECHO_CHARS] else question[:ECHO_CHARS]
    return (f'<div class="ipt-asked ipt-asked-long" tabindex="-1">You asked: <q dir="auto">{esc(cut)}…</q>'
            f'<details class="ipt-details"><summary>Show the whole question ({len(question):,} characters)'
            f'</summary><p dir="auto" class="ipt-asked-all">{esc(question)}</p></details></div>')


def answer_html(answer: Answer, suggestions: list[str] | None = None, sources: int | None = None) -> str:
    """The whole result area for one answer: question, notes, crisis notice (first), then cards or abstention.
    `suggestions` are questions from the sources (qa/present/suggest.py): under the cards, or in a refusal
    instead of the fixed examples; never under a crisis notice. `sources`: how many the index has."""
    suggestions = [] if answer.notice else list(suggestions or [])
    parts = []
    if answer.notice:
        parts.append(notice_html(answer.notice))
    share = "" if answer.notice else share_html(answer.question)  # no link to a crisis notice
    parts.append(f'<div class="ipt-asked-row">{asked_html(answer.question)}{share}</div>')
    parts.extend(warning_html(w) for w in answer.warnings)
    if answer.abstained or not answer.passages:
        parts.append(abstention_html(answer, suggestions or EXAMPLE_QUESTIONS, sources))
    else:
        if looks_non_english(answer.question):
            parts.append(message_html(NOT_ENGLISH_NOTE, "warning"))
        n = len(answer.passages)
        parts.append(f'<p class="ipt-summary">{n} passage{"s" if n != 1 else ""}, best match first, each quoted '
                     "word for word; the highlight marks the sentence closest to your question.</p>")
        parts.extend(card_html(h) for h in answer.passages)
        parts.append(suggestions_html(suggestions))
    return f'<div class="ipt-results">{"".join(parts)}</div>'



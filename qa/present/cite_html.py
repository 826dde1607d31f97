"""Markup for two parts of a card and of the results: "Cite this passage" (APA, MLA, footnote, each with a copy
button that works by keyboard and touch) and "The sources also answer" (questions as buttons that ask them).
Every string is escaped; the buttons carry data-* attributes read by static/results.js, never handlers."""

from __future__ import annotations

import html

FORMATS = (("apa", "APA 7"), ("mla", "MLA 9"), ("footnote", "Footnote"))


def _esc(value: object) -> str:
    return html.escape(str(value), quote=True)


def cite_block_html(citation: dict) -> str:
    """The folded "Cite this passage" control of a card ("" when the record carries no citation)."""
    if not citation:
        return ""
    refs = "".join(
        f'<div class="ipt-ref"><p class="ipt-ref-label">{_esc(label)}</p>'
        f'<p class="ipt-ref-text">{_esc(citation[key])}</p>'
        f'<button type="button" class="ipt-copy" data-copy="{key}">Copy {_esc(label.split()[0])}</button></div>'
        for key, label in FORMATS if citation.get(key))
    in_text = (f'<p class="ipt-ref-note">In the text: {_esc(citation["in_text"])}</p>'
               if citation.get("in_text") else "")
    return (f'<details class="ipt-cite-this"><summary>Cite this passage</summary>{refs}{in_text}'
            '<p class="ipt-copied" role="status" aria-live="polite"></p></details>')


def share_html(question: str) -> str:
    """"Copy link" beside "You asked": static/results.js copies this page's address with `?q=` and the question,
    which, opened, asks it again (a link to send to a study group; the question is then in the address)."""
    return (f'<div class="ipt-share"><button type="button" class="ipt-copy" data-link="{_esc(question)}">Copy link'
            '</button><span class="ipt-copied" role="status" aria-live="polite"></span></div>')


def suggestions_html(questions: list[str], title: str = "The sources also answer") -> str:
    """Questions taken from the sources, as buttons that ask them ("" when there are none)."""
    if not questions:
        return ""
    buttons = "".join(f'<button type="button" class="ipt-example ipt-next" data-question="{_esc(q)}">{_esc(q)}'
                      "</button>" for q in questions)
    return (f'<nav class="ipt-suggest" aria-label="{_esc(title)}"><p class="ipt-suggest-title">{_esc(title)}:</p>'
            f'<div class="ipt-examples">{buttons}</div></nav>')

"""The page's "What can I ask?" list: the questions the sources answer (qa/present/suggest.menu, from the
question bank of the build being served), by source and section, each a button that asks it. Collapsed
(`<details>`: keyboard and screen-reader friendly without a script), one column of wrapping buttons on a phone."""

from __future__ import annotations

from qa.present.page import esc, example_buttons_html

MenuGroups = list[tuple[str, list[tuple[str, list[str]]]]]


def ask_menu_html(groups: MenuGroups) -> str:
    """The collapsed list; empty when the corpus has no questions to offer."""
    total = sum(len(qs) for _, sections in groups for _, qs in sections)
    if not total:
        return ""
    parts = ['<details class="ipt-menu"><summary>What can I ask? '
             f'<span class="ipt-menu-count">{total} questions the sources answer</span></summary>',
             '<p class="ipt-menu-intro">Questions the sources answer, by source and section. Choose one to ask '
             "it.</p>"]
    for title, sections in groups:
        n = sum(len(qs) for _, qs in sections)
        parts.append(f'<details class="ipt-menu-source"><summary>{esc(title)} '
                     f'<span class="ipt-menu-count">({n})</span></summary>')
        for section, questions in sections:
            parts.append(f'<div class="ipt-menu-section"><p class="ipt-menu-heading">{esc(section)}</p>'
                         f'<div class="ipt-examples" role="group" aria-label="{esc(section)}">'
                         f"{example_buttons_html(tuple(questions))}</div></div>")
        parts.append("</details>")
    parts.append("</details>")
    return "".join(parts)


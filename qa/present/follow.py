"""An open page follows the build being served (issue 30, item 13): after `ipt-qa add` or `remove` and a rebuild,
its "Sources to search" and its "What can I ask?" list change without a reload.

The page keeps what it shows in a hidden field (`PageFollower.seen`: the source choices and the build of its
menu), so the server holds nothing per page. The page asks when it opens, after each answer and when the
options are opened (`PageFollower.follow`); nothing is sent back while its lists are current."""

from __future__ import annotations

import json

import gradio as gr

from qa.present import suggest
from qa.present.askmenu import ask_menu_html


def source_choices(searcher) -> list[tuple[str, str]]:
    """(title, id) of each source of the build answering now, as the checkbox group lists them."""
    return [(info.title, sid) for sid, info in searcher.index.sources.items()]


class PageFollower:
    def __init__(self, searcher):
        self.searcher = searcher
        self._menu: tuple[str, str] | None = None  # (build, its menu): made once per build, not once per page

    def build(self) -> str:
        return str(self.searcher.index.directory)

    def seen(self) -> str:
        """What a page opened now shows: its choices and the build its menu comes from."""
        return json.dumps({"choices": source_choices(self.searcher), "build": self.build()})

    def menu_html(self, build: str) -> str:
        if self._menu is None or self._menu[0] != build:
            self._menu = (build, ask_menu_html(suggest.menu(self.searcher.index)))
        return self._menu[1]

    def follow(self, chosen: list[str] | None, seen: str):
        """Updates for (sources, menu, seen): each list anew if the build changed since the page got it, else
        left as it is. The learner's ticks are kept; a source new to the page is ticked (searched) too."""
        try:
            was = json.loads(seen or "{}")
        except ValueError:
            was = {}
        now = source_choices(self.searcher)
        build = self.build()
        old = [(str(title), str(sid)) for title, sid in was.get("choices") or []]
        if old == now and was.get("build") == build:
            return gr.skip(), gr.skip(), gr.skip()
        sources = gr.skip()
        if old != now:
            known = {sid for _, sid in old}
            ticked = set(chosen or [])
            sources = gr.update(choices=now, value=[sid for _, sid in now if sid in ticked or sid not in known])
        menu = gr.skip()
        if was.get("build") != build:
            menu = self.menu_html(build)
        return sources, menu, json.dumps({"choices": now, "build": build})

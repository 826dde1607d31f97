"""The page's stylesheet and scripts, kept as files in qa/present/static/ (read once, at start)."""

from __future__ import annotations

from functools import cache
from importlib import resources


@cache
def asset(name: str) -> str:
    """The text of static/`name`; a script's leading `//` comment lines (notes for its readers) are left out,
    since Gradio runs an event's script as a function expression."""
    text = resources.files("qa.present").joinpath("static", name).read_text(encoding="utf-8")
    if name.endswith(".js"):
        lines = text.splitlines(keepends=True)
        while lines and lines[0].lstrip().startswith("//"):
            lines.pop(0)
        text = "".join(lines)
    return text

"""Where the commands find what they work on: the project of the working directory, not the installed package.

A project is a folder holding `corpus/sources.toml`; the commands look for one in the working directory and
its parents (as git looks for `.git`), so `ipt-qa eval` run inside a clone reads that clone's gold set and
writes that clone's report, whichever copy of the package is installed. Outside any project the defaults
name the working directory's `corpus/`, `index/` and `eval/`, and the command that needs one says it is
missing. `IPT_QA_CORPUS` and `IPT_QA_INDEX` override the corpus and index folders (the replicas use them).
"""

from __future__ import annotations

import os
from pathlib import Path

MARKER = Path("corpus") / "sources.toml"


def project_dir(start: str | os.PathLike | None = None) -> Path:
    """The nearest folder at or above `start` (the working directory) that holds corpus/sources.toml; the
    working directory itself when none does."""
    here = Path(start or Path.cwd()).resolve()
    for folder in (here, *here.parents):
        if (folder / MARKER).is_file():
            return folder
    return here


def default_corpus() -> Path:
    return Path(os.environ.get("IPT_QA_CORPUS") or project_dir() / "corpus")


def default_index() -> Path:
    return Path(os.environ.get("IPT_QA_INDEX") or project_dir() / "index")


def default_gold() -> Path:
    return project_dir() / "eval" / "gold.jsonl"


def default_report() -> Path:
    return project_dir() / "eval" / "report.md"

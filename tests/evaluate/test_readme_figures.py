"""README's figure tables are the last evaluation's (eval/figures.json, written by `ipt-qa eval`), rendered by
scripts/readme_figures.py: a figure changed by hand, or a run not carried into README, fails here."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from qa.evaluate.figures import render, summary

ROOT = Path(__file__).resolve().parents[2]
FIGURES = json.loads((ROOT / "eval" / "figures.json").read_text(encoding="utf-8"))


def test_readme_tables_equal_the_last_saved_evaluation():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert render(readme, FIGURES) == readme, "run: python scripts/readme_figures.py"


def test_the_saved_figures_cover_every_held_out_split_and_mode():
    assert set(FIGURES) == {"bm25", "dense", "hybrid"}
    assert {"test", "test2", "test3", "dev"} <= set(FIGURES["hybrid"])
    assert all(0.0 <= v <= 1.0 for s in FIGURES["hybrid"].values() for k, v in s.items()
               if k not in ("answerable", "off_topic"))


def test_render_rewrites_only_the_marked_blocks():
    text = "intro\n<!-- figures:retrieval -->\nold\n<!-- /figures:retrieval -->\nmiddle\n" \
           "<!-- figures:outcomes -->\n<!-- /figures:outcomes -->\nend\n"
    fig = {"hybrid": {"test": {"answerable": 2, "off_topic": 1, "Recall@1": 0.5, "Recall@5": 1.0, "mrr@10": 0.75,
                               "ans_answered": 0.5}}}
    out = render(text, fig)
    assert "old" not in out and out.startswith("intro\n") and "\nmiddle\n" in out and out.endswith("end\n")
    assert "| **test, hybrid** | **0.500** | **1.000** | **0.750** | – | – |" in out
    assert "| test (2 + 1) | 0.500 | – |" in out
    assert render(out, fig) == out
    with pytest.raises(ValueError, match="figures:outcomes"):
        render("<!-- figures:retrieval --><!-- /figures:retrieval -->", fig)


def test_summary_keeps_only_readme_figures():
    modes = {"hybrid": {"test": {"Recall@1": 0.5, "ci": {"Recall@1": [0, 1]}, "answerable": 3}, "all": {}}}
    assert summary(modes) == {"hybrid": {"test": {"Recall@1": 0.5, "answerable": 3}}}


def test_check_mode_of_the_script_agrees():
    proc = subprocess.run([sys.executable, str(ROOT / "scripts" / "readme_figures.py"), "--check"],
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr

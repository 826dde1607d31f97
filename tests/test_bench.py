"""The benchmark package itself: runnable as scripts (`python bench/x.py`), not only as `python -m bench`."""

from __future__ import annotations

import sys
from pathlib import Path

BENCH = Path(__file__).resolve().parent.parent / "bench"


def test_no_bench_module_shadows_the_standard_library():
    # `python bench/build_bench.py` puts bench/ first on sys.path: a bench/profile.py then replaced the
    # standard library's `profile`, and torch's import of cProfile crashed the script.
    clashes = sorted(p.stem for p in BENCH.glob("*.py") if p.stem in sys.stdlib_module_names)
    assert clashes == []


def test_latency_section_runs_through_its_stage_breakdown(tiny_searcher, monkeypatch):
    # The stage breakdown called Searcher._answer with one vector after _answer came to take the pair
    # (ranking, judging) from question_vectors: `python -m bench --only 1` crashed after its first figures.
    sys.path.insert(0, str(BENCH.parent))
    from bench import latency
    from bench.common import Report

    questions = ["Who created IPT?", "how long does it last", "what is a role dispute"] * 12
    monkeypatch.setattr(latency, "gold_questions", lambda: questions)
    embedder = tiny_searcher.embedder
    monkeypatch.setattr(embedder, "model", embedder, raising=False)  # the bare model call is encode itself
    report = Report()
    latency.run(report, tiny_searcher, rounds=1)
    names = [f.name for f in report.figures]
    assert any(n.startswith("stage: candidates()") for n in names), names
    assert any(n.startswith("stage: _answer()") for n in names), names

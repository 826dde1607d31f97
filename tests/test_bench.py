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

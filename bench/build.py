"""4. Build: full against incremental, by running bench/build_bench.py (owned by the index's author).

Its `main` prints medians; to put its raw timings into this run's table, the lists it summarises are
captured by wrapping its `_stats` helper (it is called with the full-build times, then the incremental
ones). If build_bench.py is absent or its shape changed, its printed lines are kept as they are."""

from __future__ import annotations

import contextlib
import importlib
import io

from .common import Figure, Report

SECTION = "4"


def run(report: Report, repeats: int = 3) -> dict:
    try:
        bb = importlib.import_module("bench.build_bench")
    except ImportError as e:
        report.note(SECTION, f"bench/build_bench.py not available ({e}); build figures skipped")
        return {}
    captured: list[list[float]] = []
    original = getattr(bb, "_stats", None)
    if original is not None:
        def spy(xs):
            captured.append(list(xs))
            return original(xs)

        bb._stats = spy
    out = io.StringIO()
    try:
        with contextlib.redirect_stdout(out):
            bb.main(["--repeats", str(repeats)])
    finally:
        if original is not None:
            bb._stats = original
    text = out.getvalue()
    for line in text.splitlines():
        report.note(SECTION, f"build_bench: {line}")
    if len(captured) >= 2:
        full, inc = captured[0], captured[1]
        report.add(Figure(SECTION, "incremental build after editing one source (build_bench.py)", "s", inc,
                          "full build (--full, re-embed everything)", full,
                          note="timed by bench/build_bench.py: full builds first, then incremental ones"))
    return {"output": text, "full_s": captured[0] if captured else None,
            "incremental_s": captured[1] if len(captured) > 1 else None}

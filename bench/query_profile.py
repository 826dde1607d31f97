"""Profile the query path: `python -m bench.query_profile [--cached] [--rounds N] [--pyinstrument] [--index DIR]`.

cProfile (always available) over `Searcher.ask` for the gold questions, with the question cache off
(default: model call included) or on (`--cached`: the pipeline alone). Prints the functions by own time
and by cumulative time, per query. `--pyinstrument` uses pyinstrument instead when it is installed (it is
not a dependency of the project or of the benchmark)."""

from __future__ import annotations

import argparse
import cProfile
import pstats
import sys

from .common import ROOT


def profile_asks(searcher, questions: list[str], rounds: int = 3) -> pstats.Stats:
    for q in questions[:10]:
        searcher.ask(q)
    pr = cProfile.Profile()
    pr.enable()
    for _ in range(rounds):
        for q in questions:
            searcher.ask(q)
    pr.disable()
    return pstats.Stats(pr)


def summary(stats: pstats.Stats, n_queries: int, top: int = 15) -> str:
    """Top functions by own time and by cumulative time, in ms per query."""
    rows = []
    for (file, line, fn), (_, nc, tt, ct, _) in stats.stats.items():
        short = file.split("site-packages/")[-1].replace(str(sys.prefix), "")
        if f"{ROOT}/" in short:
            short = short.split(f"{ROOT}/")[-1]
        rows.append((f"{short}:{line}({fn})", nc / n_queries, tt * 1e3 / n_queries, ct * 1e3 / n_queries))
    total = sum(r[2] for r in rows)
    out = [f"total {total:.2f} ms per query under cProfile ({n_queries} queries)", "",
           "by own time:", f"{'ms/query':>9} {'calls/q':>8}  function"]
    for name, calls, tt, _ in sorted(rows, key=lambda r: -r[2])[:top]:
        out.append(f"{tt:9.3f} {calls:8.1f}  {name}")
    out += ["", "by cumulative time (qa/ only):", f"{'ms/query':>9} {'calls/q':>8}  function"]
    for name, calls, _, ct in sorted((r for r in rows if r[0].startswith("qa/")), key=lambda r: -r[3])[:top]:
        out.append(f"{ct:9.3f} {calls:8.1f}  {name}")
    return "\n".join(out)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--cached", action="store_true", help="question vectors from the cache (pipeline only)")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--top", type=int, default=20)
    ap.add_argument("--pyinstrument", action="store_true")
    ap.add_argument("--index", default=None, help="index directory (default: the project's)")
    ap.add_argument("--corpus", default=None)
    args = ap.parse_args(argv)

    from qa import open_searcher
    from qa.search import Searcher

    from .common import gold_questions

    base = open_searcher(args.index, args.corpus, rebuild="never")
    searcher = base if args.cached else Searcher(base.index, base.embedder, base.settings, cache_size=0)
    qs = gold_questions()
    if args.cached:
        for q in qs:
            searcher.ask(q)
    if args.pyinstrument:
        try:
            from pyinstrument import Profiler
        except ImportError:
            print("pyinstrument is not installed (pip install pyinstrument); using cProfile", file=sys.stderr)
        else:
            p = Profiler(interval=0.0005)
            p.start()
            for _ in range(args.rounds):
                for q in qs:
                    searcher.ask(q)
            p.stop()
            print(p.output_text(unicode=False, color=False, show_all=False))
            return 0
    stats = profile_asks(searcher, qs, args.rounds)
    print(summary(stats, args.rounds * len(qs), args.top))
    return 0


if __name__ == "__main__":
    sys.exit(main())

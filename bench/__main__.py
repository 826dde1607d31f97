"""`python -m bench`: the performance figures of the IPT passage assistant, each next to its baseline.

    python -m bench [--only 1,2,3,4,5] [--scale 10000] [--json out.json] [--profile]

Sections (6, the served app's memory, is measured inside 3):
  1  query latency in process: Searcher.ask vs the bare model.encode of the same question
  2  web API: gradio_client /ask vs /echo on the same in-process server; 32 concurrent clients
  3  start-up of fresh processes (CLI answer, page serving) vs loading the model alone; 6 app memory
  4  build: full vs incremental (bench/build_bench.py)
  5  scale, before/after issue 14 (bench/perf2.py): spelling repair at 30k words, the query path at 10k and
     28k tiled passages, HNSW recall@50 on real vectors, a real build of 10 MB of files
  5x the earlier scale step (bench/scale.py): a 10k-passage synthetic corpus embedded with the model (its
     vectors cached between runs, bench/vector_cache.py; the first run embeds 37k texts, 10-30 minutes or
     more) and --scale 100000 tiling; not in the default run

Results: bench/RESULTS.md.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys
import time
import traceback

os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
os.environ.setdefault("DISABLE_TQDM", "1")


def _open_searcher(report):
    from qa.errors import IndexMissing, IndexStale
    from qa.serve.service import open_searcher

    try:
        return open_searcher(rebuild="never")
    except (IndexMissing, IndexStale) as e:
        report.note("setup", f"the project's index was missing or stale ({e}); built it before measuring")
        return open_searcher(rebuild="auto")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m bench", description=__doc__.splitlines()[0])
    ap.add_argument("--only", default="1,2,3,4,5", help="comma-separated sections to run (default: all)")
    ap.add_argument("--scale", type=int, default=10_000, help="passages of the scale step (default: 10000)")
    ap.add_argument("--scale-embed", type=int, default=10_000,
                    help="at most this many synthetic passages are really embedded; above, the index is tiled")
    ap.add_argument("--build-sample", type=int, default=200,
                    help="passages of the fresh synthetic corpus whose full build gives the model's rate")
    ap.add_argument("--no-cache", action="store_true",
                    help="embed the scale corpus with the model instead of taking its vectors from the bench cache")
    ap.add_argument("--rounds", type=int, default=1, help="rounds over the 154 gold questions in section 1")
    ap.add_argument("--startup-repeats", type=int, default=3)
    ap.add_argument("--build-repeats", type=int, default=3)
    ap.add_argument("--clients", type=int, default=32)
    ap.add_argument("--requests", type=int, default=320, help="requests per concurrent round (all clients)")
    ap.add_argument("--json", default=None, help="also write every observation to this JSON file")
    ap.add_argument("--profile", action="store_true", help="end with a cProfile summary of the query path")
    args = ap.parse_args(argv)
    only = {s.strip() for s in args.only.split(",") if s.strip()}

    from .common import Report, loadavg, machine_info

    report = Report()
    t0 = time.perf_counter()
    m = machine_info()
    print(f"# python -m bench {' '.join(argv if argv is not None else sys.argv[1:])}".rstrip())
    print(f"date: {time.strftime('%Y-%m-%d %H:%M:%S %Z')}")
    print(f"machine: {m['nproc']} CPUs ({m['cpu']}), {m['ram_gib']} GiB RAM, Python {m['python']}, "
          f"torch threads {m['torch_threads']}, load average {m['loadavg_at_start']}")
    print(Report.HEADER, flush=True)

    searcher = _open_searcher(report)
    def section(module: str):
        mod = importlib.import_module(f"bench.{module}")
        return mod if module == "scale" else mod.run

    sections = [
        ("1", lambda: section("latency")(report, searcher, rounds=args.rounds)),
        ("2", lambda: section("web")(report, searcher, n_clients=args.clients, total=args.requests)),
        ("3", lambda: section("startup")(report, repeats=args.startup_repeats)),
        ("4", lambda: section("build")(report, repeats=args.build_repeats)),
        ("5", lambda: section("perf2")(report, searcher, build_sample=args.build_sample)),
        ("5x", lambda: section("scale").run_synthetic_10k(report, searcher, scale=args.scale,
                                                           embed_max=args.scale_embed, build_sample=500,
                                                           use_cache=not args.no_cache)),
        ("7", lambda: section("replicas")(report, searcher, n_clients=args.clients)),  # python -m bench --only 7
    ]
    extra, failed = {}, []
    for name, fn in sections:
        if name not in only:
            continue
        t = time.perf_counter()
        try:
            out = fn()
            extra[f"section_{name}"] = out if isinstance(out, dict) else None
        except Exception as e:  # noqa: BLE001 - one broken section must not hide the others' figures
            failed.append(name)
            report.note(name, f"FAILED: {e!r}")
            traceback.print_exc()
        report.note(name, f"section took {time.perf_counter() - t:.0f} s; load average now {loadavg()}")

    if args.profile:
        from qa.search import Searcher

        from .common import gold_questions
        from .query_profile import profile_asks, summary

        s0 = Searcher(searcher.index, searcher.embedder, searcher.settings, cache_size=0)
        qs = gold_questions()
        print("\n## cProfile of ask(q), question cache off\n")
        print(summary(profile_asks(s0, qs, rounds=1), len(qs)))

    print(f"\n## all figures ({time.perf_counter() - t0:.0f} s in all)\n")
    print(report.table())
    print("\nnotes:")
    for where, text in report.notes:
        print(f"- [{where}] {text}")
    missed = [f for f in report.figures if f.met is False]
    print(f"\ntargets: {sum(f.met is True for f in report.figures)} met, {len(missed)} missed"
          + "".join(f"\n  missed: [{f.section}] {f.name}: {f.ratio:.2f}x (target {f.target})" for f in missed))
    if args.json:
        from pathlib import Path

        report.dump(Path(args.json), {"argv": argv if argv is not None else sys.argv[1:], "sections": extra})
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())

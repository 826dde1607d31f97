"""`python -m bench`: the performance figures of the IPT passage assistant, each next to its baseline.

    python -m bench [--only 1,2,...|all] [--json out.json] [--profile] [options of the sections]

Sections, by topic, one module each (* = in the default run):
  1* latency   per question: Searcher.ask vs the bare model.encode of the same question; cached, never-seen
               words, and the stages of one ask
  2* batching  ask_many(32) vs model.encode(32) and vs 32 single asks; AskBatcher with concurrent callers,
               batching as the app does vs each question on its own
  3* build     an incremental rebuild after editing one source vs a full build
  4* startup   fresh processes: CLI to its first answer and the page served, vs loading the model alone;
               the served app's memory
  5* web       the page served in process: /ask vs /echo with one client and with 32 concurrent clients
  6  replicas  nginx in front of 1 and of 2 replicas vs one replica direct; what health checks cost (nginx)
  7* scale     the query path on the project's index tiled to 10k and 28k passages; `--scale-corpus N` adds a
               real build of N synthetic passages with the model's vectors cached between runs (the first
               run embeds them: 10-30 minutes for 10,000 on 2 cores)
  8* onnx      the served embedder (ONNX Runtime) vs today's torch path: one question, 32, a build's batch of
               64 passages; the cosine between their vectors

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

# number -> (module in bench/, in the default run)
SECTIONS: dict[str, tuple[str, bool]] = {
    "1": ("latency", True),
    "2": ("batching", True),
    "3": ("build", True),
    "4": ("startup", True),
    "5": ("web", True),
    "6": ("replicas", False),
    "7": ("scale", True),
    "8": ("onnx", True),
}
DEFAULT = ",".join(n for n, (_, on) in SECTIONS.items() if on)


def parse_only(text: str) -> list[str]:
    """`--only`: section numbers separated by commas, or `all`; in the order of SECTIONS."""
    wanted = {s.strip() for s in text.split(",") if s.strip()}
    if wanted == {"all"}:
        return list(SECTIONS)
    unknown = sorted(wanted - set(SECTIONS))
    if unknown or not wanted:
        raise argparse.ArgumentTypeError(f"unknown section(s) {', '.join(unknown) or repr(text)}; choose from "
                                         f"{', '.join(SECTIONS)} or all")
    return [n for n in SECTIONS if n in wanted]


def _sizes(text: str) -> tuple[int, ...]:
    try:
        sizes = tuple(int(s) for s in text.split(",") if s.strip())
    except ValueError:
        sizes = ()
    if not sizes or min(sizes) < 1:
        raise argparse.ArgumentTypeError(f"expected passage counts separated by commas, e.g. 10000,28000; got {text!r}")
    return sizes


def parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(prog="python -m bench", description=__doc__.splitlines()[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter,
                                 epilog=__doc__[__doc__.index("Sections"):])
    ap.add_argument("--only", type=parse_only, default=parse_only(DEFAULT),
                    help=f"sections to run, e.g. 1,3 or all (default: {DEFAULT})")
    ap.add_argument("--rounds", type=int, default=1, help="rounds over the gold questions in sections 1 and 2")
    ap.add_argument("--build-repeats", type=int, default=3, help="full and incremental builds each (section 3)")
    ap.add_argument("--startup-repeats", type=int, default=3, help="fresh processes of each kind (section 4)")
    ap.add_argument("--clients", type=int, default=32, help="concurrent clients (sections 5 and 6)")
    ap.add_argument("--requests", type=int, default=320, help="requests per concurrent round, all clients (5)")
    ap.add_argument("--scale-sizes", type=_sizes, default=(10_000, 28_000),
                    help="passages the index is tiled to (section 7; default 10000,28000)")
    ap.add_argument("--scale-corpus", type=int, default=0, metavar="N",
                    help="section 7 also builds N synthetic passages with cached model vectors (default: off)")
    ap.add_argument("--no-cache", action="store_true",
                    help="--scale-corpus embeds every text with the model instead of taking the bench's cache")
    ap.add_argument("--json", default=None, help="also write every observation to this JSON file")
    ap.add_argument("--profile", action="store_true", help="end with a cProfile summary of the query path")
    return ap


def options(number: str, args: argparse.Namespace) -> dict:
    """The keyword arguments of section `number`'s `run(report, searcher, **options)`."""
    return {"1": {"rounds": args.rounds},
            "2": {"rounds": args.rounds},
            "3": {"repeats": args.build_repeats},
            "4": {"repeats": args.startup_repeats},
            "5": {"n_clients": args.clients, "total": args.requests},
            "6": {"n_clients": args.clients},
            "8": {"rounds": args.rounds},
            "7": {"sizes": args.scale_sizes, "corpus_passages": args.scale_corpus, "use_cache": not args.no_cache},
            }[number]


def _open_searcher(report):
    from qa import open_searcher
    from qa.errors import IndexMissing, IndexStale

    try:
        return open_searcher(rebuild="never")
    except (IndexMissing, IndexStale) as e:
        report.note("setup", f"the project's index was missing or stale ({e}); built it before measuring")
        return open_searcher(rebuild="auto")


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)

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
    extra, failed = {}, []
    for number in args.only:
        t = time.perf_counter()
        try:
            mod = importlib.import_module(f"bench.{SECTIONS[number][0]}")
            out = mod.run(report, searcher, **options(number, args))
            extra[f"section_{number}"] = out if isinstance(out, dict) else None
        except Exception as e:  # noqa: BLE001 - one broken section must not hide the others' figures
            failed.append(number)
            report.note(number, f"FAILED: {e!r}")
            traceback.print_exc()
        report.note(number, f"section took {time.perf_counter() - t:.0f} s; load average now {loadavg()}")

    if args.profile:
        from .common import gold_questions, uncached_searcher
        from .query_profile import profile_asks, summary

        qs = gold_questions()
        print("\n## cProfile of ask(q), question cache off\n")
        print(summary(profile_asks(uncached_searcher(searcher), qs, rounds=1), len(qs)))

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

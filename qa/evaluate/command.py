"""`ipt-qa eval`: check the gold set, score every mode (or another system's run file), print the tables, write
the report; save the run, compare with a saved one, export for BEIR."""

from __future__ import annotations

import json
import sys
from pathlib import Path

from qa.errors import GoldError
from qa.evaluate.bankcheck import bank_problems
from qa.evaluate.beir import corpus_passages, export_beir
from qa.evaluate.figures import write_figures
from qa.evaluate.gold import HELD_OUT, SPLITS, load_gold
from qa.evaluate.goldcheck import broken_rows, gold_warnings
from qa.evaluate.report import INTERVAL_NOTE, comparison_table, table, write_report
from qa.evaluate.runfile import score_run_file
from qa.evaluate.saved import baseline_lines, check_baseline_dir, compare_with_baseline, save_run
from qa.evaluate.scoring import MODES, evaluate
from qa.evaluate.stats import BOOTSTRAP_RESAMPLES, BOOTSTRAP_SEED
from qa.ingest.corpus import load_corpus
from qa.live import open_searcher
from qa.paths import default_gold, default_report


def _source_files(corpus_dir) -> dict[str, str]:
    """File name and citation path of every source -> its id (a run may name passages by file)."""
    out = {}
    for s in load_corpus(corpus_dir):
        out[s.path.name] = out[s.display_path] = out[str(s.path)] = s.id
    return out


def _print_tables(results: dict, splits: list[str], interval: bool = True) -> None:
    for sp in splits:
        print(f"\n{sp} ({'tuned on' if sp == 'dev' else 'held out' if sp in HELD_OUT else 'every split'}):")
        print(table(results, sp, interval=interval))


def _json_figures(results: dict, modes) -> dict:
    return {m: results["modes"][m] for m in modes}


def run_eval_command(args) -> int:
    """`ipt-qa eval`: check the gold set, score every mode (or a run file), print the tables with their
    intervals, write the report; optionally save the run, compare with a saved one, export for BEIR.
    Exit 1 when gold rows had to be left out (they are named), 2 for bad usage."""
    if args.run and (args.baseline or args.save_run or args.export_beir):
        raise GoldError("--run scores a file of another system; it does not combine with --baseline, "
                        "--save-run or --export-beir")
    if args.report is not None and str(args.report) != "-":
        where = Path(args.report)
        if where.is_dir():
            raise GoldError(f"--report {where}: is a directory; give the report's file name, "
                            f"e.g. {where / 'report.md'}")
        if not where.parent.is_dir():
            raise GoldError(f"--report {where}: no directory {where.parent}; create it or choose another place")
    gold_path = Path(args.gold or default_gold())
    questions = load_gold(gold_path)
    texts = {s.id: s.text for s in load_corpus(args.corpus)}
    broken = broken_rows(questions, texts)
    warnings = gold_warnings(questions, texts, corpus_passages(args.corpus)[1])
    for msgs in broken.values():
        for m in msgs:
            print(f"ipt-qa: gold row {m}", file=sys.stderr)
    if broken:
        print(f"ipt-qa: {gold_path}: {len(broken)} gold row(s) left out (quote not in its source); "
              f"{'checked' if args.check else 'scoring'} the other {len(questions) - len(broken)}", file=sys.stderr)
    if args.check:
        for w in warnings:
            print(f"warning: {w}")
        print(f"{gold_path}: {len(questions)} rows, {len(broken)} broken, {len(warnings)} warning(s)")
        bank_errors, bank_rows = bank_problems(args.corpus, texts, [q.question for q in questions])
        for b in bank_errors:
            print(f"error: question bank {b}")
        print(f"question banks of {args.corpus}: {bank_rows} usable rows, {len(bank_errors)} problem(s)")
        return 1 if broken or bank_errors else 0
    if warnings:
        print(f"ipt-qa: note: {len(warnings)} gold warning(s) (weak rows); `ipt-qa eval --check` lists them",
              file=sys.stderr)
    skipped = [m for msgs in broken.values() for m in msgs]
    questions = [q for q in questions if q.id not in broken]
    status = 1 if broken else 0
    modes = tuple(dict.fromkeys(args.modes or MODES))
    present = [sp for sp in SPLITS if any(q.split == sp for q in questions)]
    splits = [args.split] if args.split else [sp for sp in (*HELD_OUT, "dev") if sp in present]

    if args.export_beir:
        counts = export_beir(args.export_beir, questions, texts, args.corpus)
        print(f"BEIR files written to {args.export_beir}: " + ", ".join(f"{v} {k}" for k, v in counts.items()))
        return status
    if args.run:
        results = score_run_file(args.run, questions, texts, _source_files(args.corpus), name=Path(args.run).stem)
        info = results["run"]
        facts = (f"{info['records']} records, {info['passages']} passages, passage length mean "
                 f"{info['passage_chars']['mean']:.0f} / max {info['passage_chars']['max']} characters")
        if info["missing"]:
            print(f"ipt-qa: note: {len(info['missing'])} gold question(s) have no record in {args.run}; "
                  "scored as answered with nothing", file=sys.stderr)
        if info["unlocated"]:
            print(f"ipt-qa: note: {info['unlocated']} passage text(s) not found in any source; counted as "
                  "not acceptable", file=sys.stderr)
        if args.json:
            print(json.dumps({"gold": str(gold_path), "run": info, "skipped": skipped,
                              "modes": results["modes"]}, indent=1))
        else:
            print(f"{args.run}: {facts}")
            _print_tables(results, splits)
        if args.report is not None and str(args.report) != "-":
            lines = ["# Scored run", "", f"Run file `{args.run}`: {facts}. Longer passages make recall easier. "
                     "Only figures that do not depend on the segmentation are given. " + INTERVAL_NOTE, ""]
            for sp in [*splits, "all"]:
                lines += [f"## {sp}", "", table(results, sp), ""]
            Path(args.report).write_text("\n".join(lines), encoding="utf-8")
        return status

    if args.baseline:
        check_baseline_dir(args.baseline, modes)  # before the model is loaded: a typo fails at once
    if args.save_run and Path(args.save_run).exists() and not Path(args.save_run).is_dir():
        raise GoldError(f"{args.save_run}: exists and is not a directory; pass --save-run with a directory")
    searcher = open_searcher(args.index, args.corpus)
    results = evaluate(searcher, questions, texts, modes=modes)
    cmp = None
    if args.baseline:
        cmp = compare_with_baseline(args.baseline, results, questions, texts, _source_files(args.corpus))
    if args.save_run:
        written = save_run(args.save_run, results, questions, searcher, gold_path)
        if not args.json:
            print(f"run saved to {args.save_run} ({len(written)} files)")
    if args.json:
        out = {"gold": str(gold_path), "questions": len(questions), "skipped": skipped,
               "bootstrap": {"resamples": BOOTSTRAP_RESAMPLES, "seed": BOOTSTRAP_SEED, "confidence": 0.95},
               "modes": _json_figures(results, modes), "comparisons": results["comparisons"]}
        if cmp:
            out["baseline"] = cmp
        print(json.dumps(out, indent=1))
    else:
        _print_tables(results, splits)
        if results["comparisons"]:
            print("\npaired comparisons (difference, 95% interval, Fisher p):")
            print(comparison_table(results))
        if cmp:
            print("\n" + "\n".join(baseline_lines(cmp)))
    report = args.report if args.report is not None else default_report()
    if str(report) != "-":
        extra = []
        if cmp:
            extra = baseline_lines(cmp)
        write_report(results, questions, texts, Path(report), gold_path, skipped=skipped, extra=extra)
        if Path(report).name == "report.md" and set(modes) == set(MODES):  # a whole run: README's figures
            write_figures(Path(report).with_name("figures.json"), results["modes"])
        if not args.json:
            print(f"\nreport written to {report}")
    return status

"""`ipt-qa`: build the index, ask questions, evaluate, serve the page. See `ipt-qa COMMAND --help`."""

from __future__ import annotations

import argparse
import json
import os
import socket
import sys
from pathlib import Path

from qa import live
from qa.errors import QAError
from qa.evaluate.gold import SPLITS, validate_gold_file
from qa.index.build import build_index
from qa.ingest.add import add_source, remove_source
from qa.ingest.bankreport import coverage, report_lines
from qa.ingest.commands import add_parsers, cmd_refresh, cmd_sources
from qa.ingest.fetch import add_url, is_address
from qa.paths import default_corpus, default_gold, default_index
from qa.retrieve.query import MODES
from qa.settings import MAX_K, MIN_K, k_problem

EXIT_USAGE = 2


def _fail(msg: str) -> int:
    print(f"ipt-qa: {' '.join(str(msg).split())}", file=sys.stderr)
    return EXIT_USAGE


def _paths(p: argparse.ArgumentParser) -> None:
    p.add_argument("--index", type=Path, default=None,
                   help="index directory (default: index/ of the project in the working directory)")
    p.add_argument("--corpus", type=Path, default=None,
                   help="corpus directory (default: corpus/ of the project in the working directory)")


def parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(prog="ipt-qa", description=(
        "Answers questions about Interpersonal Psychotherapy (IPT) with passages quoted from its sources, "
        "each cited to the exact characters and lines. It never writes text of its own."))
    sub = ap.add_subparsers(dest="command", required=True, metavar="COMMAND")

    a = sub.add_parser("ask", help="answer questions with cited passages",
                       description="Answer questions with cited passages. With no QUESTION, or '-', reads one "
                                   "question per line from standard input (the model is loaded once).")
    a.add_argument("question", nargs="*", metavar="QUESTION", help="the question (words are joined by spaces)")
    a.add_argument("-k", type=int, default=5, help=f"passages per answer, {MIN_K}-{MAX_K} (default: %(default)s)")
    a.add_argument("--mode", choices=MODES, default="hybrid",
                   help="retriever: both fused (default), keywords only, or embeddings only")
    a.add_argument("--source", action="append", dest="sources", metavar="ID",
                   help="search only this source id (repeatable; default: all)")
    a.add_argument("--json", action="store_true", help="print one JSON object per question (JSON Lines)")
    _paths(a)

    b = sub.add_parser("build", help="build or update the index from the corpus",
                       description="Build or update the index. Only passages whose text changed are embedded "
                                   "again, unless --full.")
    b.add_argument("--full", action="store_true", help="re-embed everything instead of reusing vectors")
    _paths(b)

    ad = sub.add_parser("add", help="add a web page, PDF, Markdown or text file (or its address) as a source, "
                                    "then build",
                        description="Store PATH (or what URL serves, fetched: http(s) only, at most 16 MiB and 5 "
                                    "redirects) untouched under corpus/originals/, its text under corpus/, its "
                                    "entry in corpus/sources.toml, and update the index.")
    ad.add_argument("path", metavar="PATH|URL", help="a .html, .htm, .pdf, .md or .txt file, or an http(s) address")
    ad.add_argument("--url", default="", help="the address the file was saved from (recorded, never fetched)")
    ad.add_argument("--title", default=None, help="the source's title (default: the document's own)")
    ad.add_argument("--id", default=None, dest="source_id", help="the source id (default: made from the title)")
    ad.add_argument("--retrieved", default=None, metavar="YYYY-MM-DD",
                    help="when the file was retrieved (default: today)")
    _paths(ad)

    rm = sub.add_parser("remove", help="remove a source (its text, its original and its entry), then build")
    rm.add_argument("source_id", metavar="ID", help="the source id, as in corpus/sources.toml")
    _paths(rm)

    e = sub.add_parser("eval", help="score retrieval on the gold set and write eval/report.md")
    e.add_argument("--gold", type=Path, default=None, help="gold set (default: eval/gold.jsonl)")
    e.add_argument("--json", action="store_true", help="print the figures as JSON")
    e.add_argument("--mode", action="append", dest="modes", choices=MODES,
                   help="modes to compare (repeatable; default: all three)")
    e.add_argument("--split", choices=(*SPLITS, "all"), default=None,
                   help="which split to report (default: every split, side by side)")
    e.add_argument("--report", type=Path, default=None, help="where to write the Markdown report "
                                                              "(default: eval/report.md; '-' for none)")
    e.add_argument("--check", action="store_true",
                   help="only check the gold set against the corpus (errors: exit 1) and list weak rows")
    e.add_argument("--save-run", type=Path, metavar="DIR",
                   help="also write, per mode, the TREC run and JSON Lines records, and the qrels, to DIR")
    e.add_argument("--baseline", type=Path, metavar="DIR",
                   help="compare with a run saved by --save-run: differences, intervals, p-values, and the "
                        "questions that got better or worse")
    e.add_argument("--run", type=Path, metavar="FILE",
                   help="score another system's JSON Lines output (shaped like `ipt-qa ask --json`, one "
                        "record per gold question id) instead of this one; no model needed")
    e.add_argument("--export-beir", type=Path, metavar="DIR",
                   help="write corpus.jsonl, queries.jsonl and qrels/<split>.tsv in the BEIR layout to DIR")
    _paths(e)

    bk = sub.add_parser("bank", help="what the question banks cover: thin passages, stale rows",
                        description="List the passages with too few answerable questions in corpus/questions.jsonl, "
                                    "the rows whose quote lies outside every passage, and stale rows (quote no "
                                    "longer in its source). Exit 1 when a row is stale. No model needed.")
    bk.add_argument("--min", type=int, default=5, dest="minimum",
                    help="list passages with fewer answerable questions than this (default: %(default)s)")
    _paths(bk)

    add_parsers(sub, _paths)
    s = sub.add_parser("serve", help="launch the web page (same as python app.py)")
    s.add_argument("--host", default="127.0.0.1", help="address to bind (default: %(default)s)")
    s.add_argument("--port", type=int, default=7860, help="port (default: %(default)s)")
    _paths(s)
    return ap


def _questions(args) -> tuple[list[str], bool]:
    if args.question and args.question != ["-"]:
        return [" ".join(args.question)], False
    if sys.stdin is None or sys.stdin.isatty():
        return [], True
    # Bytes that are not UTF-8 must not end the batch with a traceback (standard input is strict under a
    # UTF-8 locale or PYTHONIOENCODING=utf-8): keep them as surrogates, which clean_question turns into "?".
    if hasattr(sys.stdin, "reconfigure"):
        sys.stdin.reconfigure(errors="surrogateescape")
    return [line.rstrip("\n") for line in sys.stdin], True


def format_answer(ans) -> str:
    """The readable, cited layout of `ipt-qa ask` without --json."""
    out = [f"Q: {ans.question}"]
    for w in ans.warnings:
        out.append(f"  note: {w}")
    if ans.notice:
        out.append(f"  !! {ans.notice}")
    if ans.abstained:
        out.append(f"  No passage in the sources answers this ({ans.reason}).")
        return "\n".join(out)
    for h in ans.passages:
        loc = f"{h.path}:{h.line_start}" + (f"-{h.line_end}" if h.line_end != h.line_start else "")
        out.append(f"\n[{h.rank}] {h.title}" + (f" — {h.section}" if h.section and h.section != h.title else ""))
        out.append(f"    {loc}  (chars {h.start}-{h.end}, {h.label} match, score {h.score:.2f})")
        for line in h.text.splitlines():
            if line.strip():
                out.append(f"    | {line.strip()}")
        hl = h.text[h.highlight["start"] - h.start:h.highlight["end"] - h.start]
        out.append(f"    best match: \u201c{hl}\u201d")
        if h.also_in:
            out.append("    also stated in: " + "; ".join(f"{a.title} ({a.path}:{a.line_start})" for a in h.also_in))
    return "\n".join(out)


def cmd_ask(args) -> int:
    questions, batch = _questions(args)
    if not questions:
        return _fail("no question given; pass one as arguments, or one per line on standard input")
    if not batch and not " ".join(questions[0].split()):
        return _fail("the question is empty; type a question about Interpersonal Psychotherapy (IPT)")
    problem = k_problem(args.k)
    if problem:
        return _fail(f"-{problem}")
    searcher = live.open_searcher(args.index, args.corpus)
    first = True
    # Batches are answered in slices so output streams and one model call serves many questions.
    for i in range(0, len(questions), 32):
        for ans in searcher.ask_many(questions[i:i + 32], k=args.k, mode=args.mode, sources=args.sources):
            if args.json:
                print(json.dumps(ans.to_dict(), ensure_ascii=False), flush=True)
            else:
                print(("" if first else "\n" + "=" * 72 + "\n") + format_answer(ans), flush=True)
            for w in ans.warnings:
                print(f"ipt-qa: warning: {w}", file=sys.stderr)
            first = False
    return 0


def cmd_build(args) -> int:
    report = build_index(args.corpus, args.index, live.load_embedder(), full=args.full)
    print(report.summary())
    # The gold set quotes the project's corpus: re-validate it when that corpus was rebuilt.
    gold = default_gold()
    if gold.is_file() and Path(args.corpus).resolve() == default_corpus().resolve():
        problems = validate_gold_file(gold, args.corpus)
        if problems:
            print(f"gold set {gold}: {len(problems)} quote(s) no longer found in their source:")
            for p in problems:
                print(f"  {p}")
        else:
            print(f"gold set {gold}: every quote still found in its source")
    return 0


def cmd_add(args) -> int:
    if is_address(args.path) and (args.url or args.retrieved):
        return _fail("--url and --retrieved go with a local file: for an address, what was fetched is recorded")
    added = (add_url(args.corpus, args.path, title=args.title, source_id=args.source_id) if is_address(args.path)
             else add_source(args.corpus, args.path, url=args.url, title=args.title, source_id=args.source_id,
                             retrieved=args.retrieved))
    try:
        report = build_index(args.corpus, args.index, live.load_embedder())
    except BaseException:
        remove_source(args.corpus, added.id)  # an add whose build fails is undone: nothing is left half-added
        raise
    print(f"added {added.id!r} ({added.title}): text in {added.file}, original in {added.original}"
          + (f", extracted with {added.extractor}" if added.extractor else ""))
    print(report.summary())
    if not any(coverage(args.corpus).per_source().get(added.id, [])):
        print(f"note: {added.id!r} has no rows in the question bank (corpus/questions.jsonl): its passages are "
              "ranked and judged without it, so questions about them are more often shown as \"may not answer\"; "
              "docs/question-banks.md says how to write rows, `ipt-qa bank` lists what is thin")
    return 0


def cmd_remove(args) -> int:
    deleted = remove_source(args.corpus, args.source_id)
    print(f"removed {args.source_id!r}" + (f" (deleted {', '.join(str(p) for p in deleted)})" if deleted else ""))
    print(_build(args))
    return 0


def _build(args) -> str:
    return build_index(args.corpus, args.index, live.load_embedder()).summary()


def cmd_bank(args) -> int:
    cov = coverage(args.corpus)
    print("\n".join(report_lines(cov, args.minimum)))
    return 1 if cov.bank.stale else 0


def cmd_eval(args) -> int:
    # Deferred on purpose: the evaluation imports ranx (and numba), seconds that `ask` and `--help` need not pay.
    from qa.evaluate.command import run_eval_command  # noqa: PLC0415

    return run_eval_command(args)


def _port_problem(host: str, port: int) -> str | None:
    """Why the page cannot listen on host:port, checked before the model is loaded (None: it can)."""

    if not 1 <= port <= 65535:
        return f"--port must be between 1 and 65535, not {port}"
    try:
        with socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET, socket.SOCK_STREAM) as s:
            # As the server itself will (uvicorn sets it): connections of a previous server still in
            # TIME-WAIT do not make the port "in use", while a listening socket still does.
            s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            s.bind((host, port))
            s.listen(1)
    except OSError as e:
        return (f"cannot listen on {host}:{port} ({e.strerror or e}); is another server using that port? "
                "Choose another with --port")
    return None


def cmd_serve(args) -> int:
    problem = _port_problem(args.host, args.port)
    if problem:
        return _fail(problem)
    os.environ["IPT_QA_INDEX"] = str(args.index)
    os.environ["IPT_QA_CORPUS"] = str(args.corpus)
    from app import main as app_main  # the page lives in app.py at the project root

    try:
        app_main(host=args.host, port=args.port, index_dir=args.index, corpus_dir=args.corpus)
    except OSError as e:  # the port was taken between the check and the launch, say
        return _fail(f"cannot serve on {args.host}:{args.port}: {e}")
    return 0


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    if getattr(args, "index", "") is None:
        args.index = default_index()
    if getattr(args, "corpus", "") is None:
        args.corpus = default_corpus()
    try:
        commands = {"ask": cmd_ask, "build": cmd_build, "add": cmd_add, "remove": cmd_remove, "eval": cmd_eval,
                    "bank": cmd_bank, "serve": cmd_serve, "sources": cmd_sources,
                    "refresh": lambda a: cmd_refresh(a, lambda: _build(a))}
        return commands[args.command](args)
    except QAError as e:
        return _fail(str(e))
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        # `ipt-qa ask ... | head` closing the pipe is not an error.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0


if __name__ == "__main__":
    sys.exit(main())

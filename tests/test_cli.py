"""`ipt-qa ask` as a user runs it: `python -m qa ...` in a subprocess, on the real corpus, with the index in
a temporary folder. Each subprocess that answers loads the model (~5 s), so there are only three of them;
the usage errors and --help are refused or answered before any model is loaded."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from qa.ingest.corpus import load_corpus

ROOT = Path(__file__).resolve().parent.parent
CORPUS = ROOT / "corpus"
TITLES = {s.title for s in load_corpus(CORPUS)}
QUESTION = "Who created interpersonal psychotherapy?"


def run(*args: str, stdin: str | None = None, index: Path | None = None, timeout: int = 180):
    cmd = [sys.executable, "-m", "qa", *args]
    if index is not None:
        cmd += ["--index", str(index), "--corpus", str(CORPUS)]
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "PYTHONIOENCODING": "utf-8"}
    return subprocess.run(cmd, input=stdin, capture_output=True, text=True, encoding="utf-8", cwd=ROOT, env=env,
                          timeout=timeout)


def read_source(path: str) -> str:
    return open(ROOT / path, encoding="utf-8").read()  # a relative path is relative to where ipt-qa ran (ROOT)


def check_record_citations(rec: dict) -> None:
    for p in rec["passages"]:
        full = read_source(p["path"])
        assert full[p["start"]:p["end"]] == p["text"]
        assert p["line_start"] == full.count("\n", 0, p["start"]) + 1
        assert p["line_end"] == full.count("\n", 0, p["end"]) + 1
        assert p["start"] <= p["highlight"]["start"] < p["highlight"]["end"] <= p["end"]
        for a in p["also_in"]:
            assert read_source(a["path"])[a["start"]:a["end"]] == a["text"]


@pytest.fixture(scope="module")
def index_dir(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("cli") / "index"


@pytest.fixture(scope="module")
def first_ask(index_dir):
    """`ask --json QUESTION` with no index yet: it has to build one first."""
    assert not index_dir.exists()
    return run("ask", "--json", QUESTION, index=index_dir)


@pytest.mark.model
def test_ask_json_on_a_missing_index_builds_it_and_answers(first_ask, index_dir):
    proc = first_ask
    assert proc.returncode == 0, proc.stderr
    assert "building the index" in proc.stderr
    assert (index_dir / "current" / "manifest.json").is_file()
    lines = proc.stdout.splitlines()
    assert len(lines) == 1
    rec = json.loads(lines[0])
    assert rec["question"] == QUESTION and rec["abstained"] is False and rec["reason"] is None
    top = rec["passages"][0]
    assert top["rank"] == 1 and "Klerman" in top["text"] and "Weissman" in top["text"]
    assert [p["rank"] for p in rec["passages"]] == list(range(1, len(rec["passages"]) + 1))
    assert len(rec["passages"]) == 5  # the default -k
    check_record_citations(rec)


@pytest.mark.model
def test_stdin_batch_answers_each_line_in_order(first_ask, index_dir):
    assert first_ask.returncode == 0
    questions = [QUESTION, "", "how many weekly sessions does IPT usually take"]
    proc = run("ask", "--json", "-k", "3", stdin="\n".join(questions) + "\n", index=index_dir)
    assert proc.returncode == 0, proc.stderr
    assert "building" not in proc.stderr  # the index built above is reused
    records = [json.loads(line) for line in proc.stdout.splitlines()]
    assert [r["question"] for r in records] == questions
    first, empty, third = records
    assert empty["abstained"] is True and empty["passages"] == []
    assert isinstance(empty["reason"], str) and "empty" in empty["reason"]
    for rec in (first, third):
        assert rec["abstained"] is False and 1 <= len(rec["passages"]) <= 3
        check_record_citations(rec)
    assert "Klerman" in first["passages"][0]["text"]
    assert any("16" in p["text"] for p in third["passages"])


@pytest.mark.model
def test_long_question_is_answered_with_a_warning_in_the_readable_layout(first_ask, index_dir):
    assert first_ask.returncode == 0
    # A question with a long pasted blob after it (the same question repeated would read as off-topic once cut).
    question = (QUESTION + " " + "x" * 5000)[:5000]
    proc = run("ask", "-k", "3", question, index=index_dir)
    assert proc.returncode == 0, proc.stderr
    assert "ipt-qa: warning: the question was 5,000 characters long" in proc.stderr
    out = proc.stdout
    assert "note: the question was 5,000 characters long" in out
    # Each passage: "[rank] title — section", then "path:line[-line]  (chars a-b, ...)", then "| " lines.
    lines = out.splitlines()
    blocks = [i for i, ln in enumerate(lines) if re.match(r"^\[\d+\] ", ln)]
    assert len(blocks) == 3
    for n, i in enumerate(blocks, 1):
        head = re.match(r"^\[(\d+)\] (.+?)(?: — (.+))?$", lines[i])
        assert int(head.group(1)) == n
        assert head.group(2) in TITLES
        loc = re.match(r"^    (\S+):(\d+)(?:-(\d+))?  \(chars (\d+)-(\d+), ", lines[i + 1])
        assert loc, lines[i + 1]
        path, start, end = loc.group(1), int(loc.group(4)), int(loc.group(5))
        line_start = int(loc.group(2))
        line_end = int(loc.group(3) or line_start)
        full = read_source(path)
        assert line_start == full.count("\n", 0, start) + 1 and line_end == full.count("\n", 0, end) + 1
        quoted = []
        for ln in lines[i + 2:]:
            if not ln.startswith("    | "):
                break
            quoted.append(ln[len("    | "):])
        assert quoted == [x.strip() for x in full[start:end].splitlines() if x.strip()]
    first_passage = "\n".join(lines[blocks[0]:blocks[1]])
    assert "Klerman" in first_passage and "best match:" in first_passage


@pytest.mark.parametrize("args, says", [
    (["ask", ""], "empty"),
    (["ask", "   "], "empty"),
    (["ask", "-k", "0", QUESTION], "-k"),
    (["ask", "-k", "51", QUESTION], "-k"),
])
def test_bad_usage_exits_2_with_one_line(tmp_path, args, says):
    proc = run(*args, index=tmp_path / "index", timeout=60)
    assert proc.returncode == 2
    assert proc.stdout == ""
    err = proc.stderr.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("ipt-qa: ") and says in err[0]
    assert not (tmp_path / "index").exists()  # refused before any model or index work


def test_help_is_fast_and_loads_no_model():
    script = (
        "import contextlib, io, sys\n"
        "import qa.cli\n"
        "for argv in (['--help'], ['ask', '--help'], ['eval', '--help']):\n"
        "    buf = io.StringIO()\n"
        "    with contextlib.redirect_stdout(buf):\n"
        "        try:\n"
        "            qa.cli.main(argv)\n"
        "        except SystemExit as e:\n"
        "            assert e.code == 0, e.code\n"
        "    assert 'usage: ipt-qa' in buf.getvalue(), buf.getvalue()\n"
        "heavy = [m for m in ('torch', 'sentence_transformers', 'transformers', 'faiss', 'bm25s', 'ranx', 'gradio')\n"
        "         if m in sys.modules]\n"
        "assert not heavy, heavy\n"
        "print('ok')\n"
    )
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, cwd=ROOT, timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "ok"
    # And the real entry point prints the commands.
    proc = run("--help", timeout=60)
    assert proc.returncode == 0
    assert all(cmd in proc.stdout for cmd in ("ask", "build", "eval", "serve"))


def test_eval_split_accepts_every_split_of_the_gold_set():
    """`--split test3` was refused: the choices were written out in the parser and lacked the newest split."""
    from qa.cli import parser
    from qa.evaluate.gold import SPLITS

    for split in (*SPLITS, "all"):
        assert parser().parse_args(["eval", "--split", split]).split == split

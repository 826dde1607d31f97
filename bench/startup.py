"""4. Start-up as a user meets it (fresh processes), and the resident memory of the served app.

Three kinds of child process, started in rotating order in each repeat:

* baseline: imports sentence-transformers and loads the bundled model, encodes one string, exits
  (`from qa.index.embed import MiniLMEmbedder; MiniLMEmbedder().encode(["x"])`, then prints its VmRSS);
* cli: `python -m qa ask --json "Who created IPT?"` on the already built index: time to the answer line;
* app: `python app.py --port P`: time until `GET /` answers 200; then 50 questions through /ask and the
  served process's VmRSS.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request

from .common import ROOT, Figure, Report, free_port, gold_questions, mib, proc_status, quiet_env
from .load import client, gradio_ask

SECTION = "4"
QUESTION = "Who created IPT?"
BASELINE_CODE = (
    "from qa.index.embed import MiniLMEmbedder; MiniLMEmbedder().encode(['x'])\n"
    "import sys; sys.stdout.write(''.join(l for l in open('/proc/self/status') if l.startswith(('VmRSS', 'VmHWM'))))\n"
)


def _reap(p: subprocess.Popen) -> int:
    """Wait for a child and return wait4's ru_maxrss in KiB. Not reported: it can include the forked copy
    of this (large) benchmark process before exec, so peaks come from /proc/PID/status instead."""
    _, status, ru = os.wait4(p.pid, 0)
    p.returncode = os.waitstatus_to_exitcode(status)
    return ru.ru_maxrss


def run_baseline() -> dict:
    t0 = time.perf_counter()
    p = subprocess.Popen([sys.executable, "-c", BASELINE_CODE], cwd=ROOT, env=quiet_env(),
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    out = p.stdout.read()
    err = p.stderr.read()
    maxrss = _reap(p)
    wall = time.perf_counter() - t0
    if p.returncode:
        raise RuntimeError(f"baseline child failed ({p.returncode}): {err[-500:]}")
    status = {line.split(":")[0]: int(line.split()[1]) for line in out.splitlines() if ":" in line}
    return {"seconds": wall, "rss_kib": status.get("VmRSS", 0), "hwm_kib": status.get("VmHWM", maxrss)}


def run_cli() -> dict:
    t0 = time.perf_counter()
    p = subprocess.Popen([sys.executable, "-m", "qa", "ask", "--json", QUESTION], cwd=ROOT, env=quiet_env(),
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    first = p.stdout.readline()
    t_answer = time.perf_counter() - t0
    p.stdout.read()
    err = p.stderr.read()
    maxrss = _reap(p)
    wall = time.perf_counter() - t0
    if p.returncode:
        raise RuntimeError(f"`python -m qa ask` failed ({p.returncode}): {err[-500:]}")
    answer = json.loads(first)
    if "building the index" in err:
        raise RuntimeError("`python -m qa ask` rebuilt the index: the start-up figure would include a build")
    return {"seconds": t_answer, "exit_seconds": wall, "hwm_kib": maxrss, "abstained": answer.get("abstained"),
            "passages": len(answer.get("passages", []))}


def run_app(questions: list[str], n_questions: int = 50, timeout: float = 300.0) -> dict:
    # The app's log goes to a file, not a pipe: nobody reads it while the app runs.
    with tempfile.TemporaryFile(mode="w+") as log:
        port = free_port()
        t0 = time.perf_counter()
        p = subprocess.Popen([sys.executable, "app.py", "--port", str(port)], cwd=ROOT, env=quiet_env(),
                             stdout=subprocess.DEVNULL, stderr=log, text=True)
        try:
            return _serve_and_ask(p, log, f"http://127.0.0.1:{port}/", t0, questions[:n_questions], timeout)
        finally:
            if p.poll() is None:
                p.send_signal(signal.SIGINT)  # as Ctrl-C: gradio shuts down cleanly
                try:
                    p.wait(timeout=20)
                except subprocess.TimeoutExpired:
                    p.kill()
                    p.wait()


def _serve_and_ask(p: subprocess.Popen, log, url: str, t0: float, questions: list[str], timeout: float) -> dict:
    """Wait until `GET /` answers 200, then ask `questions` through /ask; the served process's memory."""

    def log_text() -> str:
        log.seek(0)
        return log.read()

    while True:
        if p.poll() is not None:
            raise RuntimeError(f"app.py exited ({p.returncode}): {log_text()[-800:]}")
        try:
            with urllib.request.urlopen(url, timeout=2) as r:
                if r.status == 200:
                    break
        except OSError:
            pass
        if time.perf_counter() - t0 > timeout:
            raise RuntimeError(f"app.py did not serve {url} within {timeout:.0f} s")
        time.sleep(0.05)
    t_page = time.perf_counter() - t0
    if "building the index" in log_text():
        raise RuntimeError("app.py rebuilt the index: the start-up figure would include a build")
    idle = proc_status(p.pid)
    c = client(url)
    t1 = time.perf_counter()
    for q in questions:
        gradio_ask(c, q)
    t_questions = time.perf_counter() - t1
    busy = proc_status(p.pid)
    c.close()
    return {"seconds": t_page, "rss_idle_kib": idle.get("VmRSS", 0), "rss_kib": busy.get("VmRSS", 0),
            "hwm_kib": busy.get("VmHWM", 0), "threads": busy.get("Threads", 0),
            "questions_seconds": t_questions, "n_questions": len(questions)}


def run(report: Report, searcher=None, repeats: int = 3) -> dict:
    """`searcher` is not used: every figure here comes from fresh processes, which open the project's index."""
    qs = gold_questions()
    run_baseline()  # untimed: fills the page cache with torch's and the model's files
    runs = {"baseline": [], "cli": [], "app": []}
    kinds = [("baseline", run_baseline), ("cli", run_cli), ("app", lambda: run_app(qs[:50]))]
    for r in range(repeats):
        for name, fn in kinds[r % 3:] + kinds[:r % 3]:  # rotate who goes first
            runs[name].append(fn())
    base = [x["seconds"] for x in runs["baseline"]]
    report.add(Figure(SECTION, "`python -m qa ask --json` start to first answer", "s",
                      [x["seconds"] for x in runs["cli"]], "import sentence-transformers + load model + encode",
                      base, max_ratio=1.5, note="answered: " + ", ".join(
                          f"{x['passages']} passages" if not x["abstained"] else "abstained" for x in runs["cli"])))
    report.add(Figure(SECTION, "`python app.py` start to GET / = 200", "s", [x["seconds"] for x in runs["app"]],
                      "import sentence-transformers + load model + encode", base, max_ratio=1.5))
    report.add(Figure(SECTION, "served app VmRSS after 50 /ask questions", "MiB",
                      [mib(x["rss_kib"]) for x in runs["app"]], "model-only process VmRSS (baseline child)",
                      [mib(x["rss_kib"]) for x in runs["baseline"]]))
    report.add(Figure(SECTION, "served app VmRSS right after the page first answered", "MiB",
                      [mib(x["rss_idle_kib"]) for x in runs["app"]], "model-only process VmRSS (baseline child)",
                      [mib(x["rss_kib"]) for x in runs["baseline"]]))
    report.add(Figure(SECTION, "served app peak RSS (VmHWM) after 50 questions", "MiB",
                      [mib(x["hwm_kib"]) for x in runs["app"]], "model-only process VmHWM",
                      [mib(x["hwm_kib"]) for x in runs["baseline"]]))
    report.note(SECTION, "app: 50 questions took " + ", ".join(
        f"{x['questions_seconds']:.1f} s" for x in runs["app"]) + "; threads in the served process: "
        + ", ".join(str(x["threads"]) for x in runs["app"]))
    return runs

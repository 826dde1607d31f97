"""This checkout against another one (e.g. the commit before a change), each figure from fresh processes
started in turn, A B A B ..., on indexes of their own:

    python -m bench.versus --base DIR [--index DIR] [--base-index DIR] [--repeats 3] [--clients 32]

Per repeat and checkout: `python -m qa ask --json` start to its answer line; `python app.py` start to
GET / = 200; then /api/v1/ask throughput with `--clients` concurrent clients (bench/load.py, every question
made unique so no question cache answers) and the served process's VmRSS after it. Used for issue 29 (ONNX
Runtime instead of torch); the results are in bench/RESULTS.md.
"""

from __future__ import annotations

import argparse
import json
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

from .common import ROOT, Figure, Report, free_port, mib, proc_status, quiet_env

SECTION = "vs"
QUESTION = "Who created IPT?"


def _env(tree: Path, index: Path, cache: str | None) -> dict[str, str]:
    env = {**quiet_env(), "PYTHONPATH": str(tree), "IPT_QA_INDEX": str(index), "IPT_QA_CORPUS": str(ROOT / "corpus")}
    if cache:
        env["IPT_QA_CACHE"] = cache
    return env


def cli_seconds(tree: Path, env: dict) -> float:
    t0 = time.perf_counter()
    p = subprocess.Popen([sys.executable, "-m", "qa", "ask", "--json", QUESTION], cwd=tree, env=env,
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    line = p.stdout.readline()
    t = time.perf_counter() - t0
    _, err = p.communicate()
    if p.returncode or "passages" not in json.loads(line) or "building the index" in err:
        raise RuntimeError(f"{tree}: `python -m qa ask` failed or rebuilt the index: {err[-500:]}")
    return t


def app_figures(tree: Path, env: dict, clients: int, per_client: int, tag: str) -> dict:
    port = free_port()
    url = f"http://127.0.0.1:{port}/"
    t0 = time.perf_counter()
    p = subprocess.Popen([sys.executable, "app.py", "--port", str(port)], cwd=tree, env=env,
                         stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        while True:
            if p.poll() is not None:
                raise RuntimeError(f"{tree}: app.py exited ({p.returncode})")
            try:
                with urllib.request.urlopen(url, timeout=2) as r:
                    if r.status == 200:
                        break
            except OSError:
                time.sleep(0.05)
        page = time.perf_counter() - t0
        load = subprocess.run([sys.executable, "-m", "bench.load", url, str(clients), str(per_client), "--via",
                               "json", "--tag", tag], cwd=ROOT, env=quiet_env(), capture_output=True, text=True,
                              check=True)
        out = json.loads(load.stdout.strip().splitlines()[-1])
        if out.get("errors"):
            raise RuntimeError(f"{tree}: {out['errors']} errors under load")
        return {"page": page, "rps": out["rps"], "rss": mib(proc_status(p.pid).get("VmRSS", 0))}
    finally:
        p.send_signal(signal.SIGINT)
        try:
            p.wait(timeout=20)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait()


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m bench.versus", description=__doc__.splitlines()[0])
    ap.add_argument("--base", type=Path, required=True, help="the other checkout (the baseline)")
    ap.add_argument("--index", type=Path, default=ROOT / "index")
    ap.add_argument("--base-index", type=Path, default=None, help="default: the base checkout's index/")
    ap.add_argument("--cache", default=None, help="IPT_QA_CACHE of this checkout's processes")
    ap.add_argument("--base-cache", default=None, help="IPT_QA_CACHE of the baseline's processes")
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--clients", type=int, default=32)
    ap.add_argument("--per-client", type=int, default=10)
    args = ap.parse_args(argv)
    sides = {"this": (ROOT, _env(ROOT, args.index, args.cache)),
             "base": (args.base.resolve(), _env(args.base.resolve(), args.base_index or args.base / "index",
                                                args.base_cache))}
    got: dict[str, dict[str, list[float]]] = {s: {"cli": [], "page": [], "rps": [], "rss": []} for s in sides}
    for r in range(args.repeats):
        for side in (["this", "base"] if r % 2 == 0 else ["base", "this"]):
            tree, env = sides[side]
            got[side]["cli"].append(cli_seconds(tree, env))
            app = app_figures(tree, env, args.clients, args.per_client, f"vs{r}{side}")
            for k in ("page", "rps", "rss"):
                got[side][k].append(app[k])
    report = Report()
    a, b = got["this"], got["base"]
    report.add(Figure(SECTION, "`python -m qa ask --json` start to answer", "s", a["cli"], "base checkout", b["cli"]))
    report.add(Figure(SECTION, "`python app.py` start to GET / = 200", "s", a["page"], "base checkout", b["page"]))
    report.add(Figure(SECTION, f"/api/v1/ask throughput, {args.clients} clients", "req/s", a["rps"],
                      "base checkout", b["rps"], min_ratio=1.8))
    report.add(Figure(SECTION, f"served app VmRSS after {args.clients * args.per_client} questions", "MiB",
                      a["rss"], "base checkout", b["rss"], max_ratio=0.6))
    return 0


if __name__ == "__main__":
    sys.exit(main())

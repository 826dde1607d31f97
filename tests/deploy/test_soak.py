"""Issue 21's soak, on issue 30's setup (supervisord runs the replicas and nginx): `scripts/run-replicas.sh 2`
behind Debian's nginx, 8 clients asking POST /api/v1/ask for
60 s while a source is edited and rebuilt with `ipt-qa build` three times (the documented workflow) and one
replica is killed with -9.

Checked: no response other than 200 except for requests in flight at the kill; every passage's text equals
its file's characters as they were while the request ran (the edited file has a version per edit); the killed
replica is started again by the supervisor and is back in nginx; no traceback in any log longer than one
screen; no question text in any log (a marker word in every fourth question). The figures are printed
(`-s`) and listed in RELIABILITY.md. About 2 minutes (model loads of the replicas and of the three builds).
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from collections import Counter
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
NGINX = shutil.which("nginx") or ("/usr/sbin/nginx" if os.access("/usr/sbin/nginx", os.X_OK) else None)
pytestmark = [pytest.mark.deploy, pytest.mark.model,
              pytest.mark.skipif(NGINX is None, reason="nginx is not installed (apt-get install -y nginx)")]

SECONDS = 60.0
CLIENTS = 8
EDITED = "focus-of-ipt.txt"
EDITS_AT, KILL_AT = (4.0, 20.0, 38.0), 30.0  # seconds into the soak
MARKER = "wombat-soak-5521"
SCREEN = 50  # lines: "no traceback longer than one screen"


def _env() -> dict[str, str]:
    return {**os.environ, "HF_HUB_OFFLINE": "1", "GRADIO_ANALYTICS_ENABLED": "False", "DISABLE_TQDM": "1",
            "NO_PROXY": "127.0.0.1,localhost", "no_proxy": "127.0.0.1,localhost", "PYTHONPATH": str(ROOT)}


def _free_run(n: int) -> int:
    """The first of n consecutive loopback ports free right now."""
    for _ in range(50):
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            first = s.getsockname()[1]
        socks = []
        try:
            for p in range(first, first + n):
                socks.append(socket.socket())
                socks[-1].bind(("127.0.0.1", p))
            return first
        except OSError:
            continue
        finally:
            for s in socks:
                s.close()
    raise RuntimeError("no run of free ports")


def _questions() -> list[str]:
    rows = [json.loads(x) for x in (ROOT / "eval" / "gold.jsonl").read_text(encoding="utf-8").splitlines() if x]
    qs = [r["question"] for r in rows if r.get("answers")][:60]
    return [f"{q} {MARKER}" if i % 4 == 0 else q for i, q in enumerate(qs)]


def _longest_traceback(text: str) -> int:
    """Lines of the longest `Traceback (most recent call last):` block (to its exception line)."""
    longest, lines = 0, text.splitlines()
    for i, line in enumerate(lines):
        if line.startswith("Traceback (most recent call last):"):
            j = i + 1
            while j < len(lines) and (lines[j].startswith((" ", "\t")) or not lines[j].strip()):
                j += 1
            longest = max(longest, j - i + 1)
    return longest


@pytest.fixture
def deployment(tmp_path):
    """Two replicas behind nginx over a corpus copy this test edits; the supervisor builds its index."""
    corpus, index, run_dir = tmp_path / "corpus", tmp_path / "index", tmp_path / "run"
    shutil.copytree(ROOT / "corpus", corpus)
    log = open(tmp_path / "supervisor.log", "wb")  # noqa: SIM115 - the supervisor's log, open while it runs
    proc = subprocess.Popen(["bash", str(ROOT / "scripts" / "run-replicas.sh"), "2", "--port", str(_free_run(1)),
                             "--first-port", str(_free_run(2)), "--run-dir", str(run_dir), "--index", str(index),
                             "--corpus", str(corpus), "--interval", "0.5"],
                            cwd=ROOT, env=_env(), stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    deadline = time.monotonic() + 400
    while "serving http" not in (tmp_path / "supervisor.log").read_text(errors="replace"):
        if proc.poll() is not None or time.monotonic() > deadline:
            os.killpg(proc.pid, signal.SIGKILL)
            pytest.fail(f"run-replicas.sh did not start: {(tmp_path / 'supervisor.log').read_text(errors='replace')}")
        time.sleep(0.5)
    state = json.loads((run_dir / "state.json").read_text())
    yield {"url": state["url"].rstrip("/"), "run_dir": run_dir, "corpus": corpus, "index": index,
           "supervisor_log": tmp_path / "supervisor.log", "replicas": state["replicas"]}
    proc.send_signal(signal.SIGINT)
    try:
        proc.wait(timeout=60)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
    log.close()


def test_soak_edits_rebuilds_and_a_kill(deployment):
    import httpx

    url, corpus = deployment["url"], deployment["corpus"]
    edited = corpus / EDITED
    versions = [(0.0, edited.read_text(encoding="utf-8"))]  # (time.time() written, text)
    others = {p.name: p.read_text(encoding="utf-8") for p in corpus.iterdir() if p.suffix in (".txt", ".md")}
    questions = _questions()
    results: list[dict] = []
    stop = threading.Event()
    t_start = time.time()
    events: dict[str, float] = {}

    def client(i: int) -> None:
        with httpx.Client(trust_env=False, timeout=60) as c:
            n = i
            while not stop.is_set():
                q = questions[n % len(questions)]
                n += CLIENTS
                t0 = time.time()
                try:
                    r = c.post(f"{url}/api/v1/ask", json={"question": q, "k": 5})
                    status, body = r.status_code, (r.json() if r.headers.get("content-type", "").startswith(
                        "application/json") else {"raw": r.text[:200]})
                except Exception as e:  # noqa: BLE001 - judged below
                    status, body = None, {"error": repr(e)}
                results.append({"t0": t0, "t1": time.time(), "status": status, "body": body, "q": q})

    def at(seconds: float) -> None:
        time.sleep(max(0.0, t_start + seconds - time.time()))

    def driver() -> None:
        victim = sorted(deployment["replicas"])[0]
        for n, when in enumerate(EDITS_AT, 1):
            if when > KILL_AT and "kill" not in events:
                at(KILL_AT)
                events["kill"] = time.time()
                events["victim"] = int(victim)
                pid = deployment["replicas"][victim]
                os.kill(pid, signal.SIGKILL)
                # Until its ~700 MB are torn down the process still holds its listening socket, and the kernel
                # accepts connections into it: requests sent meanwhile are in flight on the killed replica too.
                while Path(f"/proc/{pid}").exists() and Path(f"/proc/{pid}/stat").read_text().split()[2] != "Z":
                    time.sleep(0.01)
                events["gone"] = time.time()
            at(when)
            first, rest = versions[-1][1].split("\n", 1)
            text = f"{first}\n\nSoak edit {n}: a paragraph added while the replicas serve, moving every offset.\n{rest}"
            edited.write_text(text, encoding="utf-8")
            versions.append((time.time(), text))
            build = subprocess.run([sys.executable, "-m", "qa", "build", "--index", str(deployment["index"]),
                                    "--corpus", str(corpus)], cwd=ROOT, env=_env(), capture_output=True, text=True)
            assert build.returncode == 0, build.stderr[-2000:]
            events[f"built{n}"] = time.time()

    def back_watch() -> None:
        while "kill" not in events and not stop.is_set():
            time.sleep(0.1)
        while not stop.is_set():
            try:
                r = httpx.get(f"http://127.0.0.1:{events['victim']}/readyz", trust_env=False, timeout=2)
                if r.status_code == 200:
                    events["back"] = time.time()
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.2)

    threads = [threading.Thread(target=client, args=(i,), daemon=True) for i in range(CLIENTS)]
    drive, watch = threading.Thread(target=driver, daemon=True), threading.Thread(target=back_watch, daemon=True)
    for t in [*threads, drive, watch]:
        t.start()
    drive.join(timeout=SECONDS + 120)
    # At least 60 s, and a few seconds of answers from the third build (each build loads the model while
    # the clients keep both cores busy, so the three take longer than 60 s here).
    at(max(SECONDS, events.get("built3", 0) - t_start + 5))
    watch.join(timeout=60)  # a replica still loading its model may need a little past the 60 s
    stop.set()
    for t in threads:
        t.join(timeout=90)
    assert not drive.is_alive() and len(events) >= 6, events

    # -- responses ------------------------------------------------------------------------------------------
    by_status = Counter(r["status"] for r in results)
    bad = [r for r in results if r["status"] != 200]
    kill = events["kill"]
    back_after = events["back"] - kill if "back" in events else None
    supervisor = deployment["supervisor_log"].read_text(errors="replace")
    took = max(r["t1"] for r in results) - t_start
    print(f"\nsoak: {len(results)} responses in {took:.0f} s by status {dict(by_status)}; builds done at "
          f"{[round(events[f'built{n}'] - t_start, 1) for n in (1, 2, 3)]} s; killed replica back after "
          f"{back_after and round(back_after, 1)} s; process gone {events['gone'] - kill:.2f} s after the signal; "
          f"non-200: {[(r['status'], r['body']) for r in bad][:5]}")
    in_flight = [r for r in bad if r["t0"] <= events["gone"] and r["t1"] >= kill]
    assert in_flight == bad, [(r["status"], r["body"], r["t0"] - kill) for r in bad if r not in in_flight][:5]
    assert f"exited: replica-{events['victim']} (terminated by SIGKILL; not expected)" in supervisor, supervisor[-3000:]
    assert back_after is not None, "the killed replica did not come back"

    # -- every passage exact, the edited file at a version current while the request ran ----------------------
    ends = [t for t, _ in versions[1:]] + [float("inf")]
    checked = partial = 0
    for r in results:
        if r["status"] != 200:
            continue
        record = r["body"]
        partial += any("left out of the search" in w for w in record["warnings"])
        current = [text for (t, text), end in zip(versions, ends, strict=True)
                   if t <= r["t1"] and end >= r["t0"] - 1]
        for p in [*record["passages"], *(a for hit in record["passages"] for a in hit["also_in"])]:
            name = Path(p["path"]).name
            if name == EDITED:
                assert any(v[p["start"]:p["end"]] == p["text"] for v in current), (p["start"], r["t0"] - t_start)
            else:
                assert others[name][p["start"]:p["end"]] == p["text"], (name, p["start"])
            checked += 1
    assert checked > 1000
    final = [r for r in results if r["status"] == 200 and r["t0"] > events["built3"] + 2]
    assert any(Path(p["path"]).name == EDITED for r in final for p in r["body"]["passages"])  # the new build

    # -- logs -----------------------------------------------------------------------------------------------
    logs = [*deployment["run_dir"].joinpath("logs").iterdir(), deployment["supervisor_log"]]
    texts = {p.name: p.read_text(encoding="utf-8", errors="replace") for p in logs if p.is_file()}
    longest = max(_longest_traceback(t) for t in texts.values())
    with_marker = sorted(name for name, t in texts.items() if MARKER in t)
    sizes = {name: len(t.encode()) for name, t in texts.items()}
    print(f"soak: {checked} passages checked verbatim, {partial} answers with edited sources left out; longest "
          f"traceback in the logs {longest} lines; marker in {with_marker or 'no log'}; log bytes {sizes}")
    assert longest <= SCREEN
    assert not with_marker
    # Bounded: before, a stale index grew a replica log by ~400 MB; nginx's access log has a line per request.
    assert sum(size for name, size in sizes.items() if name != "access.log") < 1_000_000

"""Two replicas behind Debian's nginx on loopback, started by scripts/run-replicas.sh as a person would.

One deployment per module (replicas are real `ipt-qa serve` processes with the real model and index):
questions through nginx from 8 learners on their own addresses and through the JSON route, nothing of the
questions in any log, a replica killed mid-run, a replica whose index is damaged taken out, and Ctrl-C.
"""

from __future__ import annotations

import importlib.util
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from waiting import wait_for

ROOT = Path(__file__).resolve().parents[2]
HERE = Path(__file__).resolve().parent
CORPUS = ROOT / "corpus"
NGINX = shutil.which("nginx") or ("/usr/sbin/nginx" if os.access("/usr/sbin/nginx", os.X_OK) else None)

if NGINX is None and os.environ.get("IPT_QA_REQUIRE_NGINX"):  # set by .ci/run: there, a skip would hide a gap
    raise RuntimeError("nginx is required here (IPT_QA_REQUIRE_NGINX is set) but not installed")
pytestmark = [pytest.mark.deploy, pytest.mark.model,
              pytest.mark.skipif(NGINX is None, reason="nginx is not installed (apt-get install -y nginx)")]

LOG_LINE = re.compile(r'^(?P<addr>\S+) \[[^\]]+\] "(?P<method>\S+) (?P<uri>\S+)" (?P<status>\d+) \d+ \S+ '
                      r'upstream=(?P<upstream>.*) upstream_status=(?P<ustatus>.*)$')


def _env() -> dict[str, str]:
    return {**os.environ, "HF_HUB_OFFLINE": "1", "GRADIO_ANALYTICS_ENABLED": "False", "DISABLE_TQDM": "1",
            "NO_PROXY": "127.0.0.1,localhost", "no_proxy": "127.0.0.1,localhost"}


def _free_ports(n: int) -> int:
    """The first of n consecutive loopback ports that are free right now."""
    import socket

    for _ in range(50):
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            first = s.getsockname()[1]
        if first + n > 65000:
            continue
        try:
            socks = []
            for p in range(first, first + n):
                s = socket.socket()
                socks.append(s)
                s.bind(("127.0.0.1", p))
            return first
        except OSError:
            continue
        finally:
            for s in socks:
                s.close()
    raise RuntimeError("no run of free ports")


def _http(method: str, url: str, body: dict | None = None, timeout: float = 60) -> tuple[int, dict, dict]:
    import httpx

    with httpx.Client(trust_env=False, timeout=timeout) as c:
        r = c.request(method, url, json=body)
    try:
        data = r.json()
    except ValueError:
        data = {"raw": r.text}
    return r.status_code, data, dict(r.headers)


def _answerable(n: int, skip: int = 0) -> list[str]:
    rows = [json.loads(line) for line in (ROOT / "eval" / "gold.jsonl").read_text(encoding="utf-8").splitlines()
            if line.strip()]
    qs = [r["question"] for r in rows if r.get("answers")]
    return qs[skip:skip + n]


def _check_verbatim(record: dict) -> None:
    for p in record["passages"]:
        path = Path(p.get("path") or p["file"])  # `file` from the Gradio API
        text = (path if path.is_absolute() else ROOT / path).read_text(encoding="utf-8")
        assert text[p["start"]:p["end"]] == p["text"], (p["source_id"], p["start"], p["end"])
        for a in p["also_in"]:
            apath = Path(a.get("path") or a["file"])
            atext = (apath if apath.is_absolute() else ROOT / apath).read_text(encoding="utf-8")
            assert atext[a["start"]:a["end"]] == a["text"]


def _access_log(run_dir: Path) -> list[dict]:
    logs = run_dir / "logs" if (run_dir / "logs" / "access.log").exists() else run_dir
    # Oldest first: supervisord rotates access.log to access.log.1, .2, ... by size.
    files = sorted(logs.glob("access.log.*"), key=lambda p: -int(p.suffix[1:])) + [logs / "access.log"]
    lines = [x for f in files for x in f.read_text(encoding="utf-8").splitlines()]
    out = []
    for line in lines:
        m = LOG_LINE.match(line)
        assert m, f"access log line not in the private format: {line!r}"
        out.append(m.groupdict())
    return out


def _stream_closed(run_dir: Path, addr: str) -> bool:
    """Whether nginx has logged an event stream of the learner at `addr` (written when the stream closes)."""
    return any(e["addr"] == addr and e["uri"] == "/gradio_api/queue/data" for e in _access_log(run_dir))


def _workers(master: int) -> set[int]:
    """The live worker processes of the nginx master `master` (a reload replaces them all)."""
    out = set()
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            state, ppid = stat.read_text().rsplit(")", 1)[1].split()[:2]
        except (OSError, IndexError):
            continue  # gone meanwhile
        if int(ppid) == master and state != "Z":
            out.add(int(stat.parent.name))
    return out


class Learners:
    """Learner processes (tests/deploy/learner.py), one source address each; results read as they come."""

    def __init__(self, url: str, work: Path, plan: dict[str, list[str]]):
        self.results: dict[str, list[dict]] = {a: [] for a in plan}
        self.procs = []
        self.threads = []
        for addr, questions in plan.items():
            qfile = work / f"questions-{addr}.json"
            qfile.write_text(json.dumps(questions), encoding="utf-8")
            proc = subprocess.Popen([sys.executable, str(HERE / "learner.py"), url, addr, str(qfile)], cwd=ROOT,
                                    env=_env(), stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
            self.procs.append(proc)
            t = threading.Thread(target=self._read, args=(addr, proc), daemon=True)
            t.start()
            self.threads.append(t)

    def _read(self, addr, proc):
        for line in proc.stdout:
            if line.strip():
                self.results[addr].append(json.loads(line))

    def done(self) -> int:
        return sum(len(r) for r in self.results.values())

    def wait(self, timeout: float = 300) -> dict[str, list[dict]]:
        deadline = time.monotonic() + timeout
        for proc, t in zip(self.procs, self.threads, strict=False):
            proc.wait(timeout=max(1, deadline - time.monotonic()))
            t.join(timeout=10)
        return self.results


@pytest.fixture(scope="module")
def deployment(real_index_dir, tmp_path_factory):
    """`scripts/run-replicas.sh 2` on free ports, serving the session's real index; stopped after the module."""
    work = tmp_path_factory.mktemp("deploy")
    run_dir = work / "run"
    port, first = _free_ports(1), _free_ports(2)
    log = open(work / "supervisor.log", "wb")  # noqa: SIM115 - the supervisor's log, open while it runs
    proc = subprocess.Popen(["bash", str(ROOT / "scripts" / "run-replicas.sh"), "2", "--port", str(port),
                             "--first-port", str(first), "--run-dir", str(run_dir), "--index", str(real_index_dir),
                             "--corpus", str(CORPUS), "--interval", "0.5"],
                            cwd=ROOT, env=_env(), stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    deadline = time.monotonic() + 400
    while "serving http" not in (work / "supervisor.log").read_text(errors="replace"):
        if proc.poll() is not None or time.monotonic() > deadline:
            proc.kill()
            pytest.fail(f"run-replicas.sh did not start: {(work / 'supervisor.log').read_text(errors='replace')}")
        time.sleep(0.5)
    state = json.loads((run_dir / "state.json").read_text())
    d = {"url": state["url"].rstrip("/"), "run_dir": run_dir, "work": work, "proc": proc, "state": state,
         "ports": sorted(int(p) for p in state["replicas"]), "index": real_index_dir,
         "supervisor_log": work / "supervisor.log"}
    yield d
    if proc.poll() is None:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
    log.close()


def test_page_health_and_readiness_through_the_deployment(deployment):
    import httpx

    page = httpx.get(deployment["url"] + "/", trust_env=False, timeout=30)
    assert page.status_code == 200 and "IPT passage assistant" in page.text
    from qa.present.page import PRIVACY_NOTE

    assert PRIVACY_NOTE in page.text  # the footer says questions are not stored
    builds = set()
    for port in deployment["ports"]:
        status, health, _ = _http("GET", f"http://127.0.0.1:{port}/healthz")
        assert (status, health) == (200, {"status": "ok"})
        status, ready, headers = _http("GET", f"http://127.0.0.1:{port}/readyz")
        assert status == 200 and ready["status"] == "ready" and ready["passages"] > 0, ready
        assert headers["cache-control"] == "no-store"
        builds.add(ready["build"])
    # One index directory: both replicas serve the same build of it.
    assert builds == {Path(os.readlink(deployment["index"] / "current")).name}


def test_proxy_refuses_big_bodies_itself_and_passes_field_errors_through(deployment):
    import httpx

    url = deployment["url"]
    r = httpx.post(f"{url}/api/v1/ask", content=b"x" * (4 * 1024 * 1024 + 1), trust_env=False, timeout=30)
    assert r.status_code == 413 and r.json()["error"].startswith("request body larger than 4,194,304")
    status, body, _ = _http("POST", f"{url}/api/v1/ask", {"question": "Who created IPT?", "k": "five"})
    assert status == 422 and body["field"] == "k"
    entries = _access_log(deployment["run_dir"])
    big = [e for e in entries if e["status"] == "413"]
    assert big and all(e["upstream"] == "-" for e in big)  # never reached a replica
    bad = [e for e in entries if e["status"] == "422"]
    assert bad and all("," not in e["upstream"] for e in bad)  # a 422 is the caller's fault: not retried


def test_eighty_questions_spread_over_both_replicas_every_passage_exact(deployment):
    url = deployment["url"]
    addresses = [f"127.0.0.{n}" for n in range(2, 10)]
    gradio_qs = _answerable(40)
    plan = {a: gradio_qs[i::8] for i, a in enumerate(addresses)}
    learners = Learners(url, deployment["work"], plan)
    json_qs = _answerable(40, skip=40)
    with ThreadPoolExecutor(8) as pool:
        answers = list(pool.map(lambda q: _http("POST", f"{url}/api/v1/ask", {"question": q, "k": 5}), json_qs))
    results = learners.wait()

    got = {r["record"]["question"]: r["record"] for rs in results.values() for r in rs if r["ok"]}
    failed = [r["error"] for rs in results.values() for r in rs if not r["ok"]]
    assert not failed and len(got) == 40
    for status, record, headers in answers:
        assert status == 200 and headers["content-type"].startswith("application/json"), record
        got[record["question"]] = record
    assert set(got) == set(gradio_qs) | set(json_qs)
    assert sum(1 for r in got.values() if not r["abstained"]) >= 70  # answerable gold questions
    for record in got.values():
        _check_verbatim(record)

    entries = _access_log(deployment["run_dir"])
    joins = {e["addr"]: e["upstream"] for e in entries if e["uri"] == "/gradio_api/queue/join"}
    streams = {}
    for e in entries:
        if e["uri"] == "/gradio_api/queue/data":
            streams.setdefault(e["addr"], set()).add(e["upstream"])
    # Affinity: each learner's questions and their event streams stay on one replica, and the learners
    # are spread over both; the JSON route goes round-robin over both.
    assert set(joins) == set(addresses)
    assert all(streams[a] == {joins[a]} for a in addresses)
    assert len(set(joins.values())) == 2, joins
    api = [e["upstream"] for e in entries if e["uri"] == "/api/v1/ask" and e["status"] == "200"]
    assert len(api) == 40 and len(set(api)) == 2


CANARY = "zanzibar-canary-7731"


def test_no_question_text_in_nginx_or_app_logs(deployment):
    url = deployment["url"]
    question = f"My {CANARY} worry: can IPT help with my grief?"
    status, record, _ = _http("POST", f"{url}/api/v1/ask", {"question": question})
    assert status == 200 and record["question"] == question
    status, _, _ = _http("POST", f"{url}/api/v1/ask", {"question": question, "k": 0})  # an error path too
    assert status == 422
    learners = Learners(url, deployment["work"], {"127.0.0.20": [question]})
    (result,) = learners.wait()["127.0.0.20"]
    assert result["ok"] and result["record"]["question"] == question
    # nginx writes the event stream's access log line when the stream closes: wait for it, so it is read too.
    wait_for(lambda: _stream_closed(deployment["run_dir"], "127.0.0.20"), "the learner's event stream in the log")
    logs = [*deployment["run_dir"].joinpath("logs").iterdir(), deployment["supervisor_log"]]
    assert any(p.name == "access.log" for p in logs) and sum(p.name.startswith("replica-") for p in logs) == 2
    assert "/api/v1/ask" in (deployment["run_dir"] / "logs" / "access.log").read_text()
    for p in logs:
        text = p.read_text(encoding="utf-8", errors="replace")
        assert CANARY not in text and "grief" not in text, p.name


def test_killed_replica_only_fails_questions_in_flight(deployment):
    url = deployment["url"]
    entries = _access_log(deployment["run_dir"])
    joins = {e["addr"]: e["upstream"] for e in entries if e["uri"] == "/gradio_api/queue/join"}
    victim = int(sorted(joins.values())[0].rpartition(":")[2])
    addresses = [f"127.0.0.{n}" for n in range(2, 10)]
    plan = {a: _answerable(8, skip=i * 8) for i, a in enumerate(addresses)}
    learners = Learners(url, deployment["work"], plan)
    api: list[dict] = []
    stop = threading.Event()

    def json_client(i):
        for q in _answerable(100) * 2:
            if stop.is_set():
                return
            t0 = time.time()
            try:
                status, body, _ = _http("POST", f"{url}/api/v1/ask", {"question": q}, timeout=30)
            except Exception as e:  # noqa: BLE001 - judged below
                status, body = None, {"error": repr(e)}
            api.append({"t0": t0, "t1": time.time(), "status": status, "body": body})

    pool = ThreadPoolExecutor(4)
    futures = [pool.submit(json_client, i) for i in range(4)]
    deadline = time.monotonic() + 120
    while learners.done() < 16 and time.monotonic() < deadline:
        time.sleep(0.05)
    t_kill = time.time()
    os.kill(deployment["state"]["replicas"][str(victim)], signal.SIGKILL)
    deployment["killed"] = victim  # for the tests after this one, whatever this one finds
    results = learners.wait()
    # The JSON clients go on after the kill until each has been answered at least once more.
    wait_for(lambda: sum(a["t0"] > t_kill and a["status"] is not None for a in api) >= 4,
             "the JSON clients to be answered after the kill", timeout=120)
    stop.set()
    for f in futures:
        f.result(timeout=120)
    pool.shutdown()

    in_flight_errors = [r["error"] for rs in results.values() for r in rs if not r["ok"]]
    print(f"\nkill: {len(in_flight_errors)} failed in flight: {in_flight_errors[:3]}; JSON route failures "
          f"{sum(a['status'] != 200 for a in api)} of {len(api)}")
    after = [r for rs in results.values() for r in rs if r["t0"] > t_kill]
    assert len(after) >= 20, "the kill came too late to test anything"
    assert all(r["ok"] for r in after), [r["error"] for r in after if not r["ok"]]
    # Failures: only questions in flight at the kill, only from learners whose replica was killed.
    for addr, rs in results.items():
        for r in rs:
            if not r["ok"]:
                assert r["t0"] <= t_kill < r["t1"] and joins[addr] == f"127.0.0.1:{victim}", (addr, r)
                # The client library's own message (httpx adds a second line with a link to MDN).
                first = r["error"].strip().splitlines()[0]
                assert "Traceback" not in r["error"] and len(first) < 300, r["error"]
                # Seen: "CancelledError" with no message (gradio_client, when the event stream is cut; its own
                # behaviour, not the server's) and nginx's JSON 502 for a join. Either way one line naming the error.
                assert re.fullmatch(r"[A-Za-z_.]+Error:( .*)?", first), first
    assert all(r["ok"] for rs in results.values() for r in rs if r["t1"] < t_kill)
    api_after = [a for a in api if a["t0"] > t_kill]
    assert api_after and all(a["status"] == 200 for a in api_after), [a for a in api_after if a["status"] != 200][:3]
    for a in api:
        assert a["status"] == 200 or a["t0"] <= t_kill, a
    for rs in results.values():
        for r in rs:
            if r["ok"]:
                _check_verbatim(r["record"])
    # supervisord saw it go and starts it again (nginx's passive checks pass over it meanwhile: issue 21).
    seen = f"exited: replica-{victim} (terminated by SIGKILL; not expected)"
    wait_for(lambda: seen in deployment["supervisor_log"].read_text(), f"the supervisor to say {seen!r}", 30)


def _load_replicas_module():
    spec = importlib.util.spec_from_file_location("deploy_replicas", ROOT / "deploy" / "replicas.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_replica_with_damaged_index_answers_503_and_nginx_routes_around_it(deployment):
    """A third replica on its own copy of the index, beside the survivor of the kill, behind a second nginx
    with the same generated configuration; its index is damaged once it is serving. Nothing rewrites nginx's
    configuration (issue 30): its proxy_next_upstream passes over the replica's 503."""
    survivor = next(p for p in deployment["ports"] if p != deployment.get("killed"))
    work = deployment["work"]
    index_copy = work / "index-copy"
    shutil.copytree(deployment["index"], index_copy, symlinks=True)
    replicas = _load_replicas_module()
    damaged, port, run = _free_ports(1), _free_ports(1), work / "run2"
    (run / "tmp").mkdir(parents=True)
    (run / "nginx.conf").write_text(replicas.nginx_conf(port, "second"))
    (run / "replicas.conf").write_text(replicas.replicas_conf([survivor, damaged]))
    replica_log, access = open(work / "replica3.log", "wb"), open(run / "access.log", "wb")  # noqa: SIM115
    replica = subprocess.Popen([sys.executable, "-m", "qa", "serve", "--port", str(damaged), "--index",
                                str(index_copy), "--corpus", str(CORPUS)], cwd=ROOT, env=_env(),
                               stdout=replica_log, stderr=subprocess.STDOUT)
    nginx = subprocess.Popen([NGINX, "-p", str(run), "-c", str(run / "nginx.conf"), "-e", "stderr", "-g",
                              "daemon off;"], stdout=access, stderr=subprocess.DEVNULL)
    try:
        wait_for(lambda: replicas.readyz(damaged)[0] == 200, "the third replica to be ready", 300, interval=0.5)
        url = f"http://127.0.0.1:{port}"
        wait_for(lambda: replicas.front_token(port) == "second", "the second nginx", 30)

        faiss_file = Path(os.path.realpath(index_copy / "current")) / "dense.faiss"
        data = bytearray(faiss_file.read_bytes())
        data[len(data) // 2] ^= 0xFF  # same size: only the hash can tell
        faiss_file.write_bytes(bytes(data))
        status, ready, _ = _http("GET", f"http://127.0.0.1:{damaged}/readyz")
        assert status == 503 and ready["status"] == "not ready"
        assert "dense.faiss" in ready["reason"] and "damaged" in ready["reason"] and "\n" not in ready["reason"]
        status, body, _ = _http("POST", f"http://127.0.0.1:{damaged}/api/v1/ask", {"question": "Who created IPT?"})
        assert status == 503 and "not ready" in body["error"]

        # Every question through the proxy is answered, by the survivor: the 503 is retried there.
        for q in _answerable(10, skip=60):
            status, record, _ = _http("POST", f"{url}/api/v1/ask", {"question": q})
            assert status == 200 and record["question"] == q
        access.flush()
        later = [e for e in _access_log(run) if e["uri"] == "/api/v1/ask"]
        assert len(later) == 10 and all(e["upstream"].endswith(f"127.0.0.1:{survivor}") for e in later), later
    finally:
        nginx.terminate()
        replica.terminate()
        nginx.wait(timeout=30)
        replica.wait(timeout=60)
        replica_log.close()
        access.close()


def test_ctrl_c_stops_nginx_and_every_replica(deployment):
    proc, state = deployment["proc"], deployment["state"]
    pids = [state["nginx"], *state["replicas"].values()]
    proc.send_signal(signal.SIGINT)
    assert proc.wait(timeout=60) == 0
    for pid in pids:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            continue
        # a zombie is gone for good; only a live process counts
        assert Path(f"/proc/{pid}/stat").read_text().split()[2] == "Z", f"pid {pid} still runs"
    assert "stopped" in deployment["supervisor_log"].read_text()

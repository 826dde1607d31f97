"""6. Replicas behind nginx: /ask and /api/v1/ask throughput at 32 clients through nginx with 1 and with 2
replicas, against the same clients talking straight to one replica, in the same run; p95 latency; what the
health checks cost.

Two `ipt-qa serve` processes (the real page, the project's index, each with its own model) and two nginx
instances from deploy/nginx.conf made by deploy/replicas.py's generators (`nginx_conf`, `replicas_conf`,
`readyz`), started here directly rather than under supervisord (a benchmark wants no restarts): one nginx in
front of replica 1, one in front of replicas 1 and 2. Each load run is a child process (bench/load.py,
`--spread`) whose 32 threads bind 32 loopback addresses, so that the page's per-address affinity spreads
them, and whose questions are made unique (`--tag`), so that each request embeds, as a new learner's would.
Rounds rotate the order of the three set-ups, so that drift in the machine's load does not favour one.
"""

from __future__ import annotations

import importlib.util
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

from .common import ROOT, Figure, Report, free_port, mib, percentile, proc_status
from .load import run_child

SECTION = "6"


def _replicas_module():
    spec = importlib.util.spec_from_file_location("deploy_replicas", ROOT / "deploy" / "replicas.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def _split(run_dir: Path, uri: str) -> dict[str, int]:
    """Requests per replica for `uri`, from that nginx's (private-format) access log."""
    seen: Counter = Counter()
    for line in (run_dir / "logs" / "access.log").read_text(encoding="utf-8").splitlines():
        m = re.search(r'"POST (\S+)" \d+ \d+ \S+ upstream=(\S+)', line)
        if m and m.group(1) == uri:
            seen[m.group(2).rpartition(":")[2]] += 1
    return dict(seen)


class _Front:
    """Replicas and one nginx in front of them, as plain child processes (logs under `run_dir/logs`)."""

    def __init__(self, replicas, run_dir: Path, ports: list[int], index: Path, corpus: Path):
        self.mod, self.run_dir, self.ports = replicas, run_dir, ports
        self.index, self.corpus = index, corpus
        self.port = free_port()
        self.procs: dict[int, subprocess.Popen] = {}
        (run_dir / "logs").mkdir(parents=True, exist_ok=True)
        (run_dir / "tmp").mkdir(exist_ok=True)

    def _spawn(self, cmd: list[str], log: str) -> subprocess.Popen:
        env = {**os.environ, "HF_HUB_OFFLINE": "1", "GRADIO_ANALYTICS_ENABLED": "False", "DISABLE_TQDM": "1"}
        with open(self.run_dir / "logs" / log, "ab") as out:
            return subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT,
                                    stdin=subprocess.DEVNULL, start_new_session=True)

    def start_replica(self, port: int) -> None:
        ipt_qa = str(Path(sys.executable).with_name("ipt-qa"))
        self.procs[port] = self._spawn([ipt_qa, "serve", "--host", "127.0.0.1", "--port", str(port), "--index",
                                        str(self.index), "--corpus", str(self.corpus)], f"replica-{port}.log")

    def wait_ready(self, port: int, timeout: float = 300) -> None:
        deadline = time.monotonic() + timeout
        while self.mod.readyz(port)[0] != 200:
            if time.monotonic() > deadline:
                raise RuntimeError(f"replica {port} not ready in {timeout:.0f} s")
            time.sleep(0.5)

    def start_nginx(self) -> None:
        (self.run_dir / "nginx.conf").write_text(self.mod.nginx_conf(self.port, "bench"), encoding="utf-8")
        (self.run_dir / "replicas.conf").write_text(self.mod.replicas_conf(self.ports), encoding="utf-8")
        nginx = shutil.which("nginx") or "/usr/sbin/nginx"
        self.nginx = self._spawn([nginx, "-p", str(self.run_dir), "-c", str(self.run_dir / "nginx.conf"), "-e",
                                  "stderr", "-g", "daemon off;"], "access.log")

    def stop_all(self) -> None:
        for proc in [*self.procs.values(), getattr(self, "nginx", None)]:
            if proc is not None and proc.poll() is None:
                proc.terminate()
                try:
                    proc.wait(timeout=20)
                except subprocess.TimeoutExpired:
                    proc.kill()


def run(report: Report, searcher, n_clients: int = 32, per_client: int = 6, rounds: int = 2) -> dict:
    if not shutil.which("nginx") and not Path("/usr/sbin/nginx").exists():
        report.note(SECTION, "skipped: nginx is not installed (apt-get install -y nginx)")
        return {}
    from qa.paths import default_corpus, default_index

    replicas = _replicas_module()
    work = Path(tempfile.mkdtemp(prefix="bench-replicas-"))
    p1, p2 = free_port(), free_port()

    def supervisor(name: str, ports: list[int]) -> _Front:
        return _Front(replicas, work / name, list(ports), default_index().resolve(), default_corpus().resolve())

    one, two = supervisor("one", [p1]), supervisor("two", [p1, p2])
    try:
        t0 = time.perf_counter()
        one.start_replica(p1)
        two.start_replica(p2)  # `two` fronts replica 1 as well, which `one` owns
        one.wait_ready(p1)
        two.wait_ready(p2)
        one.start_nginx()
        two.start_nginx()
        report.note(SECTION, f"2 replicas (ports {p1}, {p2}) and 2 nginx ready in {time.perf_counter() - t0:.1f} s")
        setups = [("direct to one replica", f"http://127.0.0.1:{p1}"),
                  ("nginx + 1 replica", f"http://127.0.0.1:{one.port}"),
                  ("nginx + 2 replicas", f"http://127.0.0.1:{two.port}")]
        out: dict = {}
        for mode, label in (("http", "/ask (Gradio HTTP API)"), ("json", "/api/v1/ask")):
            rps = {name: [] for name, _ in setups}
            lat = {name: [] for name, _ in setups}
            errors = []
            for r in range(rounds):
                order = setups[r % 3:] + setups[:r % 3]
                for name, url in order:
                    res = run_child(url, n_clients, per_client, via=mode, spread=True, tag=f"{mode}{r}{name[:6]}")
                    rps[name].append(res["rps"])
                    lat[name] += res["latencies_ms"]
                    errors += res["errors"]
            base = "direct to one replica"
            for name in ("nginx + 1 replica", "nginx + 2 replicas"):
                report.add(Figure(SECTION, f"{label} throughput, {n_clients} clients, {name}", "req/s", rps[name],
                                  f"{n_clients} clients {base}", rps[base], note=f"{rounds} rounds"))
            for name in ("nginx + 1 replica", "nginx + 2 replicas"):
                report.add(Figure(SECTION, f"{label} latency, {n_clients} clients, {name}", "ms", lat[name],
                                  f"{n_clients} clients {base}", lat[base]))
            uri = "/api/v1/ask" if mode == "json" else "/gradio_api/call/ask"
            split = _split(two.run_dir, uri)
            sent = rounds * 3 * n_clients * per_client
            report.note(SECTION, f"{label}: errors {len(errors)} of {sent}" + (f" (first: {errors[0]})" if errors
                        else "") + f"; nginx + 2 replicas sent {uri} to ports {split}; p95 "
                        + ", ".join(f"{n} {percentile(v, 95):.0f} ms" for n, v in lat.items()))
            out[mode] = {"rps": rps, "p95": {n: percentile(v, 95) for n, v in lat.items()}, "errors": errors,
                         "split": split}

        rss = {p: mib(proc_status(sup.procs[p].pid).get("VmRSS", 0)) for sup, p in ((one, p1), (two, p2))}
        report.note(SECTION, "replica memory after the runs (VmRSS): "
                    + ", ".join(f"port {p} {v:.0f} MiB" for p, v in rss.items()))
        out["rss_mib"] = rss
        _health_cost(report, searcher, p1)
        return out
    finally:
        one.stop_all()
        two.stop_all()
        shutil.rmtree(work, ignore_errors=True)


def _health_cost(report: Report, searcher, port: int) -> None:
    """What a readiness check costs: in process (stat cache) against a full re-check that hashes every
    file, and over HTTP against /healthz, which checks nothing."""
    import httpx

    from qa.paths import default_corpus
    from qa.serve.backend import LocalBackend

    backend = LocalBackend(searcher, default_corpus())
    backend.readiness()
    cached, full = [], []
    for _ in range(50):
        t = time.perf_counter()
        for _ in range(100):
            backend.readiness()
        cached.append((time.perf_counter() - t) / 100 * 1e6)
        t = time.perf_counter()
        backend._check_index(searcher.index)
        backend._check_corpus(searcher.index)
        full.append((time.perf_counter() - t) * 1e6)
    report.add(Figure(SECTION, "readiness() in process (stat cache)", "us", cached,
                      "full re-check (hash every index and source file)", full))
    h = httpx.Client(trust_env=False, timeout=10)
    ready, health = [], []
    for i in range(200):
        for path, sink in ((("/readyz", ready), ("/healthz", health)) if i % 2 else
                           (("/healthz", health), ("/readyz", ready))):
            t = time.perf_counter()
            r = h.get(f"http://127.0.0.1:{port}{path}")
            sink.append((time.perf_counter() - t) * 1e3)
            if r.status_code != 200:
                raise RuntimeError(f"{path} answered {r.status_code}: {r.text[:200]}")
    h.close()
    report.add(Figure(SECTION, "GET /readyz round trip, direct to a replica", "ms", ready, "GET /healthz", health))

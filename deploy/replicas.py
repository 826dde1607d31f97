"""Run N `ipt-qa serve` replicas behind nginx on this machine under supervisord (scripts/run-replicas.sh).

    python deploy/replicas.py N [--port 8080] [--first-port 7861] [--run-dir .run/replicas]
                              [--index DIR] [--corpus DIR] [--log-max-bytes 5242880] [--log-backups 3]

supervisord does the process management: one program group of N replicas and nginx itself, each started
again when it exits, with supervisord's back-off (1 s, 2 s, 3 s, ... between tries) and a bounded number of
start retries, logs rotated by size. Only what is specific to this product is here:

1. the index is checked (and built when missing or stale) once, so that N replicas do not each rebuild it;
2. RUN_DIR/supervisord.conf, RUN_DIR/nginx.conf (deploy/nginx.conf with the port and a token of this
   deployment) and RUN_DIR/replicas.conf (the upstream servers, written once) are generated;
3. supervisord runs in the foreground as this script's child; start-up waits until the front port answers
   /healthz with this deployment's token (nginx's own error line and exit 1 otherwise, e.g. a port taken by
   someone else) and every replica answers /readyz;
4. while it runs, a replica that cannot start (BACKOFF, FATAL) is named with the last line of its log, and a
   replica supervisord gave up on is tried again after --fatal-retry seconds;
5. SIGHUP: a rolling restart for new code, one replica at a time through `supervisorctl restart`, waiting for
   /readyz in between (nginx sends requests to the others meanwhile: proxy_next_upstream);
6. Ctrl-C (SIGINT) or SIGTERM: supervisord stops nginx and the replicas, then this exits.

Operators: `supervisorctl -c RUN_DIR/supervisord.conf status`. RUN_DIR/state.json holds pids, ports and the
URL (for scripts and tests).
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import shlex
import shutil
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CONF = Path(__file__).resolve().parent / "nginx.conf"
HOST = "127.0.0.1"
TOKEN_HEADER = "X-IPT-QA-Deployment"
# urllib without proxies: these requests are for loopback only, whatever the environment says.
_OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({}))


def say(msg: str) -> None:
    print(f"run-replicas: {msg}", flush=True)


def _tool(name: str) -> str:
    """An executable of the venv this runs in (supervisord, supervisorctl, ipt-qa), else from PATH."""
    beside = Path(sys.executable).with_name(name)
    return str(beside) if beside.exists() else (shutil.which(name) or name)


def readyz(port: int, timeout: float = 2.0) -> tuple[int | None, str]:
    """(status, reason) of a replica's /readyz; (None, why) when it does not answer."""
    try:
        with _OPENER.open(f"http://{HOST}:{port}/readyz", timeout=timeout) as r:
            return r.status, ""
    except urllib.error.HTTPError as e:
        try:
            reason = json.loads(e.read()).get("reason", "")
        except ValueError:
            reason = ""
        return e.code, reason
    except OSError as e:
        return None, f"no answer ({getattr(e, 'reason', e)})"


def front_token(port: int) -> str | None:
    """The deployment token the front port's /healthz answers with (None: no answer, or not ours)."""
    try:
        with _OPENER.open(f"http://{HOST}:{port}/healthz", timeout=2) as r:
            return r.headers.get(TOKEN_HEADER)
    except OSError:
        return None


# 30 s, not 5: a replica that supervisord restarts comes back within seconds (ONNX, issue 29), and a learner
# whose page moved to another replica while it was down would have the next question's queue join on one
# replica and its event stream on the other (affinity by address) if it came back into the rotation at once.
def replicas_conf(ports: list[int]) -> str:
    return "# written by deploy/replicas.py: one line per replica\n" + "".join(
        f"server {HOST}:{p} max_fails=1 fail_timeout=30s;\n" for p in ports)


def nginx_conf(listen_port: int, token: str, template: str | None = None) -> str:
    text = CONF.read_text(encoding="utf-8") if template is None else template
    for old, new in (("listen 127.0.0.1:8080;", f"listen {HOST}:{listen_port};"),
                     (f'{TOKEN_HEADER} "none"', f'{TOKEN_HEADER} "{token}"')):
        if old not in text:
            raise SystemExit(f"run-replicas: {CONF} has no `{old}` to set")
        text = text.replace(old, new)
    return text


def _quote(parts: list[str]) -> str:
    return shlex.join(parts).replace("%", "%%")  # supervisord expands %(name)s in commands


def supervisord_conf(args, run_dir: Path, replica_cmd: list[str]) -> str:
    logs, size, backups = run_dir / "logs", args.log_max_bytes, args.log_backups

    def rotate(prefix: str = "") -> str:
        return f"{prefix}logfile_maxbytes={size}\n{prefix}logfile_backups={backups}\n"

    nginx = shutil.which("nginx") or "/usr/sbin/nginx"
    return f"""; generated by deploy/replicas.py; `supervisorctl -c {run_dir}/supervisord.conf status`
[unix_http_server]
file={run_dir}/supervisor.sock
chmod=0700

[supervisord]
logfile={logs}/supervisord.log
{rotate()}pidfile={run_dir}/supervisord.pid
childlogdir={logs}
directory={ROOT}
nodaemon=true

[rpcinterface:supervisor]
supervisor.rpcinterface_factory = supervisor.rpcinterface:make_main_rpcinterface

[supervisorctl]
serverurl=unix://{run_dir}/supervisor.sock

[program:replicas]
command={_quote(replica_cmd)} --port %(process_num)d
process_name=replica-%(process_num)d
numprocs={args.n}
numprocs_start={args.first_port}
priority=100
autorestart=true
startsecs={args.start_secs}
startretries={args.start_retries}
stopasgroup=true
killasgroup=true
stopwaitsecs=15
environment=HF_HUB_OFFLINE="1",GRADIO_ANALYTICS_ENABLED="False",DISABLE_TQDM="1"
redirect_stderr=true
stdout_logfile={logs}/replica-%(process_num)d.log
{rotate('stdout_')}
[program:nginx]
command={_quote([nginx, '-p', str(run_dir), '-c', str(run_dir / 'nginx.conf'), '-e', 'stderr', '-g', 'daemon off;'])}
priority=900
autorestart=true
startsecs=1
startretries={args.start_retries}
stopsignal=QUIT
stopwaitsecs=10
stdout_logfile={logs}/access.log
{rotate('stdout_')}stderr_logfile={logs}/error.log
{rotate('stderr_')}"""


def _last_line(path: Path, containing: str = "") -> str:
    try:
        lines = [x for x in path.read_text(errors="replace").splitlines() if containing in x and x.strip()]
    except FileNotFoundError:
        return "(no log yet)"
    return lines[-1].strip() if lines else "(no output)"


class Deployment:
    def __init__(self, args):
        self.args = args
        self.run_dir = Path(args.run_dir).resolve()
        self.logs = self.run_dir / "logs"
        self.ports = [args.first_port + i for i in range(args.n)]
        self.conf = self.run_dir / "supervisord.conf"
        self.token = secrets.token_hex(8)
        self.proc: subprocess.Popen | None = None
        self.rolling = False
        self.seen: dict[str, tuple[str, int]] = {}  # process -> (state, start) last reported
        self.fatal_since: dict[str, float] = {}

    def replica_command(self) -> list[str]:
        if self.args.replica_command:  # tests: a stand-in replica
            return shlex.split(self.args.replica_command)
        exe = _tool("ipt-qa")
        cmd = [exe] if Path(exe).exists() else [sys.executable, "-m", "qa"]
        return [*cmd, "serve", "--host", HOST, "--index", str(self.args.index), "--corpus", str(self.args.corpus)]

    def rpc(self):
        import xmlrpc.client

        from supervisor.xmlrpc import SupervisorTransport

        transport = SupervisorTransport(None, None, f"unix://{self.run_dir}/supervisor.sock")
        return xmlrpc.client.ServerProxy("http://127.0.0.1", transport=transport).supervisor

    def info(self) -> dict[str, dict]:
        try:
            return {i["name"]: i for i in self.rpc().getAllProcessInfo()}
        except OSError:
            return {}

    def ctl(self, *words: str) -> str:
        r = subprocess.run([_tool("supervisorctl"), "-c", str(self.conf), *words], capture_output=True, text=True)
        return (r.stdout + r.stderr).strip()

    def write_state(self) -> None:
        info = self.info()
        state = {"supervisor": os.getpid(), "supervisord": self.proc.pid if self.proc else None,
                 "url": f"http://{HOST}:{self.args.port}/", "conf": str(self.conf), "token": self.token,
                 "nginx": info.get("nginx", {}).get("pid") or None,
                 "replicas": {str(p): info.get(f"replica-{p}", {}).get("pid") or None for p in self.ports},
                 "run_dir": str(self.run_dir)}
        tmp = self.run_dir / "state.json.tmp"
        tmp.write_text(json.dumps(state, indent=1), encoding="utf-8")
        os.replace(tmp, self.run_dir / "state.json")

    def start(self) -> None:
        self.logs.mkdir(parents=True, exist_ok=True)
        (self.run_dir / "tmp").mkdir(exist_ok=True)
        (self.run_dir / "nginx.conf").write_text(nginx_conf(self.args.port, self.token), encoding="utf-8")
        (self.run_dir / "replicas.conf").write_text(replicas_conf(self.ports), encoding="utf-8")
        self.conf.write_text(supervisord_conf(self.args, self.run_dir, self.replica_command()), encoding="utf-8")
        nginx = shutil.which("nginx") or "/usr/sbin/nginx"
        check = subprocess.run([nginx, "-p", str(self.run_dir), "-c", str(self.run_dir / "nginx.conf"), "-e",
                                "stderr", "-t", "-q", "-g", "daemon off;"], capture_output=True, text=True)
        if check.returncode:
            raise RuntimeError(f"nginx rejects the configuration: {check.stderr.strip()}")
        env = {**os.environ, "HF_HUB_OFFLINE": "1", "GRADIO_ANALYTICS_ENABLED": "False", "DISABLE_TQDM": "1"}
        # Own session: Ctrl-C reaches this script only, which then has supervisord stop everything in order.
        self.proc = subprocess.Popen([_tool("supervisord"), "-c", str(self.conf)], cwd=ROOT, env=env,
                                     stdin=subprocess.DEVNULL, start_new_session=True)
        say(f"supervisord started: {len(self.ports)} replicas on ports {', '.join(map(str, self.ports))} and "
            f"nginx on {HOST}:{self.args.port} (logs in {self.logs}) ...")
        self.wait_front()
        for p in self.ports:
            self.wait_ready(p)

    def wait_front(self, timeout: float = 60) -> None:
        """The front port answers with this deployment's token, or nginx's own error line is the failure."""
        deadline = time.monotonic() + timeout
        while front_token(self.args.port) != self.token:
            emerg = _last_line(self.logs / "error.log", "[emerg]")
            if "[emerg]" in emerg:
                raise RuntimeError(f"nginx cannot serve on {HOST}:{self.args.port}: {emerg}")
            if self.proc is not None and self.proc.poll() is not None:
                raise RuntimeError(f"supervisord exited with code {self.proc.returncode}")
            if time.monotonic() > deadline:
                raise RuntimeError(f"{HOST}:{self.args.port} did not answer with this deployment's nginx within "
                                   f"{timeout:.0f} s; see {self.logs / 'error.log'}")
            time.sleep(0.2)

    def wait_ready(self, port: int, timeout: float = 300) -> None:
        deadline = time.monotonic() + timeout
        while True:
            status, reason = readyz(port)
            if status == 200:
                return
            state = self.info().get(f"replica-{port}", {}).get("statename")
            if state == "FATAL" or time.monotonic() > deadline:
                why = _last_line(self.logs / f"replica-{port}.log")
                raise RuntimeError(f"the replica on port {port} is not ready ({state}; {status}: {reason}): {why}")
            time.sleep(0.3)

    def watch(self) -> None:
        """Say when a process cannot start (with its log's last line), and try a FATAL replica again later."""
        now = time.monotonic()
        for name, i in self.info().items():
            state, key = i["statename"], (i["statename"], i["start"])
            if state in ("BACKOFF", "FATAL") and self.seen.get(name) != key:
                log = self.logs / ("error.log" if name == "nginx" else f"{name}.log")
                more = f"; trying again in {self.args.fatal_retry:g} s" if state == "FATAL" else ""
                say(f"{name} cannot start ({state}: {i['description'] or i['spawnerr']}){more}; "
                    f"its log says: {_last_line(log)}")
            self.seen[name] = key
            if state != "FATAL":
                self.fatal_since.pop(name, None)
            elif now - self.fatal_since.setdefault(name, now) >= self.args.fatal_retry:
                self.fatal_since.pop(name)
                group = "nginx" if name == "nginx" else f"replicas:{name}"
                say(f"{name}: {self.ctl('start', group)}")

    def rolling_restart(self) -> None:
        say("restarting the replicas one at a time (supervisorctl restart, then /readyz)")
        for p in self.ports:
            say(self.ctl("restart", f"replicas:replica-{p}").replace("\n", "; "))
            try:
                self.wait_ready(p)
            except RuntimeError as e:
                say(f"{e}; stopping the rolling restart here (the others are untouched)")
                return
            self.write_state()
        say("every replica restarted")

    def stop(self) -> None:
        if self.proc is None or self.proc.poll() is not None:
            return
        self.proc.terminate()  # supervisord stops nginx (QUIT: finishes what is in flight), then the replicas
        try:
            self.proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait()

    def run(self) -> int:
        def on_hup(signum, frame):
            self.rolling = True

        def on_term(signum, frame):
            raise KeyboardInterrupt

        signal.signal(signal.SIGHUP, on_hup)
        signal.signal(signal.SIGTERM, on_term)
        try:
            self.start()
            self.write_state()
            say(f"serving http://{HOST}:{self.args.port}/ through nginx ({len(self.ports)} replicas, one index: "
                f"{self.args.index}). Ctrl-C stops everything; `supervisorctl -c {self.conf} status` shows them; "
                f"after new code, `kill -HUP {os.getpid()}` restarts the replicas one at a time.")
            while True:
                if self.proc is not None and self.proc.poll() is not None:
                    raise RuntimeError(f"supervisord exited with code {self.proc.returncode}")
                self.watch()
                if self.rolling:
                    self.rolling = False
                    self.rolling_restart()
                self.write_state()
                time.sleep(self.args.interval)
        except KeyboardInterrupt:
            say("stopping nginx and the replicas ...")
            return 0
        except RuntimeError as e:
            say(str(e))
            return 1
        finally:
            signal.signal(signal.SIGTERM, signal.SIG_IGN)  # a second signal must not cut the clean-up short
            signal.signal(signal.SIGINT, signal.SIG_IGN)
            self.stop()
            say("stopped")


def ensure_index(index: Path, corpus: Path) -> None:
    """Build the index once here when it is missing or stale: N replicas building it at once would each
    install a build, and the oldest ones would be pruned under the replicas serving them."""
    sys.path.insert(0, str(ROOT))
    from qa.errors import IndexCorrupt, IndexProblem
    from qa.index.load import load_index

    try:
        load_index(index, corpus)
        return
    except IndexCorrupt as e:
        raise SystemExit(f"run-replicas: {e}") from None
    except IndexProblem as e:
        say(f"{e}; building it now")
    if subprocess.run([sys.executable, "-m", "qa", "build", "--index", str(index), "--corpus", str(corpus)],
                      cwd=ROOT).returncode:
        raise SystemExit("run-replicas: the index could not be built (see above)")


def parse(argv: list[str] | None = None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(prog="run-replicas", description=__doc__.splitlines()[0])
    ap.add_argument("n", type=int, metavar="N", help="how many replicas (1-16)")
    ap.add_argument("--port", type=int, default=int(os.environ.get("PORT", 8080)),
                    help="nginx listens on 127.0.0.1:PORT (default: $PORT or 8080)")
    ap.add_argument("--first-port", type=int, default=int(os.environ.get("FIRST_PORT", 7861)),
                    help="replicas listen on FIRST_PORT, FIRST_PORT+1, ... (default: $FIRST_PORT or 7861)")
    ap.add_argument("--run-dir", default=os.environ.get("RUN_DIR", str(ROOT / ".run" / "replicas")),
                    help="generated configs, logs and state.json (default: .run/replicas)")
    ap.add_argument("--index", type=Path, default=Path(os.environ.get("IPT_QA_INDEX", ROOT / "index")))
    ap.add_argument("--corpus", type=Path, default=Path(os.environ.get("IPT_QA_CORPUS", ROOT / "corpus")))
    ap.add_argument("--interval", type=float, default=1.0, help="seconds between looks at the processes")
    ap.add_argument("--log-max-bytes", type=int, default=5 * 1024 * 1024,
                    help="each log file is rotated at this size (default 5 MiB)")
    ap.add_argument("--log-backups", type=int, default=3, help="rotated copies kept per log (default 3)")
    ap.add_argument("--start-secs", type=int, default=10,
                    help="a process that exits sooner after its start counts as not started (default 10)")
    ap.add_argument("--start-retries", type=int, default=5,
                    help="tries, 1 s, 2 s, ... apart, before supervisord gives up on a process (default 5)")
    ap.add_argument("--fatal-retry", type=float, default=60.0,
                    help="seconds before a replica supervisord gave up on is tried again (default 60)")
    ap.add_argument("--replica-command", help=argparse.SUPPRESS)  # tests: a stand-in for `ipt-qa serve`
    args = ap.parse_args(argv)
    if not 1 <= args.n <= 16:
        ap.error(f"N must be between 1 and 16, not {args.n}")
    args.index, args.corpus = args.index.resolve(), args.corpus.resolve()
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse(argv)
    if not (shutil.which("nginx") or os.access("/usr/sbin/nginx", os.X_OK)):
        print("run-replicas: nginx is not installed; install it with: sudo apt-get install -y nginx", file=sys.stderr)
        return 2
    if not Path(_tool("supervisord")).exists() and not shutil.which("supervisord"):
        print("run-replicas: supervisord is not installed; pip install supervisor (scripts/setup.sh does)",
              file=sys.stderr)
        return 2
    if not args.replica_command:
        ensure_index(args.index, args.corpus)
    return Deployment(args).run()


if __name__ == "__main__":
    sys.exit(main())

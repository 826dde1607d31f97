"""Run N `ipt-qa serve` replicas behind nginx on this machine (what scripts/run-replicas.sh starts).

    python deploy/replicas.py N [--port 8080] [--first-port 7861] [--run-dir .run/replicas]
                              [--index DIR] [--corpus DIR] [--interval 1]

1. checks the index once (building it when missing or stale), so that N replicas do not each rebuild it;
2. starts N replicas on 127.0.0.1:FIRST_PORT.. reading that one index directory, each logging to
   RUN_DIR/logs/replica-PORT.log, and waits until every one answers /readyz;
3. starts nginx with deploy/nginx.conf (listening on 127.0.0.1:PORT) and RUN_DIR/replicas.conf;
4. polls every replica's /readyz each INTERVAL seconds: a replica that answers anything but 200 (or does not
   answer) is marked `down` in replicas.conf and nginx reloads; it comes back the same way once ready.
   (nginx's own passive checks, max_fails, cover the seconds in between, and alone cover a port where no
   process listens: no reload, which would cut idle client connections). A replica whose process exited
   (kill -9, a crash) is reaped and started again at once, or after a back-off of up to 30 s when it keeps
   dying within a minute of its start;
5. on SIGHUP restarts the replicas one at a time: take one out, let its requests finish, restart it, wait
   until it is ready, put it back, then the next (for new code: a rebuilt index reaches a running replica
   by itself, qa/serve/live.py);
6. on Ctrl-C (SIGINT) or SIGTERM stops nginx, then every replica, and exits.

RUN_DIR/state.json holds the pids and ports (for scripts and tests).
"""

from __future__ import annotations

import argparse
import json
import os
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
NOT_LISTENING = "no process listening"  # readyz's reason when the port refuses or resets the connection
DRAIN_SECONDS = 3.0  # a question takes well under a second; a replica taken out gets this long to finish
# urllib without proxies: these requests are for loopback only, whatever the environment says.
_OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({}))


def say(msg: str) -> None:
    print(f"run-replicas: {msg}", flush=True)


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
        why = getattr(e, "reason", e)
        if isinstance(why, (ConnectionRefusedError, ConnectionResetError)):
            return None, f"{NOT_LISTENING} ({why})"
        return None, f"no answer ({why})"


def replicas_conf(ports: list[int], down: set[int]) -> str:
    lines = ["# written by deploy/replicas.py: one line per replica; `down` = its /readyz is not 200\n"]
    for p in ports:
        lines.append(f"server {HOST}:{p} max_fails=1 fail_timeout=5s{' down' if p in down else ''};\n")
    return "".join(lines)


def nginx_conf(listen_port: int) -> str:
    text = CONF.read_text(encoding="utf-8")
    old = "listen 127.0.0.1:8080;"
    if old not in text:
        raise SystemExit(f"run-replicas: {CONF} has no `{old}` line to set the port in")
    return text.replace(old, f"listen {HOST}:{listen_port};")


class Supervisor:
    def __init__(self, args):
        self.args = args
        self.run_dir = Path(args.run_dir).resolve()
        self.ports = [args.first_port + i for i in range(args.n)]
        self.procs: dict[int, subprocess.Popen] = {}
        self.nginx: subprocess.Popen | None = None
        self.down: set[int] = set()  # as written in replicas.conf
        self.draining: set[int] = set()
        self.rolling = False
        self.started: dict[int, float] = {}  # port -> monotonic time of its last start
        self.retry_at: dict[int, float] = {}  # port -> when an exited replica is started again
        self.backoff: dict[int, float] = {}
        self.absent: set[int] = set()  # not listening, left to nginx's passive checks (logged once)
        self.restarts = 0  # replicas started again after they exited (for tests and the log)

    # -- pieces -------------------------------------------------------------------------------------------

    def replica_command(self, port: int) -> list[str]:
        exe = shutil.which("ipt-qa")
        cmd = [exe] if exe else [sys.executable, "-m", "qa"]
        return [*cmd, "serve", "--host", HOST, "--port", str(port), "--index", str(self.args.index),
                "--corpus", str(self.args.corpus)]

    def start_replica(self, port: int) -> None:
        cmd = self.replica_command(port)
        env = {**os.environ, "HF_HUB_OFFLINE": "1", "GRADIO_ANALYTICS_ENABLED": "False", "DISABLE_TQDM": "1"}
        # Own session: Ctrl-C reaches this supervisor only, which then stops everything in order.
        with open(self.run_dir / "logs" / f"replica-{port}.log", "ab") as log:
            self.procs[port] = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT,
                                                stdin=subprocess.DEVNULL, start_new_session=True)
        self.started[port] = time.monotonic()
        self.retry_at.pop(port, None)

    def reap(self) -> None:
        """Start again every replica whose process has exited. Before, a replica killed with -9 stayed
        <defunct> and `down` for good, and the deployment served with one replica fewer until a restart."""
        now = time.monotonic()
        for p in self.ports:
            proc = self.procs.get(p)
            if p in self.draining or proc is None or proc.poll() is None:  # poll() also reaps the zombie
                continue
            if p not in self.retry_at:
                quick = now - self.started.get(p, now) < 60
                self.backoff[p] = min(30.0, self.backoff.get(p, 0.5) * 2) if quick else 0.0
                self.retry_at[p] = now + self.backoff[p]
                say(f"replica {HOST}:{p} exited (code {proc.returncode}); starting it again"
                    + (f" in {self.backoff[p]:.0f} s" if self.backoff[p] else ""))
            if now >= self.retry_at[p]:
                self.start_replica(p)
                self.restarts += 1
                self.write_state()

    def tick(self) -> None:
        """One turn of the supervising loop: restart what exited, roll on SIGHUP, mark readiness in nginx."""
        self.reap()
        if self.rolling:
            self.rolling = False
            self.rolling_restart()
        self.poll()

    def wait_ready(self, port: int, timeout: float = 300) -> None:
        deadline = time.monotonic() + timeout
        while True:
            proc = self.procs[port]
            if proc.poll() is not None:
                tail = (self.run_dir / "logs" / f"replica-{port}.log").read_text(errors="replace").strip()
                last = tail.splitlines()[-1] if tail else "(no output)"
                raise RuntimeError(f"the replica on port {port} exited with code {proc.returncode}: {last}")
            status, reason = readyz(port)
            if status == 200:
                return
            if time.monotonic() > deadline:
                raise RuntimeError(f"the replica on port {port} was not ready within {timeout:.0f} s "
                                   f"({status}: {reason})")
            time.sleep(0.3)

    def stop_replica(self, port: int, timeout: float = 15) -> None:
        proc = self.procs.get(port)
        if proc is None or proc.poll() is not None:
            return
        proc.terminate()
        try:
            proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=timeout)

    def write_state(self) -> None:
        state = {"supervisor": os.getpid(), "url": f"http://{HOST}:{self.args.port}/",
                 "nginx": self.nginx.pid if self.nginx else None,
                 "replicas": {str(p): self.procs[p].pid for p in self.ports if p in self.procs},
                 "down": sorted(self.down), "run_dir": str(self.run_dir)}
        tmp = self.run_dir / "state.json.tmp"
        tmp.write_text(json.dumps(state, indent=1), encoding="utf-8")
        os.replace(tmp, self.run_dir / "state.json")

    def apply(self, down: set[int]) -> None:
        """Write replicas.conf with `down` and have nginx reload it, if it changed."""
        if down == self.down:
            return
        tmp = self.run_dir / "replicas.conf.tmp"
        tmp.write_text(replicas_conf(self.ports, down), encoding="utf-8")
        os.replace(tmp, self.run_dir / "replicas.conf")
        for p in sorted(down - self.down):
            say(f"replica {HOST}:{p} out of nginx")
        for p in sorted(self.down - down):
            say(f"replica {HOST}:{p} back in nginx")
        self.down = set(down)
        if self.nginx and self.nginx.poll() is None:
            self.nginx.send_signal(signal.SIGHUP)  # reload: new workers; old ones finish their requests
        self.write_state()

    def poll(self) -> None:
        down = set(self.draining)
        for p in self.ports:
            if p in down:
                continue
            status, reason = readyz(p)
            if status == 200:
                self.absent.discard(p)
                continue
            if status is None and reason.startswith(NOT_LISTENING) and p not in self.down:
                # Its process is gone or starting again (reap): nginx's own passive check skips a port that
                # refuses connections and retries the request on another replica at once. Marking it down would
                # reload nginx, and a reload closes idle keep-alive connections from clients, so a request sent
                # on one at that moment failed (2 of 23,275 in the soak test, both after the kill).
                if p not in self.absent:
                    say(f"replica {HOST}:{p} not listening ({reason}); nginx's own checks pass over it")
                    self.absent.add(p)
                continue
            if p not in self.down:
                say(f"replica {HOST}:{p} not ready ({status}: {reason or 'no reason given'})")
            down.add(p)
        self.apply(down)

    def rolling_restart(self) -> None:
        say("restarting the replicas one at a time")
        for p in self.ports:
            self.draining.add(p)
            self.poll()
            time.sleep(DRAIN_SECONDS)
            self.stop_replica(p)
            self.start_replica(p)
            try:
                self.wait_ready(p)
            except RuntimeError as e:
                # The replicas not yet restarted are left alone (still serving); this one is retried by reap().
                serving = [q for q in self.ports if q != p and q not in self.down]
                say(f"{e}; stopping the rolling restart here ({len(serving)} other replica(s) serving; this "
                    "one is started again with a back-off)")
                self.draining.discard(p)
                self.write_state()
                return
            self.draining.discard(p)
            self.poll()
            self.write_state()
        say("every replica restarted")

    def start_nginx(self) -> None:
        nginx = shutil.which("nginx") or "/usr/sbin/nginx"
        for sub in ("logs", "tmp"):
            (self.run_dir / sub).mkdir(parents=True, exist_ok=True)
        (self.run_dir / "nginx.conf").write_text(nginx_conf(self.args.port), encoding="utf-8")
        (self.run_dir / "replicas.conf").write_text(replicas_conf(self.ports, self.down), encoding="utf-8")
        base = [nginx, "-p", str(self.run_dir), "-c", str(self.run_dir / "nginx.conf")]
        check = subprocess.run([*base, "-t", "-q", "-g", "daemon off;"], capture_output=True, text=True)
        if check.returncode:
            raise RuntimeError(f"nginx rejects the configuration: {check.stderr.strip()}")
        with open(self.run_dir / "logs" / "nginx.stderr", "ab") as err:
            self.nginx = subprocess.Popen([*base, "-g", "daemon off;"], stdout=err, stderr=subprocess.STDOUT,
                                          stdin=subprocess.DEVNULL, start_new_session=True)
        deadline = time.monotonic() + 20
        while True:
            try:
                with _OPENER.open(f"http://{HOST}:{self.args.port}/healthz", timeout=2):
                    return
            except OSError:
                if self.nginx.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"nginx did not start; see {self.run_dir / 'logs'}") from None
                time.sleep(0.2)

    def stop_all(self) -> None:
        if self.nginx and self.nginx.poll() is None:
            self.nginx.send_signal(signal.SIGQUIT)  # graceful: finish what is in flight
            try:
                self.nginx.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.nginx.kill()
                self.nginx.wait()
        for p in self.ports:
            self.stop_replica(p)

    # -- the whole run ------------------------------------------------------------------------------------

    def run(self) -> int:
        def on_hup(signum, frame):
            self.rolling = True

        def on_term(signum, frame):
            raise KeyboardInterrupt

        signal.signal(signal.SIGHUP, on_hup)
        signal.signal(signal.SIGTERM, on_term)
        try:
            for sub in ("logs", "tmp"):
                (self.run_dir / sub).mkdir(parents=True, exist_ok=True)
            for p in self.ports:
                self.start_replica(p)
            say(f"starting {len(self.ports)} replicas on ports {', '.join(map(str, self.ports))} "
                f"(logs in {self.run_dir / 'logs'}) ...")
            for p in self.ports:
                self.wait_ready(p)
            self.start_nginx()
            self.write_state()
            say(f"serving http://{HOST}:{self.args.port}/ through nginx ({len(self.ports)} replicas, one index: "
                f"{self.args.index}). Ctrl-C stops everything; after `ipt-qa build`, "
                f"`kill -HUP {os.getpid()}` restarts the replicas one at a time.")
            while True:
                self.tick()
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
            self.stop_all()
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
    exe = shutil.which("ipt-qa")
    cmd = [exe] if exe else [sys.executable, "-m", "qa"]
    if subprocess.run([*cmd, "build", "--index", str(index), "--corpus", str(corpus)], cwd=ROOT).returncode:
        raise SystemExit("run-replicas: the index could not be built (see above)")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="run-replicas", description=__doc__.splitlines()[0])
    ap.add_argument("n", type=int, metavar="N", help="how many replicas (1-16)")
    ap.add_argument("--port", type=int, default=int(os.environ.get("PORT", 8080)),
                    help="nginx listens on 127.0.0.1:PORT (default: $PORT or 8080)")
    ap.add_argument("--first-port", type=int, default=int(os.environ.get("FIRST_PORT", 7861)),
                    help="replicas listen on FIRST_PORT, FIRST_PORT+1, ... (default: $FIRST_PORT or 7861)")
    ap.add_argument("--run-dir", default=os.environ.get("RUN_DIR", str(ROOT / ".run" / "replicas")),
                    help="nginx config, logs and state.json (default: .run/replicas)")
    ap.add_argument("--index", type=Path, default=Path(os.environ.get("IPT_QA_INDEX", ROOT / "index")))
    ap.add_argument("--corpus", type=Path, default=Path(os.environ.get("IPT_QA_CORPUS", ROOT / "corpus")))
    ap.add_argument("--interval", type=float, default=1.0, help="seconds between readiness polls")
    args = ap.parse_args(argv)
    if not 1 <= args.n <= 16:
        ap.error(f"N must be between 1 and 16, not {args.n}")
    if not (shutil.which("nginx") or os.access("/usr/sbin/nginx", os.X_OK)):
        print("run-replicas: nginx is not installed; install it with: sudo apt-get install -y nginx", file=sys.stderr)
        return 2
    args.index, args.corpus = args.index.resolve(), args.corpus.resolve()
    ensure_index(args.index, args.corpus)
    return Supervisor(args).run()


if __name__ == "__main__":
    sys.exit(main())

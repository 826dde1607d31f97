"""Issue 21, item 2: the replica supervisor (deploy/replicas.py) restarts a replica killed with -9, and a
rolling restart (SIGHUP) survives the TIME-WAIT sockets the replicas leave on their ports.

The replicas here are tests/reliability/fake_replica.py (the real port check of `ipt-qa serve`, then a
/readyz server): the supervisor's logic in a few seconds. The real replicas, nginx and the model are in
tests/deploy/test_soak.py.
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import signal
import socket
import sys
from pathlib import Path

from rel_support import ROOT, free_port
from waiting import wait_for

from qa.cli import _port_problem

HERE = Path(__file__).resolve().parent


def _time_wait_ports() -> set[int]:
    ports = set()
    for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
        fields = line.split()
        if fields[3] == "06":  # TIME_WAIT
            ports.add(int(fields[1].rpartition(":")[2], 16))
    return ports


def test_port_check_ignores_time_wait_but_not_a_listener():
    """Before: the check bound without SO_REUSEADDR, so a port whose last server had just closed
    connections read as "Address already in use" and a restarted replica refused to start."""
    srv = socket.socket()
    srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    srv.bind(("127.0.0.1", 0))
    srv.listen()
    port = srv.getsockname()[1]
    client = socket.create_connection(("127.0.0.1", port))
    conn, _ = srv.accept()
    conn.close()  # the server closes first, as an HTTP server does: its side ends in TIME-WAIT
    client.settimeout(10)
    assert client.recv(1) == b""  # the server's FIN has arrived: the client's close is the second one
    client.close()
    srv.close()
    wait_for(lambda: port in _time_wait_ports(), "the server's side of the connection to reach TIME-WAIT", 10)
    assert _port_problem("127.0.0.1", port) is None
    with socket.socket() as busy:
        busy.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as uvicorn does
        busy.bind(("127.0.0.1", port))
        busy.listen()
        problem = _port_problem("127.0.0.1", port)
        assert problem and "Address already in use" in problem and "\n" not in problem


def _supervisor(tmp_path):
    spec = importlib.util.spec_from_file_location("deploy_replicas_t", ROOT / "deploy" / "replicas.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    mod.DRAIN_SECONDS = 0.1  # nothing is in flight on the fake replicas

    class FakeReplicas(mod.Supervisor):
        def replica_command(self, port: int) -> list[str]:
            return [sys.executable, str(HERE / "fake_replica.py"), str(port)]

    first = free_port()
    while _port_problem("127.0.0.1", first + 1):
        first = free_port()
    args = argparse.Namespace(n=2, port=free_port(), first_port=first, run_dir=str(tmp_path / "run"),
                              index=tmp_path / "index", corpus=tmp_path / "corpus", interval=0.2)
    sup = FakeReplicas(args)
    (sup.run_dir / "logs").mkdir(parents=True)
    return mod, sup


def _alive(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().split()[2] != "Z"
    except FileNotFoundError:
        return False


def test_supervisor_survives_two_hups_and_restarts_a_killed_replica(tmp_path):
    mod, sup = _supervisor(tmp_path)
    try:
        for p in sup.ports:
            sup.start_replica(p)
        for p in sup.ports:
            sup.wait_ready(p, timeout=30)
        sup.poll()
        assert sup.down == set()
        for hup in range(2):  # before: the first HUP stopped part-way, the second left 0 replicas running
            for p in sup.ports:
                for _ in range(5):
                    assert mod.readyz(p)[0] == 200  # each leaves a TIME-WAIT socket on the replica's port
            assert set(sup.ports) <= _time_wait_ports()
            sup.rolling = True
            sup.tick()
            assert all(_alive(sup.procs[p].pid) for p in sup.ports), hup
            assert [mod.readyz(p)[0] for p in sup.ports] == [200, 200] and sup.down == set()

        victim = sup.ports[0]
        old = sup.procs[victim].pid
        os.kill(old, signal.SIGKILL)

        def back() -> bool:  # how fast it comes back is bench/'s to measure; here: that it does
            sup.tick()
            return sup.procs[victim].pid != old and mod.readyz(victim)[0] == 200 and victim not in sup.down

        wait_for(back, "the killed replica to be restarted and ready", timeout=120, interval=0.2)
        assert sup.restarts == 1 and not _alive(old)  # reaped: no <defunct> left behind
        assert Path(f"/proc/{old}").exists() is False
    finally:
        sup.stop_all()

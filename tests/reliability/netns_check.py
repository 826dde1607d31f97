"""Run inside a network namespace that has only loopback (`unshare -n`): answer with the CLI, then serve the
page with `python app.py` and ask it over 127.0.0.1. Prints one JSON line with what it saw.

    unshare -n -- python tests/reliability/netns_check.py INDEX CORPUS PORT

Before anything else it brings `lo` up (an ioctl, so `ip` need not be installed) and refuses to go on if any
interface besides `lo` is present: nothing here can reach beyond this machine.
"""

from __future__ import annotations

import fcntl
import json
import socket
import struct
import subprocess
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from rel_support import GOOD_QUESTION, ROOT, app_process, child_env, gradio_call, http_get  # noqa: E402

SIOCGIFFLAGS, SIOCSIFFLAGS, IFF_UP = 0x8913, 0x8914, 0x1


def interfaces() -> list[str]:
    # /proc/net is per network namespace (unlike /sys/class/net, which shows the namespace sysfs was mounted in).
    lines = Path("/proc/net/dev").read_text().splitlines()[2:]
    return sorted(line.split(":")[0].strip() for line in lines)


def bring_lo_up() -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        req = struct.pack("16sH14x", b"lo", 0)
        flags = struct.unpack("16sH14x", fcntl.ioctl(s, SIOCGIFFLAGS, req))[1]
        if not flags & IFF_UP:
            fcntl.ioctl(s, SIOCSIFFLAGS, struct.pack("16sH14x", b"lo", flags | IFF_UP))


def main() -> int:
    index, corpus, port = sys.argv[1], sys.argv[2], int(sys.argv[3])
    out: dict = {"interfaces": interfaces()}
    if out["interfaces"] != ["lo"]:
        print(json.dumps({**out, "error": "not an isolated network namespace"}))
        return 1
    bring_lo_up()
    routes = Path("/proc/net/route").read_text().splitlines()[1:]
    out["ipv4_routes"] = routes  # loopback routes live in the local table, not here: expected empty

    cli = subprocess.run([sys.executable, "-m", "qa", "ask", "--json", GOOD_QUESTION, "--index", index,
                          "--corpus", corpus], capture_output=True, text=True, cwd=ROOT, env=child_env(), timeout=300)
    out["cli_returncode"] = cli.returncode
    out["cli_stderr"] = cli.stderr[-2000:]
    out["cli"] = json.loads(cli.stdout) if cli.returncode == 0 else None

    with app_process(Path(index), Path(corpus), port=port) as (base, _proc):
        out["page_status"] = http_get(f"{base}/")[0]
        event, data = gradio_call(base, "ask", [GOOD_QUESTION, 5, None])
        out["app_event"] = event
        out["app"] = data[0] if event == "complete" else data
    print(json.dumps(out))
    return 0


if __name__ == "__main__":
    sys.exit(main())

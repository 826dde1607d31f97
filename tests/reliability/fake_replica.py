"""A stand-in for `ipt-qa serve` in the supervisor's tests: the same port check first (qa.cli._port_problem,
exit 2 with its one line), then an HTTP server answering /readyz 200 (HTTP/1.0: it closes each connection
itself, leaving TIME-WAIT sockets on its port as the real page's do). No model: starts in a fraction of a second.

    python fake_replica.py [--port] PORT   (deploy/replicas.py appends `--port N`, as for `ipt-qa serve`)
"""

from __future__ import annotations

import sys
from http.server import BaseHTTPRequestHandler, HTTPServer

sys.path.insert(0, str(__import__("pathlib").Path(__file__).resolve().parents[2]))
from qa.cli import _port_problem  # noqa: E402


class Ready(BaseHTTPRequestHandler):
    def do_GET(self):  # noqa: N802 - the name http.server calls
        body = b'{"status": "ready", "build": "fake"}\n'
        self.send_response(200 if self.path == "/readyz" else 404)
        self.send_header("content-length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


def main(port: int) -> int:
    problem = _port_problem("127.0.0.1", port)
    if problem:
        print(f"ipt-qa: {problem}", file=sys.stderr, flush=True)
        return 2
    HTTPServer(("127.0.0.1", port), Ready).serve_forever()
    return 0


if __name__ == "__main__":
    sys.exit(main(int(sys.argv[-1])))

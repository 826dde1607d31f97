"""Issue 30, item 6: through the proxy, /api/v1/ answers with the app's one-line JSON errors, never nginx's
HTML. deploy/nginx.conf as deploy/replicas.py writes it (timeouts shortened here), in front of a stand-in
replica on loopback that answers as the app does.

Before: a non-numeric Content-Length got nginx's HTML 400, and 503 (nginx's own) had no JSON page.
A stalled body: nginx never answers 408 (it closes the connection when client_body_timeout fires), so the
client sees a closed connection, not HTML; docs/scaling.md says why the body is still buffered by nginx.
"""

from __future__ import annotations

import importlib.util
import json
import os
import shutil
import socket
import subprocess
import threading
import time
from http.server import BaseHTTPRequestHandler

import pytest
from loopback import QuietHTTPServer
from rel_support import ROOT, free_port
from waiting import wait_for

NGINX = shutil.which("nginx") or ("/usr/sbin/nginx" if os.access("/usr/sbin/nginx", os.X_OK) else None)
if NGINX is None and os.environ.get("IPT_QA_REQUIRE_NGINX"):
    raise RuntimeError("nginx is required here (IPT_QA_REQUIRE_NGINX is set) but not installed")
pytestmark = pytest.mark.skipif(NGINX is None, reason="nginx is not installed (apt-get install -y nginx)")


class App(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_POST(self):  # noqa: N802
        self.rfile.read(int(self.headers.get("content-length", 0)))
        if self.path == "/api/v1/slow":
            time.sleep(3)  # past the shortened proxy_read_timeout
        code, body = (503, b'{"error": "not ready: the index is being rebuilt"}\n') if self.path == "/api/v1/ready" \
            else (200, b'{"ok": true}\n')
        self.send_response(code)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


@pytest.fixture(scope="module")
def proxy(tmp_path_factory):
    spec = importlib.util.spec_from_file_location("deploy_replicas_p", ROOT / "deploy" / "replicas.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    run = tmp_path_factory.mktemp("proxy")
    (run / "tmp").mkdir()
    app = QuietHTTPServer(("127.0.0.1", 0), App)
    threading.Thread(target=app.serve_forever, daemon=True).start()
    port = free_port()
    conf = mod.nginx_conf(port, "t0ken")
    for old, new in (("proxy_read_timeout 60s;", "proxy_read_timeout 1s;"),
                     ("client_body_timeout 15s;", "client_body_timeout 1s;")):
        assert old in conf
        conf = conf.replace(old, new)
    (run / "nginx.conf").write_text(conf)
    (run / "replicas.conf").write_text(mod.replicas_conf([app.server_address[1]]))
    with open(run / "out.log", "wb") as out:
        ngx = subprocess.Popen([NGINX, "-p", str(run), "-c", str(run / "nginx.conf"), "-e", "stderr", "-g",
                                "daemon off;"], stdout=out, stderr=subprocess.STDOUT)
    wait_for(lambda: mod.front_token(port) == "t0ken", "nginx to answer", 30)
    yield {"port": port, "app": app}
    ngx.terminate()
    ngx.wait(timeout=30)
    app.shutdown()


def _raw(port: int, request: bytes, pause: float = 0.0) -> bytes:
    with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
        s.sendall(request)
        out = b""
        while chunk := s.recv(65536):
            out += chunk
        return out


def _json_error(response: bytes, status: int) -> dict:
    head, _, body = response.partition(b"\r\n\r\n")
    assert head.split(b"\r\n")[0].split()[1] == str(status).encode(), response[:300]
    assert b"content-type: application/json" in head.lower(), head
    assert body.count(b"\n") == 1 and b"<" not in body, body  # one line, no HTML
    return json.loads(body)


def _post(path: str, body: bytes = b"{}", extra: bytes = b"") -> bytes:
    return (f"POST {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n".encode() + extra
            + f"Content-Length: {len(body)}\r\n\r\n".encode() + body)


def test_the_stand_in_answers_through_the_proxy(proxy):
    head, _, body = _raw(proxy["port"], _post("/api/v1/ask")).partition(b"\r\n\r\n")
    assert b" 200 " in head.split(b"\r\n")[0] and json.loads(body) == {"ok": True}


def test_malformed_length_is_json_400(proxy):
    request = b"POST /api/v1/ask HTTP/1.1\r\nHost: x\r\nContent-Length: abc\r\n\r\n{}"
    assert "malformed" in _json_error(_raw(proxy["port"], request), 400)["error"]


def test_too_large_is_json_413(proxy):
    body = b"x" * (4 * 1024 * 1024 + 1)
    assert "4,194,304" in _json_error(_raw(proxy["port"], _post("/api/v1/ask", body)), 413)["error"]


def test_not_ready_is_the_app_json_503(proxy):
    assert _json_error(_raw(proxy["port"], _post("/api/v1/ready")), 503)["error"].startswith("not ready")


def test_no_answer_in_time_is_json_504(proxy):
    assert "in time" in _json_error(_raw(proxy["port"], _post("/api/v1/slow")), 504)["error"]


def test_stalled_body_is_closed_without_html(proxy):
    out = _raw(proxy["port"], b"POST /api/v1/ask HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n{\"q")
    assert b"<html" not in out.lower()
    assert out == b"" or _json_error(out, 408)


def test_no_replica_is_json_502(tmp_path, proxy):
    proxy["app"].shutdown()
    proxy["app"].server_close()  # nobody listens on the replica's port now
    assert "no replica" in _json_error(_raw(proxy["port"], _post("/api/v1/ask")), 502)["error"]

"""The tests' loopback server (tests/loopback.py) is silent when a client hangs up, and only then."""

from __future__ import annotations

from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from loopback import QuietHTTPServer


def _error_output(server_class, error: Exception, capfd) -> str:
    server = server_class(("127.0.0.1", 0), BaseHTTPRequestHandler)
    try:
        try:
            raise error
        except Exception:  # noqa: BLE001 - handle_error reads the exception being handled
            server.handle_error(None, ("127.0.0.1", 1))
    finally:
        server.server_close()
    return capfd.readouterr().err


def test_a_client_hanging_up_prints_nothing_and_other_errors_still_do(capfd):
    assert "Traceback" in _error_output(ThreadingHTTPServer, BrokenPipeError(32, "Broken pipe"), capfd)
    assert _error_output(QuietHTTPServer, BrokenPipeError(32, "Broken pipe"), capfd) == ""
    assert _error_output(QuietHTTPServer, ConnectionResetError(104, "reset"), capfd) == ""
    assert "ValueError: a real bug" in _error_output(QuietHTTPServer, ValueError("a real bug"), capfd)

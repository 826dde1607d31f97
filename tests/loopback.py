"""A loopback HTTP server for tests that stays quiet when a client hangs up on purpose.

socketserver prints a traceback to standard error when a handler's client goes away (a download cut at its
size bound, a proxy that times out); the handler thread can outlive its test, and the traceback then landed
in another test that reads the worker's standard error (tests/reliability/test_quiet_inputs.py failed so in
CI). A client hanging up is what these tests do, so it is not an error here; anything else still is."""

from __future__ import annotations

import sys
from http.server import ThreadingHTTPServer


class QuietHTTPServer(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request, client_address) -> None:
        if isinstance(sys.exc_info()[1], ConnectionError):  # BrokenPipeError, ConnectionResetError ...
            return
        super().handle_error(request, client_address)

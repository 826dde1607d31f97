"""A bound on the size of an HTTP request body, for the served page.

Gradio reads and parses a whole request before the question is cut to its length bound, so one 100 MB
question cost 3 s and 243 MB of memory (RELIABILITY.md). This ASGI middleware refuses a body over the bound
with 413 before it is read whole: at once when Content-Length says so, or as soon as a chunked body passes it.
It is the one body limit of every route: the page's and /api/v1/ask (qa/serve/routes.py), to which it
answers in that API's JSON ({"error": "<one line>"}).
"""

from __future__ import annotations

import asyncio
import json
import re

# A question is cut to 1,000 characters; the web API still accepts a 1 MB one (and says it was cut), so the
# bound sits above that with room for JSON escaping.
MAX_BODY_BYTES = 4 * 1024 * 1024


# A client that has sent part of a request body and then goes quiet holds a connection and a worker; each
# further piece of the body must arrive within this many seconds, else 408.
BODY_READ_TIMEOUT = 20.0

# Before a refusal that comes ahead of the body (a Content-Length that is not a number), what the client still
# sends is read and dropped, up to this much and while it keeps coming: a server that closes with unread data
# resets the connection, and a client still sending may then get ConnectionResetError instead of the answer
# (nginx reads on for the same reason, "lingering close"). A larger body is left unread.
DRAIN_BYTES = 64 * 1024
DRAIN_TIMEOUT = 1.0

_LENGTH_RE = re.compile(rb"[0-9]+")


class BodyRefused(Exception):
    """A request body refused before it reaches an endpoint: 400 (Content-Length not a number), 408 (a body
    that stalls) or 413 (too large), with a one-line reason. Each refusal closes the connection."""

    def __init__(self, status: int, message: str):
        super().__init__(message)
        self.status, self.message = status, message


def too_large(max_bytes: int) -> BodyRefused:
    return BodyRefused(413, f"request body larger than {max_bytes:,} bytes")


def stalled(read_timeout: float) -> BodyRefused:
    return BodyRefused(408, f"request body not received within {read_timeout:g} s")


def check_declared_length(headers, max_bytes: int) -> None:
    """Refuse a request by its Content-Length header alone: 400 when it is not a whole number of bytes (a
    malformed header, not a large body), 413 when it is over `max_bytes`; nothing when absent or fine."""
    declared = dict(headers or []).get(b"content-length")
    if declared is None:
        return
    if not _LENGTH_RE.fullmatch(declared.strip()):
        raise BodyRefused(400, "Content-Length is not a whole number of bytes")
    if int(declared) > max_bytes:
        raise too_large(max_bytes)


async def drain(receive, limit: int = DRAIN_BYTES, timeout: float = DRAIN_TIMEOUT) -> None:
    """Read and drop the rest of a small request body (see DRAIN_BYTES) before it is refused."""
    received = 0
    while received <= limit:
        try:
            message = await asyncio.wait_for(receive(), timeout)
        except TimeoutError:
            return
        if message["type"] != "http.request":
            return
        received += len(message.get("body", b""))
        if not message.get("more_body"):
            return


async def refuse_early(receive, refused: BodyRefused) -> None:
    """Before answering `refused` ahead of the body: drain a body of unknown length (400), so that the client
    can read the answer; a declared one over the bound (413) is not read at all."""
    if refused.status == 400:
        await drain(receive)


class BodyLimit:
    """ASGI middleware: HTTP requests whose body exceeds `max_bytes` get 413 and reach no endpoint; a body
    that stalls for `read_timeout` seconds gets 408."""

    def __init__(self, app, max_bytes: int = MAX_BODY_BYTES, read_timeout: float = BODY_READ_TIMEOUT):
        self.app = app
        self.max_bytes = max_bytes
        self.read_timeout = read_timeout

    @staticmethod
    async def _refuse(scope, send, refused: BodyRefused) -> None:
        if scope.get("path", "").startswith("/api/"):
            kind, body = b"application/json", (json.dumps({"error": refused.message}) + "\n").encode()
        else:
            kind, body = b"text/plain; charset=utf-8", refused.message.encode()
        await send({"type": "http.response.start", "status": refused.status,
                    "headers": [(b"content-type", kind), (b"content-length", str(len(body)).encode()),
                                (b"connection", b"close")]})
        await send({"type": "http.response.body", "body": body})

    async def __call__(self, scope, receive, send):

        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        try:
            check_declared_length(scope.get("headers"), self.max_bytes)
        except BodyRefused as refused:
            await refuse_early(receive, refused)
            return await self._refuse(scope, send, refused)
        received = 0
        started = answered = False

        async def counted_receive():
            # The refusal is sent from here and the endpoint is told the client left: raising instead let
            # the endpoint's own error handling answer 400 to a chunked body over the bound.
            nonlocal received, answered
            if answered:
                return {"type": "http.disconnect"}
            try:
                message = await asyncio.wait_for(receive(), self.read_timeout)
            except TimeoutError:
                if not started:
                    answered = True
                    await self._refuse(scope, send, stalled(self.read_timeout))
                return {"type": "http.disconnect"}
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_bytes:
                    if not started:
                        answered = True
                        await self._refuse(scope, send, too_large(self.max_bytes))
                    return {"type": "http.disconnect"}
            return message

        async def tracked_send(message):
            nonlocal started
            if answered:
                return  # the client already has its 413/408
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, counted_receive, tracked_send)
        except Exception:
            if not answered:
                raise  # the endpoint's own failure, not one this middleware caused


# The page has no file input, yet Gradio's upload route stored any file sent to it (50 MB in 0.5 s), served
# it back and kept it after the server stopped. The deep-link route writes a session's inputs and outputs
# (learners' questions) to a file for anyone who names the session. Nothing of the page needs these routes.
CLOSED_PATHS = ("/gradio_api/upload", "/upload", "/gradio_api/process_recording", "/gradio_api/deep_link")


class ClosedRoutes:
    """ASGI middleware: requests to CLOSED_PATHS get 403 before any of their body is read."""

    def __init__(self, app, paths: tuple[str, ...] = CLOSED_PATHS):
        self.app = app
        self.paths = frozenset(paths)

    async def __call__(self, scope, receive, send):
        if scope["type"] == "http" and scope.get("path", "").rstrip("/") in self.paths:
            body = b"this route is closed on this page (no uploads, no deep links)"
            await send({"type": "http.response.start", "status": 403,
                        "headers": [(b"content-type", b"text/plain; charset=utf-8"),
                                    (b"content-length", str(len(body)).encode()), (b"connection", b"close")]})
            await send({"type": "http.response.body", "body": body})
            return
        return await self.app(scope, receive, send)

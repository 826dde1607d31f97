"""Plain HTTP routes beside the Gradio page, for load balancers and for any HTTP client:

    GET  /healthz      200 {"status": "ok"} while the process runs (liveness)
    GET  /readyz       200 {"status": "ready", "build": ..., "passages": ..., "sources": ...} when the build
                       being served is verified and can quote its sources exactly (with "note": "<one line>"
                       while edited sources wait for `ipt-qa build` and are left out of the search);
                       otherwise 503 with {"status": "not ready", "reason": "<one line>"} (take it out)
    POST /api/v1/ask   body {"question": str, "k": int = 5, "sources": [str] | null = null}; answers with
                       the record one `ipt-qa ask --json` line holds (application/json)

They are an ASGI middleware in front of the Gradio app, so they never enter Gradio's queue: the health
checks cost a few dozen stat calls (qa/serve/backend.py), and /api/v1/ask has its own bound with the queue's
numbers (`concurrency` answering at once, `queue_size` more waiting, then 429). Errors are JSON
{"error": "<one line>"} (422 adds "field"): 400 not JSON (or nested too deeply, or a Content-Length that is
not a number), 405 wrong method, 408 a body that stalls (BODY_READ_TIMEOUT between pieces), 413 body over 4 MiB,
422 a bad field, 429 too many waiting, 503 not ready, 500 anything else (logged without the question).
"""

from __future__ import annotations

import asyncio
import json
import logging
from concurrent.futures import ThreadPoolExecutor

from qa.errors import IndexProblem, QAError
from qa.serve.backend import LocalBackend, Readiness, SearchBackend
from qa.serve.bodylimit import (
    BODY_READ_TIMEOUT,
    MAX_BODY_BYTES,
    BodyRefused,
    check_declared_length,
    refuse_early,
    stalled,
    too_large,
)
from qa.serve.inputs import source_ids, whole_k

log = logging.getLogger("ipt-qa.serve.routes")

HEALTH, READY, ASK = "/healthz", "/readyz", "/api/v1/ask"
FIELDS = ("question", "k", "sources")


class BadRequest(Exception):
    """A request refused with `status` and a one-line message; `close`: the body was not read whole, so the
    connection cannot carry another request and is closed with the answer."""

    def __init__(self, status: int, message: str, field: str | None = None, close: bool = False):
        super().__init__(message)
        self.status, self.message, self.field, self.close = status, message, field, close


def parse_ask(body: bytes, known_ids: list[str]) -> tuple[str, int, list[str] | None]:
    """The (question, k, sources) of a /api/v1/ask body, or BadRequest naming what is wrong."""
    try:
        data = json.loads(body.decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as e:
        raise BadRequest(400, f"the body is not JSON ({e}); send {{\"question\": \"...\"}}") from None
    except RecursionError:  # thousands of nested brackets: the parser's recursion, not a server fault
        raise BadRequest(400, "the body nests JSON too deeply; send {\"question\": \"...\"}") from None
    if not isinstance(data, dict):
        raise BadRequest(400, f"the body must be a JSON object like {{\"question\": \"...\"}}, not "
                              f"{type(data).__name__}")
    unknown = sorted(set(data) - set(FIELDS))
    if unknown:
        raise BadRequest(422, f"unknown field(s) {unknown}; allowed: {', '.join(FIELDS)}", unknown[0])
    question = data.get("question")
    if not isinstance(question, str):
        what = "missing" if "question" not in data else f"a {type(question).__name__}, not text"
        raise BadRequest(422, f"question is {what}; send the question as a JSON string", "question")
    try:
        k = whole_k(data.get("k", 5), json.dumps(data.get("k", 5)))
    except QAError as e:
        raise BadRequest(422, str(e), "k") from None
    sources = data.get("sources")
    if sources is not None:
        try:
            source_ids(sources)
        except QAError as e:
            raise BadRequest(422, f"{e} or null, not {json.dumps(sources)[:80]}", "sources") from None
        unknown_ids = sorted(set(sources) - set(known_ids))
        if unknown_ids:
            raise BadRequest(422, f"unknown source(s) {unknown_ids}; known: {sorted(known_ids)}", "sources")
    return question, k, (sources or None)


class Routes:
    """ASGI middleware serving HEALTH, READY and ASK itself and passing every other request to `app`."""

    def __init__(self, app, backend: SearchBackend, concurrency: int = 4, queue_size: int = 64,
                 max_body: int = MAX_BODY_BYTES, read_timeout: float = BODY_READ_TIMEOUT):
        self.app = app
        # Each piece of a body must arrive within this many seconds, else 408 (as BodyLimit does for the
        # Gradio routes): a client announcing 100 bytes and sending 11 held a connection for ever.
        self.read_timeout = read_timeout
        self.backend = backend
        self.concurrency = concurrency
        self.queue_size = queue_size
        self.max_body = max_body
        # Its own threads, exactly `concurrency` of them: the answers do not compete with Gradio's thread
        # limiter, and no more than the queue's number run at once.
        self._pool = ThreadPoolExecutor(max_workers=concurrency, thread_name_prefix="api-ask")
        self._admitted = 0  # answering + waiting; only touched on the event loop, so no lock
        self._was_ready: bool | None = None

    async def __call__(self, scope, receive, send):
        path = scope.get("path") if scope["type"] == "http" else None
        if path not in (HEALTH, READY, ASK):
            return await self.app(scope, receive, send)
        method = scope["method"]
        if path == ASK:
            if method != "POST":
                return await _json(send, 405, {"error": "use POST with a JSON body"}, [(b"allow", b"POST")])
            return await self._ask(scope, receive, send)
        if method not in ("GET", "HEAD"):
            return await _json(send, 405, {"error": "use GET"}, [(b"allow", b"GET, HEAD")])
        if path == HEALTH:
            return await _json(send, 200, {"status": "ok"}, head=method == "HEAD")
        r = self._readiness()
        return await _json(send, 200 if r.ready else 503, r.to_dict(), head=method == "HEAD")

    def _readiness(self):
        try:
            r = self.backend.readiness()
        except Exception as e:  # noqa: BLE001 - a health check answers; it does not crash with a traceback
            log.warning("readiness check failed: %s", type(e).__name__)
            r = Readiness(False, f"the readiness check failed ({type(e).__name__}); see the replica's log")
        if r.ready != self._was_ready:  # a transition is worth one log line; a steady state is not
            if r.ready:
                log.warning("ready: serving index build %s", r.build)
            else:
                log.warning("not ready: %s", r.reason)
            self._was_ready = r.ready
        return r

    async def _read_body(self, scope, receive) -> bytes:
        # The rules and words of the body limit are BodyLimit's (qa/serve/bodylimit.py); here they answer JSON.
        try:
            check_declared_length(scope.get("headers"), self.max_body)
        except BodyRefused as refused:
            await refuse_early(receive, refused)
            raise BadRequest(refused.status, refused.message, close=True) from None
        chunks, size = [], 0
        while True:
            try:
                message = await asyncio.wait_for(receive(), self.read_timeout)
            except TimeoutError:
                raise BadRequest(408, stalled(self.read_timeout).message, close=True) from None
            if message["type"] == "http.disconnect":
                raise BadRequest(400, "the client went away before sending the whole body")
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > self.max_body:
                raise BadRequest(413, too_large(self.max_body).message, close=True)
            chunks.append(chunk)
            if not message.get("more_body"):
                return b"".join(chunks)

    async def _ask(self, scope, receive, send):
        try:
            body = await self._read_body(scope, receive)
            r = self._readiness()
            if not r.ready:
                return await _json(send, 503, {"error": f"not ready: {r.reason}"}, [(b"retry-after", b"5")])
            question, k, sources = parse_ask(body, self.backend.source_ids())
        except BadRequest as e:  # a body not read whole is not read further: the connection closes with the answer
            return await _json(send, e.status, _error(e), [(b"connection", b"close")] if e.close else [])
        if self._admitted >= self.concurrency + self.queue_size:
            return await _json(send, 429, {"error": f"too many questions at once ({self._admitted} answering "
                                                    "or waiting); try again in a moment"},
                               [(b"retry-after", b"1")])
        self._admitted += 1
        try:
            loop = asyncio.get_running_loop()
            answer = await loop.run_in_executor(self._pool, self.backend.ask, question, k, "hybrid", sources)
        except IndexProblem as e:  # e.g. the sources changed under the build and nothing can be quoted now
            return await _json(send, 503, {"error": f"not ready: {e}"}, [(b"retry-after", b"5")])
        except QAError as e:
            # The library's own one-line messages; the fields were checked above, so it is about the question.
            return await _json(send, 422, {"error": str(e), "field": "question"})
        except Exception:
            log.exception("/api/v1/ask failed")  # the traceback, never the question
            return await _json(send, 500, {"error": "something went wrong while answering; please try again"})
        finally:
            self._admitted -= 1
        body = (json.dumps(answer.to_dict(), ensure_ascii=False) + "\n").encode("utf-8")
        await _send(send, 200, body)


def _error(e: BadRequest) -> dict:
    return {"error": e.message, **({"field": e.field} if e.field else {})}


async def _send(send, status: int, body: bytes, extra_headers=(), head: bool = False) -> None:
    headers = [(b"content-type", b"application/json; charset=utf-8"), (b"content-length", str(len(body)).encode()),
               # Answers to questions about one's health are nobody else's: no proxy or browser keeps them.
               (b"cache-control", b"no-store"), *extra_headers]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": b"" if head else body})


async def _json(send, status: int, payload: dict, extra_headers=(), head: bool = False) -> None:
    await _send(send, status, (json.dumps(payload, ensure_ascii=False) + "\n").encode("utf-8"), extra_headers, head)


# -- the hook app.py calls ---------------------------------------------------------------------------------

def attach(demo, searcher, corpus_dir, *, concurrency: int, queue_size: int) -> None:
    """Remember on `demo` what `middleware(demo)` will serve (app.build_demo calls this)."""
    demo.ipt_routes = {"backend": LocalBackend(searcher, corpus_dir), "concurrency": concurrency,
                       "queue_size": queue_size}


def middleware(demo) -> list:
    """The middleware list entry for `Blocks.launch(app_kwargs={"middleware": [...]})` (app.launch)."""
    from starlette.middleware import Middleware  # deferred: only when the page is served

    options = getattr(demo, "ipt_routes", None)
    return [Middleware(Routes, **options)] if options else []

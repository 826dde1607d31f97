"""Plain HTTP routes beside the Gradio page, for load balancers and for any HTTP client (FastAPI routes in
Gradio's own FastAPI app; their OpenAPI description at /api/v1/openapi.json):

    GET  /healthz      200 {"status": "ok"} while the process runs (liveness)
    GET  /readyz       200 {"status": "ready", "build": ..., "passages": ..., "sources": ...} when the build
                       being served is verified and can quote its sources exactly (with "note": "<one line>"
                       while edited sources wait for `ipt-qa build` and are left out of the search);
                       otherwise 503 with {"status": "not ready", "reason": "<one line>"} (take it out)
    POST /api/v1/ask   body AskBody; answers with the record one `ipt-qa ask --json` line holds

They never enter Gradio's queue: the health checks cost a few dozen stat calls (qa/serve/backend.py), and
/api/v1/ask has its own bound with the queue's numbers (`concurrency` answering at once, `queue_size` more
waiting, then 429). Errors are JSON {"error": "<one line>"} (422 adds "field"): 400 not JSON (or nested too
deeply), 405 wrong method, 422 a bad field, 429 too many waiting, 503 not ready, 500 anything else (logged
without the question). The body's size and pace (400 a Content-Length that is not a number, 408, 413) are
qa/serve/bodylimit.py's, the one middleware in front of every route.
"""

from __future__ import annotations

import asyncio
import json
import logging
from concurrent.futures import ThreadPoolExecutor

from fastapi import APIRouter, Depends, FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.openapi.utils import get_openapi
from fastapi.responses import Response
from fastapi.routing import APIRoute
from pydantic import BaseModel, ConfigDict, Field, field_validator
from starlette.exceptions import HTTPException  # what FastAPI raises for a body it cannot parse
from starlette.middleware import Middleware

from qa import settings
from qa.errors import IndexProblem, QAError
from qa.serve.backend import LocalBackend, Readiness, SearchBackend
from qa.serve.bodylimit import BODY_READ_TIMEOUT, BodyLimit
from qa.serve.inputs import source_ids, whole_k

log = logging.getLogger("ipt-qa.serve.routes")

HEALTH, READY, ASK, OPENAPI = "/healthz", "/readyz", "/api/v1/ask", "/api/v1/openapi.json"
FIELDS = ("question", "k", "sources")
SEND = "send {\"question\": \"...\"}"


class AskBody(BaseModel):
    """The body of POST /api/v1/ask. The checks are qa/serve/inputs.py's, the page's own."""

    model_config = ConfigDict(extra="forbid")

    question: str = Field(description="the question, as typed (cut to the question bound by the search)")
    k: int = Field(5, ge=settings.MIN_K, le=settings.MAX_K, description="how many passages at most")
    sources: list[str] | None = Field(None, description="source ids to search; null or [] searches all")

    @field_validator("question", mode="before")
    @classmethod
    def _text(cls, v: object) -> object:
        if not isinstance(v, str):
            raise ValueError(f"question is a {type(v).__name__}, not text; send the question as a JSON string")
        return v

    @field_validator("k", mode="before")
    @classmethod
    def _k(cls, v: object) -> int:
        try:
            return whole_k(v, json.dumps(v))
        except QAError as e:
            raise ValueError(str(e)) from None

    @field_validator("sources", mode="before")
    @classmethod
    def _sources(cls, v: object) -> object:
        try:
            return None if v is None else source_ids(v)
        except QAError as e:
            raise ValueError(f"{e} or null, not {json.dumps(v)[:80]}") from None


class Refused(Exception):
    """A request answered with `status` and a one-line message (and `field` for 422)."""

    def __init__(self, status: int, message: str, field: str | None = None, headers: dict | None = None):
        super().__init__(message)
        self.status, self.message, self.field, self.headers = status, message, field, headers or {}


def _json(status: int, payload: dict, headers: dict | None = None) -> Response:
    # Answers to questions about one's health are nobody else's: no proxy or browser keeps them.
    return Response((json.dumps(payload, ensure_ascii=False) + "\n").encode("utf-8"), status,
                    {"cache-control": "no-store", **(headers or {})}, "application/json; charset=utf-8")


def refusal(errors: list[dict]) -> Refused:
    """The one line to say for pydantic's errors about an AskBody (the first that matters)."""
    if any(e["type"] == "json_invalid" for e in errors):
        return Refused(400, f"the body is not JSON ({errors[0].get('ctx', {}).get('error', 'invalid')}); {SEND}")
    whole = next((e for e in errors if tuple(e["loc"]) == ("body",)), None)
    if whole is not None:
        return Refused(400, f"the body must be a JSON object like {{\"question\": \"...\"}}, not "
                            f"{type(whole.get('input')).__name__}")
    unknown = sorted(str(e["loc"][-1]) for e in errors if e["type"] == "extra_forbidden")
    if unknown:
        return Refused(422, f"unknown field(s) {unknown}; allowed: {', '.join(FIELDS)}", unknown[0])
    e = min(errors, key=lambda e: FIELDS.index(e["loc"][-1]) if e["loc"][-1] in FIELDS else len(FIELDS))
    field = str(e["loc"][-1])
    if e["type"] == "missing":
        return Refused(422, f"{field} is missing; send the question as a JSON string", field)
    message = str(e.get("ctx", {}).get("error") or e["msg"])
    return Refused(422, message, field)


class OneLineErrors(APIRoute):
    """A route whose refusals are {"error": "<one line>"} rather than FastAPI's list of details, and whose
    JSON body is read as JSON whatever its Content-Type (`curl -d` sends a form type)."""

    def get_route_handler(self):
        handler = super().get_route_handler()

        async def one_line(request: Request) -> Response:
            scope = dict(request.scope)
            scope["headers"] = [(n, v) for n, v in scope["headers"] if n != b"content-type"] + \
                [(b"content-type", b"application/json")]
            try:
                return await handler(Request(scope, request.receive))
            except RequestValidationError as e:
                refused = refusal(list(e.errors()))
            except HTTPException as e:  # FastAPI could not parse the body: deep nesting or bad encoding
                if e.status_code != 400:
                    raise
                deep = isinstance(e.__cause__, RecursionError)
                refused = Refused(400, f"the body nests JSON too deeply; {SEND}" if deep else
                                  f"the body is not JSON; {SEND}")
            except Refused as e:
                refused = e
            extra = {"field": refused.field} if refused.field else {}
            return _json(refused.status, {"error": refused.message, **extra}, refused.headers)

        return one_line


class AskRoutes:
    """The three routes over one backend, with the bound of /api/v1/ask (see the module docstring)."""

    def __init__(self, backend: SearchBackend, concurrency: int = 4, queue_size: int = 64):
        self.backend, self.concurrency, self.queue_size = backend, concurrency, queue_size
        # Its own threads, exactly `concurrency` of them: the answers do not compete with Gradio's thread
        # limiter, and no more than the queue's number run at once.
        self._pool = ThreadPoolExecutor(max_workers=concurrency, thread_name_prefix="api-ask")
        self.admitted = 0  # answering + waiting; only touched on the event loop, so no lock
        self._was_ready: bool | None = None

    def readiness(self) -> Readiness:
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

    def ready(self) -> None:
        """A dependency of /api/v1/ask: 503 while not ready."""
        r = self.readiness()
        if not r.ready:
            raise Refused(503, f"not ready: {r.reason}", headers={"retry-after": "5"})

    async def ask(self, body: AskBody) -> Response:
        unknown_ids = sorted(set(body.sources or []) - set(self.backend.source_ids()))
        if unknown_ids:
            raise Refused(422, f"unknown source(s) {unknown_ids}; known: {sorted(self.backend.source_ids())}",
                          "sources")
        if self.admitted >= self.concurrency + self.queue_size:
            raise Refused(429, f"too many questions at once ({self.admitted} answering or waiting); try again "
                               "in a moment", headers={"retry-after": "1"})
        self.admitted += 1
        try:
            loop = asyncio.get_running_loop()
            answer = await loop.run_in_executor(self._pool, self.backend.ask, body.question, body.k, "hybrid",
                                                body.sources or None)
        except IndexProblem as e:  # e.g. the sources changed under the build and nothing can be quoted now
            raise Refused(503, f"not ready: {e}", headers={"retry-after": "5"}) from None
        except QAError as e:  # the library's own one-line messages; the fields were checked, so the question
            raise Refused(422, str(e), "question") from None
        except Exception:
            log.exception("/api/v1/ask failed")  # the traceback, never the question
            raise Refused(500, "something went wrong while answering; please try again") from None
        finally:
            self.admitted -= 1
        return _json(200, answer.to_dict())

    def router(self) -> APIRouter:
        router = APIRouter(route_class=OneLineErrors)

        def wrong_method(allow: str, message: str):
            async def refuse() -> Response:
                raise Refused(405, message, headers={"allow": allow})
            return refuse

        @router.get(HEALTH, summary="liveness", operation_id="healthz")
        async def healthz() -> Response:
            return _json(200, {"status": "ok"})

        @router.get(READY, operation_id="readyz",
                           summary="readiness: 200, or 503 with the reason")
        async def readyz() -> Response:
            r = self.readiness()
            return _json(200 if r.ready else 503, r.to_dict())

        router.add_api_route(HEALTH, healthz, methods=["HEAD"], include_in_schema=False)
        router.add_api_route(READY, readyz, methods=["HEAD"], include_in_schema=False)
        router.add_api_route(ASK, self.ask, methods=["POST"], dependencies=[Depends(self.ready)], operation_id="ask",
                             summary="answer a question with cited passages (the `ipt-qa ask --json` record)")
        others = ["GET", "HEAD", "PUT", "PATCH", "DELETE", "OPTIONS"]
        router.add_api_route(ASK, wrong_method("POST", "use POST with a JSON body"), methods=others,
                             include_in_schema=False)
        for path in (HEALTH, READY):
            router.add_api_route(path, wrong_method("GET, HEAD", "use GET"), methods=["POST", *others[2:]],
                                 include_in_schema=False)
        described = get_openapi(title="IPT passage assistant", version="1", routes=router.routes)

        @router.get(OPENAPI, include_in_schema=False)
        async def openapi() -> Response:
            return _json(200, described)

        return router


def routes(searcher, corpus_dir, *, concurrency: int = 4, queue_size: int = 64) -> list:
    """The routes for `App(routes=...)`, ahead of Gradio's own (app.launch passes them in app_kwargs)."""
    return AskRoutes(LocalBackend(searcher, corpus_dir), concurrency, queue_size).router().routes


def standalone(backend: SearchBackend, read_timeout: float | None = None, **kw) -> FastAPI:
    """The routes alone in a FastAPI app behind the body limit, as served beside the page (for tests)."""
    limit = Middleware(BodyLimit, read_timeout=read_timeout or BODY_READ_TIMEOUT)
    app = FastAPI(openapi_url=None, docs_url=None, redoc_url=None, middleware=[limit])
    app.state.ask_routes = api = AskRoutes(backend, **kw)
    app.include_router(api.router())
    return app

"""Issue 21, items 5 and 6: POST /api/v1/ask (qa/serve/routes.py behind qa/serve/bodylimit.py) answers a body
that stalls with 408 and a
deeply nested one with 400, instead of waiting for ever or answering 500 (RecursionError). The routes
driven as ASGI (the stall needs a body that never finishes, which an HTTP client will not send)
and through Starlette's TestClient; tiny corpus, fake embedder."""

from __future__ import annotations

import asyncio
import json

import pytest

from qa.serve.backend import LocalBackend
from qa.serve.routes import standalone


def _ask_scope(length: int) -> dict:
    return {"type": "http", "method": "POST", "path": "/api/v1/ask", "query_string": b"",
            "headers": [(b"content-type", b"application/json"), (b"content-length", str(length).encode())]}


def test_a_body_that_stalls_gets_408_and_the_connection_closes(tiny_searcher, tiny_corpus):
    """Before: 11 of 100 announced bytes, then silence, held the request (and its descriptor) for ever."""
    routes = standalone(LocalBackend(tiny_searcher, tiny_corpus), read_timeout=0.3)
    sent: list[dict] = []

    async def receive():
        if not sent and not getattr(receive, "once", False):
            receive.once = True
            return {"type": "http.request", "body": b'{"question"', "more_body": True}
        await asyncio.Event().wait()  # the rest never comes

    async def send(message):
        sent.append(message)

    async def run():
        await asyncio.wait_for(routes(_ask_scope(100), receive, send), 5)

    asyncio.run(run())
    start, body = sent
    assert start["status"] == 408 and (b"connection", b"close") in start["headers"]
    assert json.loads(body["body"])["error"] == "request body not received within 0.3 s"


@pytest.mark.parametrize("depth", [3_000, 100_000])
@pytest.mark.parametrize("shape", ["list", "object", "in_sources"])
def test_deeply_nested_json_gets_400_in_one_line(tiny_searcher, tiny_corpus, depth, shape):
    """Before: 500 'something went wrong' with a RecursionError traceback in the log."""
    from starlette.testclient import TestClient

    body = {"list": "[" * depth + "]" * depth,
            "object": '{"a":' * depth + "1" + "}" * depth,
            "in_sources": '{"question": "Who created IPT?", "sources": ' + "[" * depth + "]" * depth + "}"}[shape]
    with TestClient(standalone(LocalBackend(tiny_searcher, tiny_corpus)), raise_server_exceptions=False) as c:
        r = c.post("/api/v1/ask", content=body.encode())
        assert r.status_code == 400, r.text[:300]
        assert r.json()["error"].startswith("the body nests JSON too deeply") and "\n" not in r.json()["error"]
        assert c.post("/api/v1/ask", json={"question": "alpha"}).status_code == 200

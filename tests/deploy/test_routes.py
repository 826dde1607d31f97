"""/healthz, /readyz and /api/v1/ask (qa/serve/routes.py) and the readiness of the local backend
(qa/serve/backend.py), on the tiny corpus with the fake embedder: no nginx, no model, a second or two."""

from __future__ import annotations

import json
import threading

import pytest
from waiting import wait_for

from qa.serve.backend import LocalBackend, Readiness, SearchBackend
from qa.serve.routes import standalone


@pytest.fixture
def backend(tiny_searcher, tiny_corpus):
    return LocalBackend(tiny_searcher, tiny_corpus)


@pytest.fixture
def client(backend):
    from starlette.testclient import TestClient

    with TestClient(standalone(backend, concurrency=2, queue_size=2)) as c:
        yield c


def test_local_backend_is_the_named_boundary(backend):
    assert isinstance(backend, SearchBackend)
    assert backend.source_ids() == list(backend.searcher.index.sources)


def test_readiness_stats_files_and_rereads_only_what_moved(backend, tiny_corpus, monkeypatch):
    import qa.serve.backend

    calls = []
    real = qa.serve.backend.stale_sources
    monkeypatch.setattr(qa.serve.backend, "stale_sources", lambda *a: calls.append(1) or real(*a))
    for _ in range(200):
        r = backend.readiness()
        assert r.ready and r.build == backend.searcher.index.directory.name
    assert len(calls) == 1 and backend.rechecks == 2  # corpus and index read once, at the first call

    src = next(p for p in tiny_corpus.iterdir() if p.suffix == ".txt")
    before = src.read_bytes()
    src.write_bytes(before + b"\nAn added line.\n")
    r = backend.readiness()
    assert not r.ready and src.name in r.reason and "ipt-qa build" in r.reason and "\n" not in r.reason
    assert r.to_dict()["status"] == "not ready"
    src.write_bytes(before)  # the same bytes again (a new mtime): ready again, after one more re-read
    assert backend.readiness().ready
    assert len(calls) == 3


def test_damaged_index_file_of_the_same_size_makes_it_not_ready(backend):
    f = backend.searcher.index.directory / "vectors.npy"
    data = bytearray(f.read_bytes())
    data[-1] ^= 0x01
    f.write_bytes(bytes(data))
    r = backend.readiness()
    assert not r.ready and "vectors.npy" in r.reason and "damaged" in r.reason


def test_health_and_readiness_routes(client, backend):
    r = client.get("/healthz")
    assert (r.status_code, r.json()) == (200, {"status": "ok"})
    r = client.get("/readyz")
    assert r.status_code == 200 and r.json()["status"] == "ready" and r.json()["build"] == backend.build_id
    assert client.head("/readyz").status_code == 200
    r = client.post("/readyz")
    assert (r.status_code, r.json(), r.headers["allow"]) == (405, {"error": "use GET"}, "GET, HEAD")


def test_ask_returns_the_cli_json_record(client, tiny_searcher):
    r = client.post("/api/v1/ask", json={"question": "alpha", "k": 2})
    assert r.status_code == 200 and r.headers["content-type"].startswith("application/json")
    assert r.headers["cache-control"] == "no-store"
    # Byte for byte what `ipt-qa ask --json` prints for the question.
    line = json.dumps(tiny_searcher.ask("alpha", k=2).to_dict(), ensure_ascii=False)
    assert r.text == line + "\n"
    only = list(tiny_searcher.index.sources)[:1]
    r = client.post("/api/v1/ask", json={"question": "alpha", "sources": only})
    assert r.status_code == 200 and {p["source_id"] for p in r.json()["passages"]} <= set(only)


@pytest.mark.parametrize("body, field", [
    ({}, "question"),
    ({"question": 3}, "question"),
    ({"question": "   "}, "question"),
    ({"question": "alpha", "k": 0}, "k"),
    ({"question": "alpha", "k": 51}, "k"),
    ({"question": "alpha", "k": True}, "k"),
    ({"question": "alpha", "k": "3"}, "k"),
    ({"question": "alpha", "sources": "alpha"}, "sources"),
    ({"question": "alpha", "sources": ["no-such-source"]}, "sources"),
    ({"question": "alpha", "q": "x"}, "q"),
])
def test_bad_fields_get_422_naming_the_field(client, body, field):
    r = client.post("/api/v1/ask", json=body)
    assert r.status_code == 422, r.text
    assert r.json()["field"] == field and "\n" not in r.json()["error"]


def test_malformed_bodies_and_methods(client):
    for body in (b"not json", b"\xff\xfe", b"[1, 2]", b'"who"'):
        r = client.post("/api/v1/ask", content=body)
        assert r.status_code == 400 and r.json()["error"], body
    r = client.get("/api/v1/ask")
    assert r.status_code == 405 and r.headers["allow"] == "POST"


def test_bodies_over_4_mib_get_413_declared_or_chunked(client):
    big = b'{"question": "' + b"a" * (4 * 1024 * 1024) + b'"}'
    r = client.post("/api/v1/ask", content=big)
    assert r.status_code == 413 and "4,194,304" in r.json()["error"]

    def chunks():  # no Content-Length: the bound is counted as the body arrives
        yield b'{"question": "'
        for _ in range(5):
            yield b"a" * (1024 * 1024)
        yield b'"}'

    r = client.post("/api/v1/ask", content=chunks())
    assert r.status_code == 413


def test_not_ready_means_503_with_the_reason(tiny_searcher, tiny_corpus):
    from starlette.testclient import TestClient

    class Down(LocalBackend):
        def readiness(self):
            return Readiness(False, "the corpus changed since build x (a.txt edited)", "x")

    with TestClient(standalone(Down(tiny_searcher, tiny_corpus))) as c:
        r = c.get("/readyz")
        assert r.status_code == 503 and r.json()["reason"].startswith("the corpus changed")
        r = c.post("/api/v1/ask", json={"question": "alpha"})
        assert r.status_code == 503 and "a.txt edited" in r.json()["error"]
        assert c.get("/healthz").status_code == 200  # alive all the same: do not restart it, take it out


def test_overflow_beyond_the_queue_bound_gets_429(tiny_searcher, tiny_corpus):
    from starlette.testclient import TestClient

    release = threading.Event()
    started = threading.Semaphore(0)

    class Slow(LocalBackend):
        def ask(self, *a, **kw):
            started.release()
            release.wait(30)
            return super().ask(*a, **kw)

    # One answering, one waiting: the third question at once is refused rather than queued without bound.
    routes = standalone(Slow(tiny_searcher, tiny_corpus), concurrency=1, queue_size=1)
    with TestClient(routes) as c:
        out = []

        def post():
            out.append(c.post("/api/v1/ask", json={"question": "alpha"}))

        threads = [threading.Thread(target=post) for _ in range(2)]
        for t in threads:
            t.start()
        assert started.acquire(timeout=10)
        wait_for(lambda: routes.state.ask_routes.admitted == 2, "the second question to wait for the one thread")
        r = c.post("/api/v1/ask", json={"question": "alpha"})
        assert r.status_code == 429 and r.headers["retry-after"] == "1" and "try again" in r.json()["error"]
        release.set()
        for t in threads:
            t.join(30)
        assert [x.status_code for x in out] == [200, 200]
        assert c.post("/api/v1/ask", json={"question": "alpha"}).status_code == 200


def test_an_unexpected_failure_is_500_in_one_line_without_the_question(tiny_searcher, tiny_corpus, caplog):
    from starlette.testclient import TestClient

    class Broken(LocalBackend):
        def ask(self, *a, **kw):
            raise RuntimeError("boom")

    with TestClient(standalone(Broken(tiny_searcher, tiny_corpus))) as c:
        r = c.post("/api/v1/ask", json={"question": "quokka-private alpha"})
    assert r.status_code == 500 and r.json() == {"error": "something went wrong while answering; please try again"}
    assert "quokka-private" not in caplog.text and "boom" in caplog.text


def test_the_page_serves_the_routes_and_their_openapi_description(tiny_searcher, tiny_corpus):
    """The routes are FastAPI routes in Gradio's own app: beside the page, described for client generators."""
    import urllib.request

    from app_support import serve

    with serve(tiny_searcher, tiny_corpus) as url:
        with urllib.request.urlopen(url + "/healthz", timeout=30) as r:
            assert json.loads(r.read()) == {"status": "ok"}
        with urllib.request.urlopen(url + "/api/v1/openapi.json", timeout=30) as r:
            spec = json.loads(r.read())
        with urllib.request.urlopen(url + "/", timeout=30) as r:  # the page is still Gradio's
            assert r.status == 200 and "text/html" in r.headers["content-type"]
    ask = spec["paths"]["/api/v1/ask"]["post"]
    ref = ask["requestBody"]["content"]["application/json"]["schema"]["$ref"].rsplit("/", 1)[-1]
    body = spec["components"]["schemas"][ref]
    assert set(body["properties"]) == {"question", "k", "sources"} and body["required"] == ["question"]
    assert body["additionalProperties"] is False
    assert (body["properties"]["k"]["minimum"], body["properties"]["k"]["maximum"]) == (1, 50)
    assert set(spec["paths"]) == {"/healthz", "/readyz", "/api/v1/ask"}

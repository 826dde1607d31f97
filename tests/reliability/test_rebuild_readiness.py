"""Issue 21, items 1, 3 and 7: readiness and the JSON route of a served page (a LiveSearcher behind the real
routes behind the body limit, as `ipt-qa serve` serves them) through the documented workflow: edit a source, then
`ipt-qa build`. Tiny corpus, fake embedder: a few seconds, no model.
"""

from __future__ import annotations

import logging
import traceback
from pathlib import Path

import pytest
from rel_support import check_verbatim

from qa import open_searcher
from qa.errors import IndexStale
from qa.index.build import build_index
from qa.serve.backend import LocalBackend
from qa.serve.routes import standalone
from qa.settings import Settings

SETTINGS = Settings(abstain=False)  # the fake embedder's cosines are not MiniLM's
QUESTION = "Who created IPT?"


@pytest.fixture
def served(tiny_corpus, tmp_path, fake_embedder):
    """(index dir, LiveSearcher, TestClient of the Routes in front of it)."""
    from starlette.testclient import TestClient

    index = tmp_path / "index"
    build_index(tiny_corpus, index, fake_embedder, SETTINGS)
    searcher = open_searcher(index, tiny_corpus, settings=SETTINGS, embedder=fake_embedder, rebuild="never")
    with TestClient(standalone(LocalBackend(searcher, tiny_corpus))) as client:
        yield index, searcher, client


def _edit(path: Path, line: str) -> None:
    first, rest = path.read_text(encoding="utf-8").split("\n", 1)
    path.write_text(f"{first}\n\n{line}\n{rest}", encoding="utf-8")


def test_edit_then_build_keeps_the_replica_ready_and_answering(served, tiny_corpus, fake_embedder):
    """Item 1. Before: /readyz 500 (IndexStale raised through readiness), then 503 for good after the build."""
    index, searcher, client = served
    first = client.get("/readyz").json()
    assert first["status"] == "ready"
    for n in range(3):  # three edits and builds, as the soak test does with the real deployment
        _edit(tiny_corpus / "alpha.txt", f"Edit number {n} while the page runs, moving every later offset.")
        r = client.get("/readyz")
        assert r.status_code == 200, r.text  # still able to quote exactly: stays in the load balancer
        assert "alpha.txt (alpha) edited" in r.json()["note"], r.json()
        a = client.post("/api/v1/ask", json={"question": QUESTION})
        assert a.status_code == 200, a.text
        check_verbatim(a.json(), tiny_corpus)
        assert {p["source_id"] for p in a.json()["passages"]} == {"beta"}
        assert any("alpha is left out" in w for w in a.json()["warnings"])

        build_index(tiny_corpus, index, fake_embedder, SETTINGS)
        r = client.get("/readyz")
        assert r.status_code == 200 and "note" not in r.json(), r.text
        assert r.json()["build"] == (index / "current").resolve().name != first["build"]
        a = client.post("/api/v1/ask", json={"question": QUESTION})
        assert a.status_code == 200 and "alpha" in {p["source_id"] for p in a.json()["passages"]}
        check_verbatim(a.json(), tiny_corpus)
    assert searcher.reloads == 3


def test_a_refusal_is_a_fresh_one_line_error_and_never_a_500(served, tiny_corpus, caplog):
    """Item 3. Before: one IndexStale instance re-raised, its traceback a frame longer each time (5,782 lines
    at the 500th request), and /readyz, /api/v1/ask answered 500 with that traceback in the log."""
    _, searcher, client = served
    for f in ("alpha.txt", "beta.md"):  # every source edited: nothing left to quote exactly
        _edit(tiny_corpus / f, "An edit that leaves no source as it was indexed.")
    lengths = []
    for _ in range(50):
        with pytest.raises(IndexStale) as e:
            searcher.ask(QUESTION)
        lengths.append(len(traceback.format_exception(e.value)))
    assert len(set(lengths)) == 1, lengths[:3] + lengths[-3:]
    with caplog.at_level(logging.INFO):
        for _ in range(30):
            r = client.get("/readyz")
            assert r.status_code == 503 and "\n" not in r.json()["reason"], r.text
            assert "beta.md (beta) edited" in r.json()["reason"]
            a = client.post("/api/v1/ask", json={"question": QUESTION})
            assert a.status_code == 503 and a.json()["error"].startswith("not ready: the sources changed")
    ours = [r for r in caplog.records if r.name.startswith("ipt-qa")]
    assert len(ours) == 1 and ours[0].exc_info is None and "not ready" in ours[0].getMessage(), ours[:3]


def test_readiness_watches_the_build_swapped_in(served, tiny_corpus, fake_embedder):
    """Item 7. Before: after a live reload readiness kept watching the first build's files, so damage to the
    build being served left /readyz at 200 (a fresh process said 503)."""
    index, searcher, client = served
    _edit(tiny_corpus / "alpha.txt", "An edit, then a build: the page moves to the new build.")
    build_index(tiny_corpus, index, fake_embedder, SETTINGS)
    r = client.get("/readyz")
    assert r.status_code == 200 and r.json()["build"] == (index / "current").resolve().name
    vectors = (index / "current").resolve() / "vectors.npy"
    vectors.write_bytes(b"\0" * vectors.stat().st_size)
    r = client.get("/readyz")
    assert r.status_code == 503 and "vectors.npy" in r.json()["reason"] and "damaged" in r.json()["reason"]

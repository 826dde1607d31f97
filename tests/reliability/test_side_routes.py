"""Case 9 (issue 12, items 3 and 4): no route around the queue's limits, and no uploads.

The page is served in this process for a searcher that takes 0.3 s per question and counts how many
questions it answers at once, so that a flood fills the queue deterministically.
"""

from __future__ import annotations

import json
import threading
import time
import urllib.error
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from app_support import GRADIO_PANDAS_NOISE, free_port
from rel_support import CORPUS, LOOPBACK, http_get

pytestmark = GRADIO_PANDAS_NOISE

_OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({}))
PAUSE = 0.3


class SlowSearcher:
    """The real searcher, slowed down and watched: the most searches running at the same time, and how many
    questions were answered."""

    def __init__(self, searcher):
        self._searcher = searcher
        self._lock = threading.Lock()
        self.running = self.most = self.done = 0

    def __getattr__(self, name):
        return getattr(self._searcher, name)

    def _watched(self, answered: int, call):
        with self._lock:
            self.running += 1
            self.most = max(self.most, self.running)
        try:
            time.sleep(PAUSE)
            return call()
        finally:
            with self._lock:
                self.running -= 1
                self.done += answered

    def ask(self, *args, **kwargs):
        return self._watched(1, lambda: self._searcher.ask(*args, **kwargs))

    def ask_many(self, questions, *args, **kwargs):
        # /ask embeds concurrent questions together (qa/serve/batcher.py): one call, len(questions) answers.
        return self._watched(len(questions), lambda: self._searcher.ask_many(questions, *args, **kwargs))


@pytest.fixture(scope="module")
def slow_app(real_searcher):
    import app

    slow = SlowSearcher(real_searcher)
    demo = app.build_demo(slow, CORPUS)
    _, url, _ = app.launch(demo, port=free_port(), prevent_thread_lock=True, quiet=True)
    try:
        yield url.rstrip("/"), slow
    finally:
        demo.close()


def _post(url: str, body: bytes, content_type: str = "application/json", timeout: float = 60) -> tuple[int, bytes]:
    assert url.startswith(f"http://{LOOPBACK}:"), url
    req = urllib.request.Request(url, data=body, headers={"Content-Type": content_type})
    try:
        with _OPENER.open(req, timeout=timeout) as r:
            return r.status, r.read()
    except urllib.error.HTTPError as e:
        return e.code, e.read()


@pytest.mark.model
@pytest.mark.parametrize("route", ["run/ask", "api/ask", "run/show", "api/show", "run/ask/"])
def test_direct_routes_around_the_queue_are_closed(slow_app, route):
    url, slow = slow_app
    data = ["Who created IPT?", 5, None] if "ask" in route else ["Who created IPT?", 5, ["focus-of-ipt"]]
    before = slow.done
    status, body = _post(f"{url}/gradio_api/{route}", json.dumps({"data": data}).encode())
    assert status == 404, (status, body[:200])
    assert slow.done == before  # nothing was searched


@pytest.mark.model
def test_a_flood_is_bounded_by_the_queue_on_every_route(slow_app):
    """150 questions at once on the queued route and 40 on each direct one: never more than CONCURRENCY
    searches at a time, at most QUEUE_SIZE waiting, the rest refused with 503, every accepted one answered."""
    import app

    url, slow = slow_app
    slow.most, start_done = 0, slow.done
    body = json.dumps({"data": ["How long does IPT last?", 3, None]}).encode()
    targets = [f"{url}/gradio_api/call/ask"] * 150 + [f"{url}/gradio_api/run/ask"] * 40 \
        + [f"{url}/gradio_api/api/ask"] * 40
    with ThreadPoolExecutor(len(targets)) as pool:
        results = list(pool.map(lambda t: (t, *_post(t, body)), targets))
    queued = [status for t, status, _ in results if "/call/" in t]
    direct = [status for t, status, _ in results if "/call/" not in t]
    assert set(direct) == {404}, sorted(set(direct))
    assert set(queued) <= {200, 503}, sorted(set(queued))
    accepted = queued.count(200)
    assert queued.count(503) > 0 and accepted >= app.QUEUE_SIZE, (accepted, queued.count(503))
    refusal = next(b for t, s, b in results if s == 503)
    assert b"queue" in refusal.lower(), refusal[:200]
    deadline = time.monotonic() + 120
    while slow.done - start_done < accepted and time.monotonic() < deadline:
        time.sleep(0.2)
    assert slow.done - start_done == accepted  # every accepted question was answered, none twice
    assert slow.most <= app.CONCURRENCY, slow.most
    print(f"\nflood: 150 queued-route requests: {accepted} accepted, {queued.count(503)} refused 503; "
          f"80 direct-route requests: all 404; at most {slow.most} searches at once")


# ---------------------------------------------------------------------------------------------------------
# uploads


def _multipart(name: str, data: bytes) -> tuple[bytes, str]:
    boundary = "----ipt-qa-test-boundary"
    body = (f"--{boundary}\r\nContent-Disposition: form-data; name=\"files\"; filename=\"{name}\"\r\n"
            "Content-Type: application/octet-stream\r\n\r\n").encode() + data + f"\r\n--{boundary}--\r\n".encode()
    return body, f"multipart/form-data; boundary={boundary}"


@pytest.mark.model
def test_deep_link_route_writes_no_session_to_disk(slow_app):
    url, _ = slow_app
    status, body = http_get(f"{url}/gradio_api/deep_link?session_hash=anyone")
    assert status == 403, (status, body[:200])


@pytest.mark.model
@pytest.mark.parametrize("path", ["/gradio_api/upload", "/gradio_api/upload/", "/gradio_api/upload?upload_id=x"])
def test_uploads_are_refused_and_nothing_is_stored(slow_app, path, tmp_path):
    import gradio.utils

    url, _ = slow_app
    cache = Path(gradio.utils.get_upload_folder())
    before = set(cache.rglob("*")) if cache.exists() else set()
    marker = b"ipt-qa upload probe " + str(time.time()).encode()
    body, ctype = _multipart("probe.txt", marker + b"x" * 10_000)
    status, answer = _post(f"{url}{path}", body, ctype)
    assert status == 403, (status, answer[:200])
    after = set(cache.rglob("*")) if cache.exists() else set()
    assert not any(p.is_file() and marker in p.read_bytes() for p in after - before)
    status, _ = http_get(f"{url}/gradio_api/file={cache}/probe.txt")
    assert status != 200

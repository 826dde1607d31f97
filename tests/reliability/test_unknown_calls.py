"""Issue 30, item 5: a Gradio API call naming a function the page does not have (`/gradio_api/call/nosuch`,
`queue/join` with an unknown fn_index) is the caller's mistake: 404 with a one-line message, not a 500 with a
~75-line traceback in the server's log (200 of them wrote 1.07 MB). Repeated errors are rate-limited in the log.
The real page in this process on the tiny corpus; what the server writes is read at the descriptors."""

from __future__ import annotations

import json
import logging
import urllib.error
import urllib.request

import pytest
from app_support import GRADIO_PANDAS_NOISE, serve

pytestmark = GRADIO_PANDAS_NOISE

UNKNOWN = [("/gradio_api/call/nosuch", {"data": []}),
           ("/gradio_api/queue/join", {"data": [], "fn_index": 999, "session_hash": "s1"}),
           ("/gradio_api/queue/join", {"data": [], "fn_index": -7, "session_hash": "s1"})]


def _post(url: str, body: dict) -> tuple[int, bytes]:
    request = urllib.request.Request(url, json.dumps(body).encode(), {"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=30) as r:
            return r.status, r.read()
    except urllib.error.HTTPError as e:
        return e.code, e.read()


@pytest.mark.parametrize("path, body", UNKNOWN)
def test_an_unknown_function_is_404_in_one_line(tiny_searcher, tiny_corpus, capfd, path, body):
    with serve(tiny_searcher, tiny_corpus) as url:
        capfd.readouterr()
        status, answer = _post(url + path, body)
        assert status == 404, answer[:300]
        message = json.loads(answer)["detail"]
        assert isinstance(message, str) and "\n" not in message and "no function" in message
        written = capfd.readouterr()
        assert "Traceback" not in written.out + written.err
        # A known function still answers.
        status, answer = _post(url + "/gradio_api/call/echo", {"data": ["hello"]})
        assert status == 200 and json.loads(answer)["event_id"]


def test_repeated_errors_are_rate_limited_in_the_log(tiny_searcher, tiny_corpus, capfd, caplog):
    """200 calls to unknown functions write a bounded amount, however many come."""
    with caplog.at_level(logging.DEBUG), serve(tiny_searcher, tiny_corpus) as url:
        capfd.readouterr()
        for i in range(200):
            path, body = UNKNOWN[i % len(UNKNOWN)]
            assert _post(url + path, body)[0] == 404
        written = capfd.readouterr()
    logged = "\n".join(r.getMessage() for r in caplog.records)
    # Before: about 5 kB a request (1.07 MB for 200). Now a few lines per kind of error, then a count.
    assert len(written.out) + len(written.err) + len(logged) < 4000, (written.err[-1500:], logged[-1500:])

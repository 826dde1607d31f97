"""Case 10 (issue 12, item 2): memory per browser session is bounded.

Each new browser session used to cost Gradio a copy of its last question and answer (up to 10,000 sessions):
500 abandoned sessions added ~450 MB, and 1 MB questions pushed RSS from 0.6 to 2.4 GB.
"""

from __future__ import annotations

import json
import urllib.request
import uuid

import pytest
from app_support import GRADIO_PANDAS_NOISE
from rel_support import CORPUS, LOOPBACK, app_process, http_get, rss_bytes

pytestmark = GRADIO_PANDAS_NOISE

_OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({}))
SESSIONS = 200
QUESTION_CHARS = 512 * 1024
# Measured after the fix: +8 to +14 MiB for 200-300 such sessions (before: +1 MiB per session, i.e. ~100 MiB).
BOUND_MIB = 48


def _new_session(base: str, fn_index: int, data: list) -> dict:
    """What a browser tab does: join the queue under a fresh session id, then read the event stream."""
    assert base.startswith(f"http://{LOOPBACK}:"), base
    session = uuid.uuid4().hex[:12]
    body = json.dumps({"data": data, "fn_index": fn_index, "session_hash": session, "event_data": None,
                       "trigger_id": None}).encode()
    req = urllib.request.Request(f"{base}/gradio_api/queue/join", data=body,
                                 headers={"Content-Type": "application/json"})
    with _OPENER.open(req, timeout=60) as r:
        assert r.status == 200
    with _OPENER.open(f"{base}/gradio_api/queue/data?session_hash={session}", timeout=60) as r:
        for line in r:
            if b'"process_completed"' in line:
                return json.loads(line.decode("utf-8")[len("data:"):])
    raise AssertionError("the event stream ended without a result")


@pytest.mark.model
def test_rss_after_many_new_sessions_with_big_questions_stays_bounded(real_index_dir):
    with app_process(real_index_dir, CORPUS) as (base, proc):
        config = json.loads(http_get(f"{base}/config")[1])
        show = next(d["id"] for d in config["dependencies"] if d.get("api_name") == "show")
        question = ("Who created IPT? " + "lorem ipsum dolor sit amet " * (QUESTION_CHARS // 27 + 1))[:QUESTION_CHARS]
        data = [question, 5, ["focus-of-ipt"]]
        for _ in range(20):  # warm-up: allocator pools, model, first-request caches
            _new_session(base, show, data)
        before = rss_bytes(proc.pid)
        for _ in range(SESSIONS):
            result = _new_session(base, show, data)
            assert result["success"], result
        grown = (rss_bytes(proc.pid) - before) / 2**20
        print(f"\nsessions: {SESSIONS} new sessions with {QUESTION_CHARS // 1024} KB questions: RSS "
              f"{before / 2**20:.0f} MiB -> +{grown:.1f} MiB (bound {BOUND_MIB} MiB)")
        assert "ipt-results" in result["output"]["data"][0]
        assert grown < BOUND_MIB, grown


@pytest.mark.model
def test_sessions_keep_no_copy_of_questions_or_answers(real_searcher):
    from app_support import free_port

    import app

    demo = app.build_demo(real_searcher, CORPUS)
    _, url, _ = app.launch(demo, port=free_port(), prevent_thread_lock=True, quiet=True)
    try:
        base = url.rstrip("/")
        config = json.loads(http_get(f"{base}/config")[1])
        show = next(d["id"] for d in config["dependencies"] if d.get("api_name") == "show")
        marker = "Who created IPT? " + "unforgettable-marker " * 5000
        for _ in range(3):
            assert _new_session(base, show, [marker, 5, ["focus-of-ipt"]])["success"]
        holder = demo.server_app.state_holder
        assert holder.capacity == app.SESSION_CAPACITY
        stored = json.dumps([list(s.config_values.values()) for s in holder.session_data.values()], default=str)
        assert "unforgettable-marker" not in stored and "Klerman" not in stored
    finally:
        demo.close()

"""Issue 21, item 4: a Gradio API call with a missing argument or a value of the wrong kind never writes the
question to the server's log, and the caller gets a one-line error instead of `"error": null`.

The real page (app.build_demo + app.launch) in this process on the tiny corpus with the fake embedder; what
the server writes is read at the file descriptors (capfd) and from logging (caplog).
"""

from __future__ import annotations

import json
import logging

import pytest
from app_support import GRADIO_PANDAS_NOISE, serve
from rel_support import gradio_call

pytestmark = GRADIO_PANDAS_NOISE

MARKER = "quokka-private-4417"
QUESTION = f"My {MARKER} question about my own mental health: who created IPT?"


@pytest.mark.parametrize("api, data, expected", [
    ("ask", [QUESTION], "/ask takes 3 values (question, k, sources); 1 were sent"),  # k and sources left out
    ("ask", [], "/ask takes 3 values"),  # nothing at all (issue 12, left open)
    ("show", [QUESTION, "abc", []], "the value sent for slider 'Number of passages'"),  # k not a number
    ("show", [QUESTION, 3, {MARKER: 1}], "sources must be a list of source ids"),  # not a list of ids
])
def test_refused_inputs_are_one_line_and_never_logged(tiny_searcher, tiny_corpus, capfd, caplog, api, data,
                                                      expected):
    with caplog.at_level(logging.DEBUG), serve(tiny_searcher, tiny_corpus) as url:
        capfd.readouterr()
        event, payload = gradio_call(url, api, data)
        assert event == "error", (event, payload)
        message = json.loads(payload)["error"]  # was null
        assert isinstance(message, str) and message.lower().startswith(expected.lower()), message
        assert "\n" not in message and MARKER not in message
        # The page still answers the same question asked properly.
        event, out = gradio_call(url, "ask", [QUESTION, 3, None])
        assert event == "complete" and out[0]["question"] == QUESTION
    written = capfd.readouterr()
    logged = "\n".join(r.getMessage() for r in caplog.records)
    for where, text in (("stdout", written.out), ("stderr", written.err), ("logging", logged)):
        assert MARKER not in text, f"the question reached {where}: {text[-1500:]}"
        assert "Traceback" not in text, (where, text[-1500:])

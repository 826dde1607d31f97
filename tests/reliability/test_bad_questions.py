"""Case 1: hostile questions through the library, the command line and the web API.

Each gets a clear answer or a one-line message, nothing crashes, the next ordinary question is answered as
before, every passage is the exact slice of its source file, and no markup from the question is live in the
HTML the page shows.
"""

from __future__ import annotations

import html
import json
import subprocess
import sys
from pathlib import Path

import pytest
from app_support import GRADIO_PANDAS_NOISE
from rel_support import (
    BAD_QUESTIONS,
    CLI_LINES,
    CORPUS,
    EMPTY_AFTER_CLEANING,
    GOOD_QUESTION,
    ROOT,
    check_verbatim,
    child_env,
    gradio_call,
    live_markup,
    spans,
)

from qa.present import page
from qa.retrieve.query import QuestionError

pytestmark = [pytest.mark.model, *GRADIO_PANDAS_NOISE]



def echoes(markup: str, question: str) -> bool:
    """The page repeats the question escaped: whole when short, or folded with the whole one click further."""
    q = html.escape(question)
    return f'<q dir="auto">{q}</q>' in markup or f'<p dir="auto" class="ipt-asked-all">{q}</p>' in markup

def _reference(searcher, question: str) -> dict | str:
    """What the library itself answers: the record, or the QuestionError message."""
    try:
        return searcher.ask(question).to_dict()
    except QuestionError as e:
        return str(e)


def _check_record(rec: dict, name: str, base: Path) -> None:
    check_verbatim(rec, base)
    json.dumps(rec, ensure_ascii=False).encode("utf-8")  # serialisable as UTF-8: no lone surrogate left
    if rec["abstained"]:
        assert rec["passages"] == [] and rec["reason"] and "\n" not in rec["reason"]
    else:
        assert rec["passages"] and rec["reason"] is None
    if name == "one_megabyte":
        assert len(rec["question"]) <= 1000
        assert any("characters long" in w for w in rec["warnings"]), rec["warnings"]
    if name == "prompt_injection":
        # Nothing of the assistant's own making: the only free text is the passages (checked verbatim above),
        # the fixed abstention reason and warnings.
        rest = {k: v for k, v in rec.items() if k not in ("question", "passages")}
        assert "poem" not in json.dumps(rest).lower()


@pytest.mark.parametrize("name", list(BAD_QUESTIONS))
def test_library_answers_bad_questions(real_searcher, name):
    q = BAD_QUESTIONS[name]
    before = spans(real_searcher.ask(GOOD_QUESTION).to_dict())
    if name in EMPTY_AFTER_CLEANING:
        with pytest.raises(QuestionError) as err:
            real_searcher.ask(q)
        msg = str(err.value)
        assert "empty" in msg and "\n" not in msg
        assert live_markup(page.message_html(msg, "error")) == []
        [answer] = real_searcher.ask_many([q])  # in a batch: an abstention, and the batch goes on
        assert answer.abstained and "empty" in answer.reason
    else:
        answer = real_searcher.ask(q)
        assert "\x00" not in answer.question and "\ud800" not in answer.question
    rec = answer.to_dict()
    _check_record(rec, name, Path.cwd())
    shown = page.answer_html(answer)
    assert live_markup(shown) == [], shown[:500]
    if name not in EMPTY_AFTER_CLEANING:
        assert echoes(shown, answer.question)
    assert spans(real_searcher.ask(GOOD_QUESTION).to_dict()) == before


@pytest.mark.parametrize("name", list(BAD_QUESTIONS))
def test_web_api_answers_bad_questions(real_app_client, real_app_url, real_searcher, name):
    from gradio_client.exceptions import AppError

    client, url = real_app_client, real_app_url
    every = list(real_searcher.index.sources)
    q = BAD_QUESTIONS[name]
    expected = _reference(real_searcher, q)
    before = client.predict(GOOD_QUESTION, 5, None, api_name="/ask")

    if name == "lone_surrogate":
        # gradio_client sends UTF-8 JSON and cannot encode a lone surrogate: it refuses before sending anything.
        with pytest.raises(UnicodeEncodeError):
            client.predict(q, 5, None, api_name="/ask")
        # Sent anyway, as JSON with an ASCII \ud800 escape, the server answers it.
        event, out = gradio_call(url, "ask", [q, 5, None])
        assert event == "complete", out
        rec = out[0]
        event, out = gradio_call(url, "show", [q, 5, every])
        assert event == "complete", out
        results, source = out
    else:
        try:
            rec = client.predict(q, 5, None, api_name="/ask")
        except AppError as e:
            assert isinstance(expected, str), f"the library answered but the API failed: {e}"
            msg = str(e)
            assert msg == expected and "\n" not in msg and "Traceback" not in msg
            rec = None
        results, source = client.predict(q, 5, every, api_name="/show")

    if rec is not None:
        assert not isinstance(expected, str), expected
        _check_record(rec, name, Path.cwd())
        assert rec["question"] == expected["question"] and rec["abstained"] == expected["abstained"]
        assert spans(rec) == spans(expected)
        assert echoes(results, rec["question"])
    else:
        assert "Type a question" in results  # the page's own message for an empty question
    for markup in (results, source):
        assert live_markup(markup) == [], markup[:500]

    # The worker goes on serving: the next ordinary question gets the same answer as before.
    assert client.predict(GOOD_QUESTION, 5, None, api_name="/ask") == before


def test_cli_batch_answers_bad_questions(real_index_dir, real_searcher):
    """One `ipt-qa ask --json` reading every hostile line from stdin, each followed by an ordinary question.

    PYTHONIOENCODING=utf-8 makes standard input strict, as a UTF-8 locale does on most desktops: the case
    where invalid bytes used to end the batch with a traceback.
    """
    names = list(CLI_LINES)
    stdin = b"".join(CLI_LINES[n] + b"\n" + GOOD_QUESTION.encode() + b"\n" for n in names)
    proc = subprocess.run([sys.executable, "-m", "qa", "ask", "--json", "--index", str(real_index_dir),
                           "--corpus", str(CORPUS)], input=stdin, capture_output=True, cwd=ROOT,
                          env=child_env(PYTHONIOENCODING="utf-8"), timeout=300)
    err = proc.stderr.decode("utf-8", "replace")
    assert proc.returncode == 0, err
    assert "Traceback" not in err
    # JSON Lines: split on "\n" only (a record may hold U+2028, which str.splitlines would also cut at).
    lines = proc.stdout.decode("utf-8").split("\n")
    assert lines[-1] == ""
    records = [json.loads(line) for line in lines[:-1]]
    assert len(records) == 2 * len(names)

    good = spans(real_searcher.ask(GOOD_QUESTION).to_dict())
    for i, name in enumerate(names):
        rec, after = records[2 * i], records[2 * i + 1]
        _check_record(rec, name, ROOT)
        question = CLI_LINES[name].decode("utf-8", "surrogateescape")
        if name in ("empty", "whitespace"):
            assert rec["abstained"] and "empty" in rec["reason"]
        else:
            expected = real_searcher.ask(question).to_dict()
            assert rec["question"] == expected["question"]
            assert (rec["abstained"], spans(rec)) == (expected["abstained"], spans(expected)), name
        if name.endswith("invalid_utf8"):
            assert "?" in rec["question"] and "\ufffd" not in rec["question"]
        # ... and the question after it is answered as ever.
        assert after["question"] == GOOD_QUESTION and spans(after) == good, name
    assert "ipt-qa: warning: the question was 1,048,576 characters long" in err

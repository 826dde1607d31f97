"""The real page (real index, real model) called through gradio_client, as a program would."""

from __future__ import annotations

import dataclasses
import html
import json
from concurrent.futures import ThreadPoolExecutor

import pytest
from app_support import GRADIO_PANDAS_NOISE, serve

from qa.records import NOT_IN_RECORD, Answer

pytestmark = [pytest.mark.model, *GRADIO_PANDAS_NOISE]

XSS = '<img src=x onerror=alert(1)> <script>alert(1)</script> what is IPT?'
RECORD_KEYS = {f.name for f in dataclasses.fields(Answer)} - NOT_IN_RECORD  # the one definition


@pytest.fixture(scope="module")
def url(real_searcher):
    with serve(real_searcher) as u:
        yield u


@pytest.fixture(scope="module")
def client(url):
    from gradio_client import Client

    # The default download_files, as README's example: each citation names its file `file`, since
    # gradio_client downloads any object with a string "path" (issue 21, item 9: it failed with 403 before).
    return Client(url, analytics_enabled=False, verbose=False)


def ask(client, question, k=5, sources=None) -> dict:
    record = client.predict(question, k, sources, api_name="/ask")
    assert isinstance(record, dict)  # the record itself, no JSON text to decode
    return record


def test_endpoints_are_named(client):
    named = client.view_api(print_info=False, return_format="dict")["named_endpoints"]
    assert {"/ask", "/echo", "/show"} <= set(named)


def test_ask_has_a_typed_signature(client):
    (ret,) = client.view_api(print_info=False, return_format="dict")["named_endpoints"]["/ask"]["returns"]
    shown = ret["python_type"]["type"]
    assert shown.startswith("dict(question: str, abstained: bool") and "passages: list[dict(rank: int" in shown
    props = ret["type"]["properties"]
    assert set(props) == RECORD_KEYS and props["passages"]["items"]["properties"]["highlight"]["type"] == "object"


def test_api_records_follow_the_shared_schema(client):
    from schema_support import record_errors

    for q in ("Who created IPT?", "What is the capital of France?", "I think about suicide. Can IPT help?"):
        assert record_errors(ask(client, q)) == []


def test_who_created_ipt_quotes_the_exact_source_text(client, real_searcher):
    record = ask(client, "Who created interpersonal psychotherapy?")
    assert set(record) == RECORD_KEYS
    assert record["abstained"] is False and record["passages"]
    first = record["passages"][0]
    assert "Klerman" in first["text"] and "Weissman" in first["text"]
    for p in record["passages"]:
        assert "path" not in p and all("path" not in a for a in p["also_in"])
        with open(p["file"], encoding="utf-8") as f:
            assert p["text"] == f.read()[p["start"]:p["end"]]
        assert p["start"] <= p["highlight"]["start"] < p["highlight"]["end"] <= p["end"]
    # The same record as `ipt-qa ask --json` (the library's own answer, serialised the same way).
    direct = real_searcher.ask("Who created interpersonal psychotherapy?").to_dict()

    def path_named_path(c: dict) -> dict:
        return {("path" if k == "file" else k): v for k, v in c.items()}

    as_cli = {**record, "passages": [{**path_named_path(p), "also_in": [path_named_path(a) for a in p["also_in"]]}
                                     for p in record["passages"]]}
    assert as_cli == json.loads(json.dumps(direct, ensure_ascii=False))
    assert [list(p) for p in as_cli["passages"]] == [list(p) for p in direct["passages"]]  # same places


def test_readme_python_example_runs_as_printed(url):
    """README's gradio_client line, run as printed with only the address changed (issue 21, item 9)."""
    import re
    import subprocess
    import sys

    from app_support import ROOT

    line = next(x for x in (ROOT / "README.md").read_text(encoding="utf-8").splitlines()
                if x.startswith("python -c 'from gradio_client import Client"))
    code = re.fullmatch(r"python -c '(.*)'", line).group(1).replace("http://127.0.0.1:7860/", url + "/")
    env = {**__import__("os").environ, "NO_PROXY": "127.0.0.1", "no_proxy": "127.0.0.1"}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, env=env)
    assert out.returncode == 0, out.stderr[-2000:]
    assert "'passages': [{'rank': 1" in out.stdout and "'file': 'corpus/" in out.stdout, out.stdout[:500]


def test_off_topic_question_abstains(client):
    record = ask(client, "What is the capital of France?")
    assert record["abstained"] is True and record["reason"] and record["passages"] == []


def test_k_and_sources_are_honoured(client):
    assert len(ask(client, "How long does IPT last?", k=2)["passages"]) <= 2
    record = ask(client, "How long does IPT last?", k=5, sources=["understanding-ipt"])
    assert record["passages"] and {p["source_id"] for p in record["passages"]} == {"understanding-ipt"}


def test_unknown_source_is_a_one_line_error(client):
    from gradio_client.exceptions import AppError

    with pytest.raises(AppError) as e:
        ask(client, "How long does IPT last?", sources=["no-such-source"])
    assert "unknown source" in str(e.value) and "Traceback" not in str(e.value)


def test_xss_question_is_data_in_the_record_and_escaped_on_the_page(client, real_searcher):
    assert ask(client, XSS)["question"] == XSS
    results, source = client.predict(XSS, 5, list(real_searcher.index.sources), api_name="/show")
    assert html.escape(XSS) in results
    for raw in ("<img", "<script"):
        assert raw not in results.lower() and raw not in source.lower()


def test_page_output_shows_cards_and_crisis_notice_first(client, real_searcher):
    every = list(real_searcher.index.sources)
    results, _ = client.predict("Who created IPT?", 3, every, api_name="/show")
    assert results.count('class="ipt-card"') == 3 and "<mark" in results
    results, _ = client.predict("I have thought about suicide. Can IPT help with depression?", 3, every,
                                api_name="/show")
    assert results.index("ipt-notice") < results.index("ipt-asked")


def test_empty_question_and_no_source_get_clear_messages(client, real_searcher):
    results, _ = client.predict("   ", 5, list(real_searcher.index.sources), api_name="/show")
    assert "Type a question" in results
    results, _ = client.predict("Who created IPT?", 5, [], api_name="/show")
    assert "No source is chosen" in results
    # The API does what the library does with an empty question: an abstention or a one-line error.
    from gradio_client.exceptions import AppError

    try:
        record = ask(client, "   ")
    except AppError as e:
        assert "empty" in str(e) and "Traceback" not in str(e)
    else:
        assert record["abstained"] is True and record["passages"] == []


def test_echo_returns_its_input_unchanged(client):
    for text in ("hello", XSS, "ünïcødé ✓ — 12 to 16 weeks", ""):
        assert client.predict(text, api_name="/echo") == text


def test_several_learners_at_once(url):
    from gradio_client import Client

    questions = ["Who created IPT?", "How long does IPT last?", "What problems does IPT focus on?",
                 "Is IPT as good as medication?"] * 3
    # One Client per learner, as in a real class: a Client shared by threads cancels about 1% of jobs on its
    # own side (RELIABILITY.md, finding 3), which would make this test flaky without saying anything of the app.
    def learner(mine: list[str]) -> list[dict]:
        client = Client(url, analytics_enabled=False, verbose=False, download_files=False)
        return [ask(client, q) for q in mine]

    with ThreadPoolExecutor(4) as pool:
        per_learner = list(pool.map(learner, [questions[i::4] for i in range(4)]))
    records = [per_learner[i % 4][i // 4] for i in range(len(questions))]
    assert [r["question"] for r in records] == questions
    assert all(not r["abstained"] and r["passages"] for r in records)

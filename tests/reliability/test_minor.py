"""Case 11 (issue 12, minor items): each bad input or damaged state gets one line, never a traceback, never
a silent wrong answer."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest
from app_support import GRADIO_PANDAS_NOISE
from rel_support import LOOPBACK, ROOT, child_env

from qa.errors import CorpusError, IndexCorrupt
from qa.index.build import build_index
from qa.index.load import load_index

pytestmark = GRADIO_PANDAS_NOISE


# ---------------------------------------------------------------------------------------------------------
# web API: k and missing or null arguments

BAD_CALLS = {
    "k_huge_float": ["Who created IPT?", 1e300, None],
    "k_fraction": ["Who created IPT?", 2.9, None],
    "k_true": ["Who created IPT?", True, None],
    "k_null": ["Who created IPT?", None, None],
    "k_text": ["Who created IPT?", "five", None],
    "question_null": [None, 5, None],
    "question_number": [42, 5, None],
    "sources_number": ["Who created IPT?", 5, 7],
}
# Left open: a call with no arguments at all is refused by Gradio before the endpoint runs ("didn't receive
# enough input values"), and show_error=False sends that as `"error": null` (RELIABILITY.md, finding 6).


def _raw_call(base: str, data: list | str) -> tuple[str, object]:
    """POST /gradio_api/call/ask with a body written by hand (json.dumps cannot write 1e400 or Infinity)."""
    import urllib.request

    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    body = (data if isinstance(data, str) else json.dumps({"data": data})).encode()
    req = urllib.request.Request(f"{base}/gradio_api/call/ask", data=body, headers={"Content-Type": "application/json"})
    try:
        with opener.open(req, timeout=60) as r:
            event_id = json.loads(r.read())["event_id"]
    except urllib.error.HTTPError as e:
        return f"http {e.code}", e.read().decode("utf-8", "replace")
    with opener.open(f"{base}/gradio_api/call/ask/{event_id}", timeout=60) as r:
        stream = r.read().decode("utf-8")
    event = payload = None
    for line in stream.splitlines():
        if line.startswith("event:"):
            event = line.partition(":")[2].strip()
        elif line.startswith("data:"):
            payload = line.partition(":")[2].strip()
    return event, payload


@pytest.mark.model
@pytest.mark.parametrize("name", [*BAD_CALLS, "k_1e400", "k_infinity"])
def test_bad_api_arguments_get_a_one_line_message(real_app_url, name):
    if name == "k_1e400":
        data = '{"data": ["Who created IPT?", 1e400, null]}'
    elif name == "k_infinity":
        data = '{"data": ["Who created IPT?", Infinity, null]}'
    else:
        data = BAD_CALLS[name]
    event, payload = _raw_call(real_app_url, data)
    assert event in ("error", "http 422", "http 400"), (event, payload)
    message = json.loads(payload)["error"] if event == "error" else payload
    assert isinstance(message, str) and message.strip(), (event, payload)  # was `"error": null`
    assert "\n" not in message.strip() and "Traceback" not in message, message
    if name.startswith("k_"):
        assert "k must be a whole number from 1 to 50" in message, message


@pytest.mark.model
@pytest.mark.parametrize("k", [1, 3, 3.0])
def test_whole_number_k_is_accepted(real_app_url, k):
    event, payload = _raw_call(real_app_url, ["Who created IPT?", k, None])
    assert event == "complete", payload
    assert len(json.loads(payload)[0]["passages"]) <= 3  # /ask returns the record itself (docs/ask-record.schema.json)


# ---------------------------------------------------------------------------------------------------------
# serve: port in use or out of range


def _serve(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "qa", "serve", *args], capture_output=True, text=True, cwd=ROOT,
                          env=child_env(), timeout=120)


def _one_line(proc: subprocess.CompletedProcess, *must: str) -> None:
    assert proc.returncode == 2, (proc.returncode, proc.stderr[-2000:])
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("ipt-qa: ") and "Traceback" not in proc.stderr, proc.stderr
    for word in must:
        assert word in lines[0], (word, lines[0])


@pytest.mark.parametrize("port", ["0", "70000", "-1"])
def test_serve_on_a_port_out_of_range_is_one_line(port):
    _one_line(_serve("--port", port), "--port must be between 1 and 65535")


def test_serve_on_a_port_in_use_is_one_line():
    with socket.socket() as taken:
        taken.bind((LOOPBACK, 0))
        taken.listen()
        port = taken.getsockname()[1]
        _one_line(_serve("--port", str(port)), f"127.0.0.1:{port}", "--port")


# ---------------------------------------------------------------------------------------------------------
# corpus manifest: a nested-array bomb, an id with a trailing newline


def test_deeply_nested_arrays_in_the_manifest_are_one_line(tiny_corpus):
    from qa.ingest.corpus import load_corpus

    manifest = tiny_corpus / "sources.toml"
    manifest.write_text(manifest.read_text(encoding="utf-8") + "bomb = " + "[" * 100_000 + "]" * 100_000 + "\n",
                        encoding="utf-8")
    with pytest.raises(CorpusError) as refused:
        load_corpus(tiny_corpus)
    assert "sources.toml" in str(refused.value) and "nested too deeply" in str(refused.value)


def test_source_id_with_a_trailing_newline_is_refused(tiny_corpus):
    from qa.ingest.corpus import load_corpus

    manifest = tiny_corpus / "sources.toml"
    manifest.write_text(manifest.read_text(encoding="utf-8").replace('id = "alpha"', 'id = "alpha\\n"'),
                        encoding="utf-8")
    with pytest.raises(CorpusError) as refused:
        load_corpus(tiny_corpus)
    assert "must be lower-case letters" in str(refused.value)


# ---------------------------------------------------------------------------------------------------------
# index/current damaged in ways only a build can repair; a build pruned while it is read


@pytest.mark.parametrize("damage", ["self_loop", "empty_directory"])
def test_build_repairs_a_current_that_is_a_loop_or_an_empty_directory(tiny_corpus, tmp_path, fake_embedder, damage):
    index = tmp_path / "index"
    build_index(tiny_corpus, index, fake_embedder)
    (index / "current").unlink()
    if damage == "self_loop":
        os.symlink("current", index / "current")
    else:
        (index / "current").mkdir()
    with pytest.raises(IndexCorrupt) as refused:
        load_index(index, tiny_corpus)
    assert "build --full" in str(refused.value) and "\n" not in str(refused.value)
    build_index(tiny_corpus, index, fake_embedder, full=True)
    assert (index / "current").is_symlink() and load_index(index, tiny_corpus).passages


def test_load_retries_once_when_its_build_was_pruned_meanwhile(tiny_corpus, tmp_path, fake_embedder, monkeypatch):
    """The race, made certain: the build `current` pointed to when the load began is gone (pruned by two
    later builds) by the time its files are read."""
    import qa.index.load

    index = tmp_path / "index"
    build_index(tiny_corpus, index, fake_embedder)
    first = (index / "current").resolve()
    build_index(tiny_corpus, index, fake_embedder, full=True)
    build_index(tiny_corpus, index, fake_embedder, full=True)
    assert not first.exists()
    real = qa.index.load.build_dir_of
    calls = []

    def stale_then_real(index_dir):
        calls.append(index_dir)
        return first if len(calls) == 1 else real(index_dir)

    monkeypatch.setattr(qa.index.load, "build_dir_of", stale_then_real)
    loaded = load_index(index, tiny_corpus)
    assert loaded.directory == (index / "current").resolve() and len(calls) == 2


# ---------------------------------------------------------------------------------------------------------
# the index manifest is signed


def _edit(index: Path, change) -> None:
    path = (index / "current").resolve() / "manifest.json"
    manifest = json.loads(path.read_text(encoding="utf-8"))
    change(manifest)
    path.write_text(json.dumps(manifest), encoding="utf-8")


def _swap_files(m: dict) -> None:
    a, b = m["sources"][0], m["sources"][1]
    a["file"], b["file"] = b["file"], a["file"]


@pytest.mark.parametrize("change", [_swap_files, lambda m: m.update(model=None), lambda m: m["sources"].pop()],
                         ids=["swapped_files", "model_null", "dropped_source"])
def test_edited_manifest_is_refused_in_one_line(tiny_corpus, tmp_path, fake_embedder, change):
    index = tmp_path / "index"
    build_index(tiny_corpus, index, fake_embedder)
    _edit(index, change)
    with pytest.raises(IndexCorrupt) as refused:
        load_index(index, tiny_corpus, model_sha256=fake_embedder.weights_sha256)
    assert "manifest.json" in str(refused.value) and "build --full" in str(refused.value)
    build_index(tiny_corpus, index, fake_embedder, full=True)  # and the advice repairs it
    assert load_index(index, tiny_corpus).passages


@pytest.mark.parametrize("where, says", [("missing/report.md", "no directory"), (".", "is a directory")])
def test_eval_report_into_a_missing_directory_or_onto_one_is_one_line(tmp_path, capsys, where, says):
    """Checked before the model loads: one line on standard error, exit 2, nothing written."""
    from qa.cli import main

    target = tmp_path / where
    rc = main(["eval", "--report", str(target)])
    err = capsys.readouterr().err
    assert rc == 2 and says in err and len(err.strip().splitlines()) == 1
    assert not (tmp_path / "missing").exists()

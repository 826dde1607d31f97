"""Case 7 (issue 12, item 1): a running page, or any long-lived Searcher, never quotes a superseded index.

Edit a source and run `ipt-qa build` while the page is up: the next question must be answered from the new
build (every passage equal to the file's characters, line numbers right), or refused with a one-line message
while no matching build exists yet.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest
from app_support import GRADIO_PANDAS_NOISE, free_port
from rel_support import CORPUS, check_verbatim

from qa import open_searcher
from qa.errors import IndexStale
from qa.index.build import build_index
from qa.settings import Settings

pytestmark = GRADIO_PANDAS_NOISE

QUESTION = "Who created IPT?"
SETTINGS = Settings(abstain=False)  # the fake embedder's cosines are not MiniLM's


def _check_lines(record: dict) -> None:
    """Line numbers as the DESIGN contract counts them: 1-based, in the file as it is now."""
    for p in record["passages"]:
        text = Path(p.get("path") or p["file"]).read_text(encoding="utf-8")
        assert p["line_start"] == text.count("\n", 0, p["start"]) + 1, p
        assert p["line_end"] == text.count("\n", 0, p["end"]) + 1, p


def _prepend(path: Path, paragraph: str) -> None:
    """Insert a paragraph after the first line: every later offset and line number moves."""
    first, rest = path.read_text(encoding="utf-8").split("\n", 1)
    path.write_text(f"{first}\n\n{paragraph}\n{rest}", encoding="utf-8")


def test_long_lived_searcher_refuses_then_follows_a_new_build(tiny_corpus, tmp_path, fake_embedder):
    index = tmp_path / "index"
    build_index(tiny_corpus, index, fake_embedder, SETTINGS)
    searcher = open_searcher(index, tiny_corpus, settings=SETTINGS, embedder=fake_embedder, rebuild="never")
    before = searcher.ask(QUESTION).to_dict()
    check_verbatim(before, tiny_corpus)

    # Touched, not changed: nothing to reload, same answer.
    os.utime(tiny_corpus / "alpha.txt")
    assert searcher.ask(QUESTION).to_dict() == before

    _prepend(tiny_corpus / "alpha.txt", "A paragraph added while the searcher runs, moving every offset.")
    # Edited, not yet rebuilt: the unchanged source still answers (issue 21: a deployment keeps serving),
    # the edited one is left out with a warning naming it, so nothing quoted is stale.
    during = searcher.ask(QUESTION).to_dict()
    check_verbatim(during, tiny_corpus)
    assert during["passages"] and {p["source_id"] for p in during["passages"]} == {"beta"}
    assert any("alpha.txt (alpha) edited" in w and "alpha is left out" in w for w in during["warnings"])
    # Only the edited source chosen: refused in one line, naming it and the command.
    with pytest.raises(IndexStale) as refused:
        searcher.ask(QUESTION, sources=["alpha"])
    message = str(refused.value)
    assert "\n" not in message and "alpha.txt (alpha) edited" in message and "ipt-qa build" in message

    build_index(tiny_corpus, index, fake_embedder, SETTINGS)
    after = searcher.ask(QUESTION).to_dict()
    check_verbatim(after, tiny_corpus)
    _check_lines(after)

    def klerman(record):
        return next(p for p in record["passages"] if "Klerman" in p["text"])

    assert klerman(after)["start"] > klerman(before)["start"]
    assert searcher.reloads == 1
    # The attributes seen through the wrapper are the new build's too.
    assert searcher.index.directory == (index / "current").resolve()


def test_searcher_keeps_its_build_when_a_broken_build_is_pointed_at(tiny_corpus, tmp_path, fake_embedder):
    """`current` moved to a build that does not load, sources unchanged: keep answering from the old one."""
    index = tmp_path / "index"
    build_index(tiny_corpus, index, fake_embedder, SETTINGS)
    searcher = open_searcher(index, tiny_corpus, settings=SETTINGS, embedder=fake_embedder, rebuild="never")
    before = searcher.ask(QUESTION).to_dict()
    (index / "builds" / "broken").mkdir()
    os.replace(index / "current", index / "old")
    os.symlink("builds/broken", index / "current")
    assert searcher.ask(QUESTION).to_dict() == before
    assert searcher.reloads == 0


@pytest.mark.model
def test_running_page_answers_from_the_new_build_after_edit_and_build(real_index_dir, real_embedder, tmp_path):
    from gradio_client import Client

    import app

    corpus = tmp_path / "corpus"
    shutil.copytree(CORPUS, corpus)
    index = tmp_path / "index"
    shutil.copytree(real_index_dir, index, symlinks=True)
    # What `python app.py` does (app.main), with the session's model instead of loading it again.
    searcher = open_searcher(index, corpus, embedder=real_embedder, rebuild="never")
    demo = app.build_demo(searcher, corpus)
    _, url, _ = app.launch(demo, port=free_port(), prevent_thread_lock=True, quiet=True)
    try:
        client = Client(url, analytics_enabled=False, verbose=False, download_files=False)

        def ask() -> dict:
            return client.predict(QUESTION, 5, None, api_name="/ask")  # the record itself

        first = ask()
        check_verbatim(first, corpus)
        cited = first["passages"][0]
        _prepend(corpus / Path(cited["file"]).name,
                 "This paragraph was added while the page was running, so every later offset moves.")
        try:  # edited, not yet built: refused with the reason, or (never) a stale quote
            during = ask()
        except Exception as e:  # noqa: BLE001 - gradio_client raises AppError with the server's message
            assert "sources changed" in str(e) and "ipt-qa build" in str(e), e
        else:
            check_verbatim(during, corpus)

        build_index(corpus, index, real_embedder)
        after = ask()
        check_verbatim(after, corpus)
        _check_lines(after)
        same = next(p for p in after["passages"] if p["source_id"] == cited["source_id"])
        assert same["start"] > cited["start"] and same["line_start"] > cited["line_start"]
        # The page's own view of the answer quotes the new text too.
        results_html, _ = client.predict(QUESTION, 5, [], api_name="/show")
        assert "No source is chosen" in results_html  # [] means none chosen on the page
        results_html, _ = client.predict(QUESTION, 5, [s for s in searcher.index.sources], api_name="/show")
        assert f"line {same['line_start']}" in results_html or f"lines {same['line_start']}" in results_html
    finally:
        demo.close()

"""A link to a question (issue 30, item 14) and an open page following the build (item 13), without a browser:
the question in a shared address is written to no log (the app's, nor nginx's format), and the page's lists
follow a new build while keeping the learner's ticks."""

from __future__ import annotations

import json
import logging
import re
from pathlib import Path

import gradio as gr
import httpx
from app_support import GRADIO_PANDAS_NOISE, ROOT, serve

from qa.present.follow import PageFollower

pytestmark = GRADIO_PANDAS_NOISE
SECRET = "zqxsecretquestionword"


def test_a_shared_address_leaves_its_question_in_no_app_log(tiny_searcher, tiny_corpus, caplog, capfd):
    caplog.set_level(logging.DEBUG)
    with serve(tiny_searcher, tiny_corpus) as url:
        r = httpx.get(f"{url}/?q={SECRET}+who+created+ipt", timeout=30)
        assert r.status_code == 200
    out, err = capfd.readouterr()
    server_side = [r.getMessage() for r in caplog.records if not r.name.startswith(("httpx", "httpcore"))]
    assert server_side and SECRET not in "\n".join(server_side) + out + err  # (the test's own client says it)


def test_nginx_logs_the_path_without_its_query_string():
    conf = (ROOT / "deploy" / "nginx.conf").read_text(encoding="utf-8")
    formats = re.findall(r"^\s*log_format\s+\w+\s+(.*?);", conf, flags=re.M | re.S)
    assert formats and all("$uri" in f for f in formats)
    for variable in ("$request ", '$request"', "$request_uri", "$args", "$query_string", "$arg_", "$http_referer"):
        assert not any(variable in f for f in formats), variable
    assert all(line.split("#")[0].split()[-1] in ("ipt_private;", "off;") for line in conf.splitlines()
               if line.strip().startswith("access_log"))


def _add_source(corpus: Path) -> None:
    (corpus / "gamma.txt").write_text("Gamma handbook\n\nIPT lasts twelve to sixteen weeks.\n", encoding="utf-8")
    with (corpus / "sources.toml").open("a", encoding="utf-8") as f:
        f.write('\n[[source]]\nid = "gamma"\ntitle = "Gamma handbook"\nfile = "gamma.txt"\n')


def test_the_lists_follow_a_new_build_and_keep_the_ticks(tiny_corpus, tmp_path, fake_embedder):
    from qa import open_searcher
    from qa.index.build import build_index
    from qa.settings import Settings

    settings, index = Settings(abstain=False), tmp_path / "index"
    build_index(tiny_corpus, index, fake_embedder, settings)
    follower = PageFollower(open_searcher(index, tiny_corpus, settings=settings, embedder=fake_embedder,
                                          rebuild="never"))
    seen = follower.seen()
    assert follower.follow(["alpha"], seen) == (gr.skip(), gr.skip(), gr.skip())  # nothing to send

    _add_source(tiny_corpus)
    build_index(tiny_corpus, index, fake_embedder, settings)
    sources, menu, now = follower.follow(["alpha"], seen)
    assert [sid for _, sid in sources["choices"]] == ["alpha", "beta", "gamma"]
    assert sources["value"] == ["alpha", "gamma"]  # beta stays unticked, the new source is searched
    assert isinstance(menu, str) and json.loads(now)["build"] != json.loads(seen)["build"]
    assert follower.follow(["alpha", "gamma"], now) == (gr.skip(), gr.skip(), gr.skip())
    # A page whose hidden field was tampered with gets the whole list, all ticked, and no error.
    sources, _, _ = follower.follow([], "not json")
    assert sources["value"] == ["alpha", "beta", "gamma"]

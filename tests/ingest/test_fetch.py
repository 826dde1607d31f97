"""`ipt-qa add URL`, `ipt-qa refresh` and `ipt-qa sources`, against pages served from a loopback HTTP server in
a thread (nothing here reaches the internet): bounded fetches, recorded provenance, refreshes that say what
changed and keep the previous original, and one line with nothing written for each failure."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import threading
import tomllib
from http.server import BaseHTTPRequestHandler
from pathlib import Path

import pytest
from loopback import QuietHTTPServer
from source_files import PAGE, PDF_PAGES, make_pdf

from qa import cli
from qa.errors import CorpusError
from qa.ingest.fetch import add_url, fetch
from qa.ingest.passages import Passage
from qa.ingest.refresh import passage_changes
from qa.settings import MAX_SOURCE_BYTES


class Site:
    """Routes path -> (status, headers, body); a body None stalls (sends headers, then nothing)."""

    def __init__(self) -> None:
        self.routes: dict[str, tuple[int, dict[str, str], bytes | None]] = {}
        self.release = threading.Event()
        site = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802 - the name http.server calls
                status, headers, body = site.routes.get(self.path, (404, {"Content-Type": "text/plain"}, b"no"))
                self.send_response(status)
                for k, v in headers.items():
                    self.send_header(k, v)
                if body is not None and "Content-Length" not in headers and "X-No-Length" not in headers:
                    self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                if body is None:
                    site.release.wait(10)
                    return
                self.wfile.write(body)

            def log_message(self, *args) -> None:
                pass

        self.server = QuietHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.base = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def page(self, path: str, body: bytes, ctype: str = "text/html; charset=utf-8") -> str:
        self.routes[path] = (200, {"Content-Type": ctype}, body)
        return self.base + path

    def redirect(self, path: str, to: str, status: int = 302) -> str:
        self.routes[path] = (status, {"Location": to}, b"")
        return self.base + path


@pytest.fixture
def site(monkeypatch):
    for var in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "https_proxy", "all_proxy"):
        monkeypatch.delenv(var, raising=False)
    s = Site()
    yield s
    s.release.set()
    s.server.shutdown()
    s.server.server_close()


@pytest.fixture
def fake_model(monkeypatch):
    from fakes import HashEmbedder

    monkeypatch.setattr(cli.live, "load_embedder", HashEmbedder)


def snapshot(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def entry_of(corpus: Path, source_id: str) -> dict:
    entries = tomllib.loads((corpus / "sources.toml").read_text(encoding="utf-8"))["source"]
    return next(e for e in entries if e["id"] == source_id)


def run(*argv: str, corpus: Path, index: Path) -> int:
    return cli.main([*argv, "--corpus", str(corpus), "--index", str(index)])


def test_add_url_fetches_follows_redirects_and_records_the_final_address(tiny_corpus, tmp_path, site, fake_model,
                                                                          capsys):
    final = site.page("/articles/group-ipt.html", PAGE.encode())
    start = site.redirect("/go", "/hop")
    site.redirect("/hop", final, 301)
    assert run("add", start, corpus=tiny_corpus, index=tmp_path / "index") == 0
    out = capsys.readouterr().out
    assert "added 'group-ipt-for-teenagers'" in out and (tmp_path / "index" / "current").exists()  # and built
    e = entry_of(tiny_corpus, "group-ipt-for-teenagers")
    assert (e["url"], e["retrieved"]) == (final, dt.date.today().isoformat())
    assert e["provenance"].startswith(f"fetched with `ipt-qa add` from {final} (text/html)")
    assert (tiny_corpus / e["original"]).read_bytes() == PAGE.encode()  # kept untouched
    assert e["original_sha256"] == hashlib.sha256(PAGE.encode()).hexdigest()
    assert "## What happens in a group session?" in (tiny_corpus / e["file"]).read_text(encoding="utf-8")


def test_add_url_reads_a_pdf_by_its_content_type(tiny_corpus, site):
    url = site.page("/download?id=7", make_pdf(PDF_PAGES, title="Group IPT guide"), "application/pdf")
    added = add_url(tiny_corpus, url)
    assert added.original.suffix == ".pdf" and added.extractor.startswith("pypdf ")
    assert "## Page 3" in added.file.read_text(encoding="utf-8")


def _refusals(site: Site) -> dict[str, tuple[str, str]]:
    big = site.page("/big.txt", b"word " * (MAX_SOURCE_BYTES // 5 + 1), "text/plain")
    site.routes["/big.txt"][1]["X-No-Length"] = "1"  # no Content-Length: the bound is kept while reading
    loop = [site.redirect(f"/r{n}", f"/r{n + 1}") for n in range(7)][0]
    return {
        "scheme": ("ftp://127.0.0.1/page.html", "is not a web address"),
        "not found": (site.base + "/nothing", "the server answered 404"),
        "type": (site.page("/photo.png", b"\x89PNG....", "image/png"), "its content type is image/png"),
        "untyped": (site.page("/blob", b"x" * 100, ""), "its content type is not given"),
        "declared size": (site.page("/huge.pdf", b"%PDF-1.4", "application/pdf"), "over the limit of 16 MiB"),
        "read size": (big, "more than 16 MiB, over the limit of 16 MiB"),
        "redirects": (loop, "more than 5 redirects"),
        "redirect scheme": (site.redirect("/tofile", "file:///etc/passwd"), "a redirect to 'file:"),
        "refused": ("http://127.0.0.1:1/page.html", "cannot be fetched"),
        "no text": (site.page("/empty.html", b"<html><body><nav>Home</nav></body></html>"), "no text could be"),
    }


@pytest.mark.parametrize("case", ["scheme", "not found", "type", "untyped", "declared size", "read size",
                                  "redirects", "redirect scheme", "refused", "no text"])
def test_each_failed_fetch_is_one_line_and_writes_nothing(tiny_corpus, tmp_path, site, fake_model, case, capsys):
    url, expected = _refusals(site)[case]
    if case == "declared size":
        site.routes["/huge.pdf"][1]["Content-Length"] = str(MAX_SOURCE_BYTES + 1)
    before = snapshot(tiny_corpus)
    assert run("add", url, corpus=tiny_corpus, index=tmp_path / "index") == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and expected in err and "nothing was added" in err, err
    assert "/tmp" not in err.replace(str(tiny_corpus), "")  # names the address, never the temporary file
    assert snapshot(tiny_corpus) == before and not (tmp_path / "index").exists()


def test_a_stalled_server_times_out_in_one_line(site):
    site.routes["/slow"] = (200, {"Content-Type": "text/html", "Content-Length": "100"}, None)
    with pytest.raises(CorpusError, match=r"no answer in time .*read 0.2 s\); nothing was added"):
        fetch(site.base + "/slow", read_timeout=0.2)


def test_an_address_goes_without_url_and_retrieved(tiny_corpus, tmp_path, site, capsys):
    url = site.page("/p.html", PAGE.encode())
    assert run("add", url, "--url", "https://example.org/x", corpus=tiny_corpus, index=tmp_path / "i") == 2
    assert "--url and --retrieved go with a local file" in capsys.readouterr().err


def _passage(text: str) -> Passage:
    return Passage(id="s#0", source_id="s", start=0, end=len(text), line_start=1, line_end=1, section="",
                   text=text, context=text)


def test_passage_changes_are_aligned_by_text():
    old = [_passage(t) for t in ("a", "b", "c", "d")]
    new = [_passage(t) for t in ("a", "B", "c", "e", "f")]
    added, removed, changed = passage_changes(old, new)
    assert [(a.text, b.text) for a, b in changed] == [("b", "B"), ("d", "e")]
    assert [p.text for p in added] == ["f"] and removed == []
    assert passage_changes(old, old) == ([], [], [])
    assert [p.text for p in passage_changes(old, old[:2])[1]] == ["c", "d"]


CHANGED = PAGE.replace("Two clinicians trained in adolescent interpersonal psychotherapy lead every group",
                       "One clinician trained in interpersonal psychotherapy leads each group").replace(
    "</article>", "<h2>How long does it last?</h2><p>The groups meet for twelve weeks, ninety minutes each week, "
                  "in a room at the clinic.</p></article>")


def test_refresh_says_what_changed_keeps_the_old_original_and_rebuilds(tiny_corpus, tmp_path, site, fake_model,
                                                                        capsys):
    index = tmp_path / "index"
    url = site.page("/group-ipt.html", PAGE.encode())
    added = add_url(tiny_corpus, url)
    (tiny_corpus / "questions.jsonl").write_text(json.dumps({
        "question": "Who leads the groups?", "source_id": added.id,
        "quote": "Two clinicians trained in adolescent interpersonal psychotherapy"}) + "\n", encoding="utf-8")
    assert run("build", corpus=tiny_corpus, index=index) == 0
    capsys.readouterr()

    assert run("refresh", added.id, corpus=tiny_corpus, index=index) == 0
    assert capsys.readouterr().out.startswith(f"{added.id}: unchanged since {dt.date.today().isoformat()}")

    site.page("/group-ipt.html", CHANGED.encode())
    before = snapshot(tiny_corpus)
    assert run("refresh", "--dry-run", corpus=tiny_corpus, index=index) != 0  # alpha's example.org is refused...
    out, err = capsys.readouterr()
    assert "ipt-qa: alpha: " in err and err.count("\n") == 1  # ... in one line (tests never reach the internet)
    assert "passages 1 added, 0 removed, 1 changed; 1 question-bank row(s) would go stale" in out
    assert "  + added   '## How long does it last? The groups meet" in out
    assert "  ~ changed '... leads the groups? Two clinicians trained" in out
    assert "-> '... leads the groups? One clinician trained" in out
    assert "  stale row questions.jsonl:1  'Who leads the groups?'" in out and "dry run: nothing was changed" in out
    assert snapshot(tiny_corpus) == before

    assert run("refresh", added.id, corpus=tiny_corpus, index=index) == 0
    out = capsys.readouterr().out
    today = dt.date.today().isoformat()
    archive = tiny_corpus / "originals" / f"{added.id}.{today}.html"
    assert f"kept the previous original as originals/{archive.name}" in out and archive.read_bytes() == PAGE.encode()
    assert f"1 edited ({added.id})" in out  # the index was rebuilt
    e = entry_of(tiny_corpus, added.id)
    assert (tiny_corpus / e["original"]).read_bytes() == CHANGED.encode()
    assert e["original_sha256"] == hashlib.sha256(CHANGED.encode()).hexdigest() and e["retrieved"] == today
    assert "How long does it last?" in added.file.read_text(encoding="utf-8")

    site.routes["/group-ipt.html"] = (503, {"Content-Type": "text/plain"}, b"down")
    before = snapshot(tiny_corpus)
    assert run("refresh", added.id, corpus=tiny_corpus, index=index) == 1
    out, err = capsys.readouterr()
    assert out == "" and err == f"ipt-qa: {added.id}: {url}: the server answered 503 Service Unavailable; " \
                                "nothing was changed\n"
    assert snapshot(tiny_corpus) == before


def test_refresh_never_rewrites_a_source_added_by_hand(tiny_corpus, tmp_path, site, capsys):
    toml = tiny_corpus / "sources.toml"
    url = site.page("/alpha.txt", b"Alpha notes, now rewritten on the web page in quite other words.\n",
                    "text/plain")
    toml.write_text(toml.read_text(encoding="utf-8").replace("https://example.org/alpha", url), encoding="utf-8")
    before = snapshot(tiny_corpus)
    assert run("refresh", "alpha", corpus=tiny_corpus, index=tmp_path / "index") == 0
    out = capsys.readouterr().out
    assert out.startswith("alpha: changed since it was added") and "no original kept (added by hand)" in out
    assert snapshot(tiny_corpus) == before and not (tmp_path / "index").exists()


def test_refresh_of_an_unknown_source_or_one_without_address_is_one_line(tiny_corpus, tmp_path, capsys):
    assert run("refresh", "nope", corpus=tiny_corpus, index=tmp_path / "i") == 2
    assert run("refresh", "beta", corpus=tiny_corpus, index=tmp_path / "i") == 2
    err = capsys.readouterr().err.splitlines()
    assert "'nope' is not a source" in err[0] and "'beta' has no address" in err[1]


def test_sources_lists_passages_bank_rows_and_stale_rows(tiny_corpus, tmp_path, capsys):
    from qa.ingest.corpus import read_corpus
    from qa.ingest.passages import segment

    alpha = next(s for s in read_corpus(tiny_corpus).sources if s.id == "alpha")
    quote = " ".join(alpha.text.split()[:4])
    rows = [{"question": "What is in alpha?", "source_id": "alpha", "quote": quote},
            {"question": "What was in alpha?", "source_id": "alpha", "quote": "words no longer there at all"}]
    (tiny_corpus / "questions.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    assert run("sources", "--json", corpus=tiny_corpus, index=tmp_path / "i") == 0
    got = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [g["id"] for g in got] == ["alpha", "beta"]
    assert got[0] == {"id": "alpha", "title": "Alpha notes on IPT", "url": "https://example.org/alpha",
                      "retrieved": "", "passages": len(segment(alpha)), "bank_rows": 1, "stale_rows": 1}
    assert (got[1]["bank_rows"], got[1]["stale_rows"], got[1]["url"]) == (0, 0, "")
    assert run("sources", corpus=tiny_corpus, index=tmp_path / "i") == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].startswith("alpha  'Alpha notes on IPT'  https://example.org/alpha  retrieved (unknown)  ")
    assert lines[0].endswith("1 bank rows  1 stale") and "(no address)" in lines[1]

"""`ipt-qa add` and `ipt-qa remove`: a web page and a PDF made here (never fetched) become sources with exact
citations and their provenance; each bad case is one line and writes nothing."""

from __future__ import annotations

import hashlib
import tomllib
from pathlib import Path

import pytest
from source_files import PAGE, PDF_PAGES, make_pdf

from qa import cli
from qa.errors import CorpusError
from qa.ingest.add import add_source, remove_source
from qa.ingest.corpus import read_corpus
from qa.settings import MAX_SOURCE_BYTES


def snapshot(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def entry_of(corpus: Path, source_id: str) -> dict:
    entries = tomllib.loads((corpus / "sources.toml").read_text(encoding="utf-8"))["source"]
    return next(e for e in entries if e["id"] == source_id)


def test_html_page_becomes_a_source_with_provenance(tiny_corpus, tmp_path):
    page = tmp_path / "group-ipt.html"
    page.write_text(PAGE, encoding="utf-8")
    added = add_source(tiny_corpus, page, url="https://example.org/group-ipt", retrieved="2026-12-02")
    assert added.id == "group-ipt-for-teenagers"
    assert added.original.read_bytes() == page.read_bytes()  # kept untouched
    assert added.original.parent == tiny_corpus / "originals"
    text = added.file.read_text(encoding="utf-8")
    assert added.file.suffix == ".md" and "## What happens in a group session?\n" in text
    assert "Subscribe" not in text and "Shop" not in text  # boilerplate dropped
    e = entry_of(tiny_corpus, added.id)
    assert (e["title"], e["url"], e["retrieved"]) == ("Group IPT for teenagers", "https://example.org/group-ipt",
                                                      "2026-12-02")
    assert e["original_sha256"] == hashlib.sha256(page.read_bytes()).hexdigest()
    assert e["extractor"].startswith("trafilatura 2.") and e["original"] == "originals/group-ipt-for-teenagers.html"
    assert (e["author"], e["site"], e["published"]) == ("Ann Lee", "Example Clinic", "2024-03-05")
    src = next(s for s in read_corpus(tiny_corpus).sources if s.id == added.id)
    assert src.meta["site"] == "Example Clinic" and src.text == text


def test_pdf_keeps_its_page_numbers(tiny_corpus, tmp_path):
    pdf = tmp_path / "guide.pdf"
    pdf.write_bytes(make_pdf(PDF_PAGES, title="Group IPT guide", author="Ann Lee"))
    added = add_source(tiny_corpus, pdf, retrieved="2026-12-02")
    text = added.file.read_text(encoding="utf-8")
    assert text.startswith("## Page 1\n\nGroup IPT guide\nWhat is group IPT?\n")
    assert "## Page 2" not in text and "## Page 3\n\nDoes group IPT work?\n" in text
    e = entry_of(tiny_corpus, added.id)
    assert (added.id, e["title"], e["author"], e["url"]) == ("group-ipt-guide", "Group IPT guide", "Ann Lee", "")
    assert e["extractor"].startswith("pypdf ")


def _bad_cases(tmp_path: Path, corpus: Path) -> dict[str, tuple[Path, str]]:
    scanned = tmp_path / "scanned.pdf"
    scanned.write_bytes(make_pdf([[], []]))  # pages without a text layer, as a scan has
    empty = tmp_path / "empty.html"
    empty.write_text("<html><body><nav><a href='/'>Home</a></nav></body></html>", encoding="utf-8")
    same_file = tmp_path / "alpha-copy.txt"
    same_file.write_bytes((corpus / "alpha.txt").read_bytes())
    same_text = tmp_path / "alpha-crlf.txt"  # the same words with other line ends: other bytes, same text
    same_text.write_bytes((corpus / "alpha.txt").read_bytes().replace(b"\n", b"\r\n") + b"\r\n")
    docx = tmp_path / "notes.docx"
    docx.write_bytes(b"PK\x03\x04 not really")
    big = tmp_path / "big.txt"
    with open(big, "wb") as f:
        f.truncate(MAX_SOURCE_BYTES + 1)  # sparse: the size is refused before anything is read
    fake_pdf = tmp_path / "page.pdf"
    fake_pdf.write_text("<html>not a pdf</html>", encoding="utf-8")
    return {"scanned PDF": (scanned, "no text could be extracted"),
            "empty page": (empty, "no text could be extracted"),
            "same file": (same_file, "the same file as source 'alpha'"),
            "same text": (same_text, "its text is the same as source 'alpha'"),
            "unsupported": (docx, ".docx is not supported"),
            "too big": (big, "over the limit of 16 MiB"),
            "not a PDF": (fake_pdf, "not a PDF")}


@pytest.mark.parametrize("case", ["scanned PDF", "empty page", "same file", "same text", "unsupported", "too big",
                                  "not a PDF"])
def test_each_bad_file_is_one_line_and_writes_nothing(tiny_corpus, tmp_path, case, monkeypatch, capsys):
    path, message = _bad_cases(tmp_path, tiny_corpus)[case]
    before = snapshot(tiny_corpus)
    with pytest.raises(CorpusError, match=message):
        add_source(tiny_corpus, path)
    assert snapshot(tiny_corpus) == before
    # The command says it in one line (exit 2) and never gets as far as the model.
    monkeypatch.setattr(cli.live, "load_embedder", lambda: pytest.fail("the model was loaded"))
    assert cli.main(["add", str(path), "--corpus", str(tiny_corpus), "--index", str(tmp_path / "ix")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and message in err and "nothing was added" in err
    assert snapshot(tiny_corpus) == before and not (tmp_path / "ix").exists()


def test_taken_id_and_bad_url_are_refused(tiny_corpus, tmp_path):
    page = tmp_path / "p.html"
    page.write_text(PAGE, encoding="utf-8")
    before = snapshot(tiny_corpus)
    with pytest.raises(CorpusError, match="'alpha' is already a source"):
        add_source(tiny_corpus, page, source_id="alpha")
    with pytest.raises(CorpusError, match="is not a web address"):
        add_source(tiny_corpus, page, url="javascript:alert(1)")
    assert snapshot(tiny_corpus) == before


def test_add_builds_cites_exactly_and_remove_undoes_it(tiny_corpus, tmp_path, monkeypatch, capsys):
    from fakes import HashEmbedder

    from qa.index.load import load_index
    from qa.live import LiveSearcher
    from qa.search import Searcher
    from qa.settings import Settings

    monkeypatch.setattr(cli.live, "load_embedder", HashEmbedder)
    index = tmp_path / "index"
    settings = Settings(abstain=False)
    assert cli.main(["build", "--corpus", str(tiny_corpus), "--index", str(index)]) == 0
    live = LiveSearcher(Searcher(load_index(index, tiny_corpus, settings=settings), HashEmbedder(), settings),
                        index, tiny_corpus, settings)
    assert live.ask("alpha").passages  # the page is running
    before = snapshot(tiny_corpus)
    pdf = tmp_path / "guide.pdf"
    pdf.write_bytes(make_pdf(PDF_PAGES, title="Group IPT guide"))
    assert cli.main(["add", str(pdf), "--corpus", str(tiny_corpus), "--index", str(index)]) == 0
    out = capsys.readouterr().out
    assert "added 'group-ipt-guide'" in out and "sources: 1 added (group-ipt-guide)" in out
    # A new source has no question-bank rows: the maintainer is told what that costs and where to read more.
    assert "note: 'group-ipt-guide' has no rows in the question bank" in out and "docs/question-banks.md" in out
    # The running searcher answers from the new build, without a restart, and cites exactly.
    assert "group-ipt-guide" in live.index.sources
    answer = live.ask("Does group IPT work for adolescents in trials?", sources=["group-ipt-guide"])
    hit = answer.passages[0]
    assert hit.source_id == "group-ipt-guide"
    assert Path(hit.path).read_text(encoding="utf-8")[hit.start:hit.end] == hit.text

    assert cli.main(["remove", "group-ipt-guide", "--corpus", str(tiny_corpus), "--index", str(index)]) == 0
    assert "sources: 0 added, 0 edited, 1 removed (group-ipt-guide)" in capsys.readouterr().out
    assert snapshot(tiny_corpus) == before
    assert "group-ipt-guide" not in live.index.sources


def test_remove_an_unknown_or_the_last_source_is_refused(tiny_corpus):
    with pytest.raises(CorpusError, match="'nope' is not a source"):
        remove_source(tiny_corpus, "nope")
    remove_source(tiny_corpus, "beta")
    with pytest.raises(CorpusError, match="only source"):
        remove_source(tiny_corpus, "alpha")


@pytest.mark.parametrize(("suffix", "missing"), [(".html", "lxml_html_clean"), (".html", "trafilatura"),
                                                 (".html", "justext"), (".pdf", "pypdf")])
def test_a_missing_extraction_package_is_one_line_naming_it(tiny_corpus, tmp_path, monkeypatch, suffix, missing):
    """Before: `ipt-qa add page.html` without lxml_html_clean (an installer that left out lxml's html_clean
    extra) ended in a traceback from deep inside trafilatura."""
    import builtins
    import sys

    for name in list(sys.modules):
        if name.split(".")[0] in (missing, "trafilatura", "justext", "lxml_html_clean", "pypdf"):
            monkeypatch.delitem(sys.modules, name)
    real_import = builtins.__import__

    def without(name, *args, **kwargs):
        if name.split(".")[0] == missing:
            raise ModuleNotFoundError(f"No module named {name!r}", name=name)
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", without)
    page = tmp_path / f"page{suffix}"
    page.write_bytes(b"%PDF-1.4 not much" if suffix == ".pdf" else b"<html><body><p>Some words here.</p></body></html>")
    before = (tiny_corpus / "sources.toml").read_bytes()
    with pytest.raises(CorpusError) as e:
        add_source(tiny_corpus, page)
    message = str(e.value)
    assert "\n" not in message and f"needs the Python package {missing!r}" in message
    assert f"pip install {missing}" in message and message.endswith("nothing was added")
    assert (tiny_corpus / "sources.toml").read_bytes() == before


@pytest.mark.parametrize("url", ['https://example.org/okapi"><script>alert(1)</script>', "https://example.org/a b",
                                 "https://example.org/it's", "https://example.org/<x>", "https:///no-host",
                                 "https://example.org:port/", "ftp://example.org/x", "https://exa\\mple.org/"])
def test_a_bad_web_address_is_one_line_and_writes_nothing(tiny_corpus, tmp_path, url, capsys):
    page = tmp_path / "p.html"
    page.write_text(PAGE, encoding="utf-8")
    before = snapshot(tiny_corpus)
    assert cli.main(["add", str(page), "--url", url, "--corpus", str(tiny_corpus), "--index",
                     str(tmp_path / "index")]) == 2
    out, err = capsys.readouterr()
    assert err.startswith("ipt-qa: --url ") and "is not a web address" in err and err.count("\n") == 1, err
    assert not out and snapshot(tiny_corpus) == before


# Each of < > [ ] * _ # \ | in running text (trafilatura's Markdown escapes some of them).
MARKED = ("Adolescents (<18 years) [1], 75% responded to IPT-A *versus* 46% on clinical_monitoring; scores > 10 "
          "in group #2 \\ arm A | arm B were kept.")


def test_a_page_is_stored_and_quoted_with_its_own_characters(tiny_corpus, tmp_path, monkeypatch, capsys):
    from html import escape

    from fakes import HashEmbedder

    from qa.index.load import load_index
    from qa.search import Searcher
    from qa.settings import Settings

    monkeypatch.setattr(cli.live, "load_embedder", HashEmbedder)
    page = tmp_path / "trial.html"
    page.write_text(f"<html><head><title>Adolescent trial</title></head><body><article><h1>Adolescent trial</h1>"
                    f"<p>{escape(MARKED, quote=False)}</p><h2>Method</h2><p>The trial compared interpersonal "
                    "psychotherapy with clinical monitoring over twelve weeks in schools.</p></article></body></html>",
                    encoding="utf-8")
    index = tmp_path / "index"
    assert cli.main(["add", str(page), "--id", "trial", "--corpus", str(tiny_corpus), "--index", str(index)]) == 0
    stored = (tiny_corpus / "trial.md").read_text(encoding="utf-8")
    assert MARKED in stored and "\\<" not in stored and "\\[" not in stored
    assert "# Adolescent trial" in stored and "## Method" in stored  # headings still make the sections
    settings = Settings(abstain=False)
    searcher = Searcher(load_index(index, tiny_corpus, settings=settings), HashEmbedder(), settings)
    answer = searcher.ask("adolescents responded to IPT-A versus clinical monitoring", sources=["trial"])
    hit = next(h for h in answer.passages if MARKED in h.text)
    assert Path(hit.path).read_text(encoding="utf-8")[hit.start:hit.end] == hit.text
    for ch in "<>[]*_#\\|":
        assert ch in hit.text, ch

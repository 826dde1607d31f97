"""Citations (APA 7, MLA 9, in-text, footnote) against strings written out by hand, for two of the real sources
and for a web page and a PDF added with `ipt-qa add`; and the `citation` field of the record."""

from __future__ import annotations

from pathlib import Path

from source_files import PAGE, PDF_PAGES, make_pdf

from qa.ingest.add import add_source
from qa.ingest.corpus import read_corpus
from qa.present.citation import page_markers, pages_label, reference

ROOT = Path(__file__).resolve().parents[2]


def source(corpus: Path, source_id: str):
    return next(s for s in read_corpus(corpus).sources if s.id == source_id)


def test_an_article_with_author_and_date_but_no_address():
    s = source(ROOT / "corpus", "focus-of-ipt")
    cite = reference(s.title, s.url, s.meta, "Who created IPT?\n\nGerald L. Klerman and Myrna M. Weissman", 49, 51)
    assert cite == {
        "apa": "Park, J. (2024, January 24). What Is The Focus Of IPT? No address recorded.",
        "mla": "Park, James. \u201cWhat Is The Focus Of IPT?\u201d 24 Jan. 2024. No address recorded.",
        "in_text": "(Park, 2024)",
        "footnote": "\u201cWho created IPT? Gerald L. Klerman and Myrna M. Weissman\u201d (What Is The Focus Of IPT?, "
                    "lines 49\u201351).",
    }


def test_a_site_page_without_author_or_date():
    s = source(ROOT / "corpus", "mydepressionteam-ipt")
    cite = reference(s.title, s.url, s.meta, "IPT is a type of talk therapy.", 12, 12)
    assert cite["apa"] == "Interpersonal therapy (IPT) for Depression. (n.d.). MyDepressionTeam. No address recorded."
    assert cite["mla"] == ("\u201cInterpersonal therapy (IPT) for Depression.\u201d MyDepressionTeam. "
                           "No address recorded.")
    assert cite["in_text"] == "(\u201cInterpersonal therapy (IPT) for Depression,\u201d n.d.)"
    assert cite["footnote"] == ("\u201cIPT is a type of talk therapy.\u201d (Interpersonal therapy (IPT) for "
                                "Depression | MyDepressionTeam, line 12).")


def test_an_added_web_page_with_its_address_and_retrieval_date(tiny_corpus, tmp_path):
    page = tmp_path / "group.html"
    page.write_text(PAGE, encoding="utf-8")
    added = add_source(tiny_corpus, page, url="https://example.org/group-ipt", retrieved="2026-12-02")
    s = source(tiny_corpus, added.id)
    cite = reference(s.title, s.url, s.meta, "Two clinicians lead every group.", 9, 9)
    assert cite["apa"] == ("Lee, A. (2024, March 5). Group IPT for teenagers. Example Clinic. Retrieved December 2, "
                           "2026, from https://example.org/group-ipt")
    assert cite["mla"] == ("Lee, Ann. \u201cGroup IPT for teenagers.\u201d Example Clinic, 5 Mar. 2024, "
                           "example.org/group-ipt. Accessed 2 Dec. 2026.")


def test_a_pdf_passage_is_cited_with_its_page(tiny_corpus, tmp_path, fake_embedder):
    from qa.index.build import build_index
    from qa.index.load import load_index
    from qa.search import Searcher
    from qa.settings import Settings

    pdf = tmp_path / "guide.pdf"
    pdf.write_bytes(make_pdf(PDF_PAGES, title="Group IPT guide", author="Ann Lee"))
    add_source(tiny_corpus, pdf, retrieved="2026-12-02")
    settings = Settings(abstain=False)
    build_index(tiny_corpus, tmp_path / "ix", fake_embedder, settings)
    searcher = Searcher(load_index(tmp_path / "ix", tiny_corpus, settings=settings), fake_embedder, settings)
    hit = searcher.ask("Two trials found fewer symptoms after group IPT", sources=["group-ipt-guide"]).passages[0]
    text = Path(hit.path).read_text(encoding="utf-8")
    assert hit.text == text[hit.start:hit.end] and "Two trials" in hit.text
    assert hit.citation["in_text"] == "(Lee, n.d., p. 3)"
    assert hit.citation["footnote"].endswith(f"(Group IPT guide, p. 3, lines {hit.line_start}\u2013{hit.line_end}).")
    assert hit.citation["apa"] == "Lee, A. (n.d.). Group IPT guide. No address recorded."
    assert hit.to_dict()["citation"] == hit.citation
    # Text sources are cited without pages.
    other = searcher.ask("alpha", sources=["alpha"]).passages[0]
    assert "p." not in other.citation["in_text"] and other.citation["apa"].endswith("https://example.org/alpha")


def test_pages_of_a_span():
    markers = page_markers([(0, "## Page 1\n\nabc"), (20, "## Page 2\n\ndef\n\n## Page 4\n\nghi")])
    assert markers == [(0, 1), (20, 2), (36, 4)]
    assert pages_label(markers, 11, 14) == "p. 1"
    assert pages_label(markers, 25, 40) == "pp. 2\u20134"
    assert pages_label([], 0, 5) == ""

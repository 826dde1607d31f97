"""Source files made by the tests themselves (never fetched): a web page with its boilerplate, and PDFs written
with pypdf's own writer."""

from __future__ import annotations

import io

PAGE = """<!doctype html><html><head><title>Group IPT for teenagers | Example Clinic</title>
<meta name="author" content="Ann Lee"><meta property="og:site_name" content="Example Clinic">
<meta name="date" content="2024-03-05"></head><body>
<nav><a href="/">Home</a> | <a href="/about">About us</a> | <a href="/shop">Shop</a></nav>
<article><h1>Group IPT for teenagers</h1>
<p>Group interpersonal psychotherapy brings several teenagers together for twelve weekly meetings led by a
trained therapist. Each member works on one relationship problem that keeps their low mood going.</p>
<h2>What happens in a group session?</h2>
<p>Members practise new ways of talking about disagreements with family and friends, and give one another
feedback on how the conversations went between meetings.</p>
<h2>Who leads the groups?</h2>
<p>Two clinicians trained in adolescent interpersonal psychotherapy lead every group of six to eight members.</p>
</article>
<footer>Copyright 2024 Example Clinic. Subscribe to our newsletter for weekly tips.</footer></body></html>"""


def make_pdf(pages: list[list[str]], title: str = "", author: str = "") -> bytes:
    """A PDF written with pypdf's own writer: one Helvetica line of text per string, a page per list."""
    from pypdf import PdfWriter
    from pypdf.generic import DecodedStreamObject, DictionaryObject, NameObject

    w = PdfWriter()
    font = w._add_object(DictionaryObject({NameObject("/Type"): NameObject("/Font"),
                                           NameObject("/Subtype"): NameObject("/Type1"),
                                           NameObject("/BaseFont"): NameObject("/Helvetica")}))
    for lines in pages:
        page = w.add_blank_page(612, 792)
        page[NameObject("/Resources")] = DictionaryObject(
            {NameObject("/Font"): DictionaryObject({NameObject("/F1"): font})})
        stream = DecodedStreamObject()
        stream.set_data("\n".join(["BT /F1 11 Tf 14 TL 72 720 Td", *(f"({x}) Tj T*" for x in lines), "ET"])
                        .encode("latin-1"))
        page[NameObject("/Contents")] = w._add_object(stream)
    if title:
        w.add_metadata({"/Title": title, "/Author": author})
    out = io.BytesIO()
    w.write(out)
    return out.getvalue()


PDF_PAGES = [["Group IPT guide", "What is group IPT?",
              "Group IPT brings several adolescents together for twelve weekly meetings."],
             [],  # an empty page: skipped, and the page numbers after it stay true
             ["Does group IPT work?",
              "Two trials found fewer symptoms of depression after group IPT than after usual care."]]

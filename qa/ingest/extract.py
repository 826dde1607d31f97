"""Text out of a local file for `ipt-qa add`: HTML through trafilatura (main text, boilerplate dropped, headings
as `#` lines), PDF through pypdf (a `## Page N` heading before each page's text, so a citation can give the
page), Markdown and plain text as they are. Nothing here opens a network connection (qa/ingest/fetch.py
fetches an address into a temporary file first)."""

from __future__ import annotations

import contextlib
import io
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from importlib.metadata import version
from pathlib import Path

from qa.errors import CorpusError
from qa.ingest.corpus import decode_source

SUFFIXES = {".html": "html", ".htm": "html", ".pdf": "pdf", ".md": "md", ".txt": "txt"}
# The heading written before each page of a PDF's text; qa/present/citation.py reads the page back from it.
PAGE_HEADING = "## Page {n}"
PAGE_HEADING_RE = re.compile(r"^## Page (\d+)$", re.M)
# Characters that str.splitlines() (used by the segmenter) counts as line ends besides "\n": a PDF's form feeds
# and the like would shift every line number after them, so they become plain line ends or spaces.
_LINE_ENDS = re.compile("\r\n|[\r\v\f\x1c\x1d\x1e\x85\u2028\u2029]")
_CONTROL = re.compile(r"[\x00-\x08\x0e-\x1b\x7f]")
# trafilatura's Markdown writes a literal * _ ` ~ [ ] < of the page as a backslash escape (a run of k backslashes
# before one becomes 2k+1), and its own emphasis and code markup (*, **, __, `, ~~) bare. A run of backslashes
# before one of those characters, and what it means in the page:
_INLINE = re.compile(r"(\\*)([*_`~\[\]<])")
# ... and the markers it escapes at the start of a line so they are not read as a quote, list or numbered item.
# (A `\#` there stays escaped: the stored Markdown would otherwise read it as a heading, a section of its own.)
_BLOCK = re.compile(r"^( {0,3})\\(>|[-+](?=[ \t]|$))|^( {0,3}\d{1,9})\\([.)])(?=[ \t]|$)", re.M)


def _page_characters(run: re.Match[str]) -> str:
    slashes, ch = len(run[1]), run[2]
    if slashes % 2:  # escaped: the page's own character, after the page's own backslashes (halved back)
        return "\\" * (slashes // 2) + ch
    return "\\" * (slashes // 2) + ("" if ch in "*_`~" else ch)  # bare: trafilatura's markup, dropped


def page_text(markdown: str) -> str:
    """trafilatura's Markdown with the page's own characters: escapes undone, emphasis and code marks dropped,
    headings (`#` lines, the sections) and list markers kept. "(\\<18 years) \\[1\\] \\*versus\\*" -> "(<18
    years) [1] *versus*"."""
    text = _BLOCK.sub(lambda m: (m[1] or "") + (m[2] or "") if m[2] else m[3] + m[4], markdown)
    return _INLINE.sub(_page_characters, text)


@dataclass
class Extracted:
    text: str  # UTF-8 text to store under corpus/, with "\n" line ends only
    suffix: str  # ".md" or ".txt": how the stored text is read (Markdown headings or not)
    title: str = ""  # from the document, when it names one
    meta: dict[str, str] = field(default_factory=dict)  # author, site, published (ISO date), when found
    extractor: str = ""  # "trafilatura 2.3.1", "pypdf 7.1.1", "" for text taken as it is


def clean_text(text: str) -> str:
    """Line ends as "\n" only, no control characters, no trailing spaces, at most one blank line in a row."""
    text = _CONTROL.sub("", _LINE_ENDS.sub("\n", text.replace("\ufeff", "")))
    text = "\n".join(line.rstrip() for line in text.split("\n"))
    return re.sub(r"\n{3,}", "\n\n", text).strip("\n") + "\n"


@contextlib.contextmanager
def _needs_packages(path: Path, what: str, package: str) -> Iterator[None]:
    """A package the extraction imports that is missing or broken becomes one line naming it (CorpusError),
    not a traceback: an installer can leave out a dependency of a dependency (lxml's `html_clean` extra)."""
    try:
        yield
    except ImportError as e:
        name = (e.name or package).split(".")[0]
        why = " ".join(str(e).split()) or type(e).__name__
        raise CorpusError(f"{path}: reading {what} needs the Python package {name!r}, which cannot be imported "
                          f"({why}); install it (pip install {name}) or reinstall ipt-qa; nothing was added") from None


def _html(path: Path, data: bytes) -> Extracted:
    with _needs_packages(path, "a web page", "trafilatura"):
        return _html_text(path, data)


def _html_text(path: Path, data: bytes) -> Extracted:
    # Deferred on purpose: trafilatura (lxml, dateparser) takes a second to import and only `add` needs it.
    # lxml_html_clean first, by name: trafilatura's justext imports it through lxml.html.clean, whose error
    # for it missing names no module.
    import lxml_html_clean  # noqa: F401  (deferred with trafilatura)
    import trafilatura  # deferred, see above

    markup = data.decode("utf-8", errors="replace")
    text = trafilatura.extract(markup, output_format="markdown", include_comments=False, include_tables=True,
                               include_links=False, include_images=False, favor_precision=True) or ""
    meta = trafilatura.extract_metadata(markup)
    found = {}
    if meta is not None:
        for key, value in (("author", meta.author), ("site", meta.sitename), ("published", meta.date)):
            if value and str(value).strip():
                found[key] = str(value).strip()
    title = (meta.title or "").strip() if meta is not None else ""
    return Extracted(clean_text(page_text(text)) if text.strip() else "", ".md", title, found,
                     f"trafilatura {version('trafilatura')}")


def _pdf(path: Path, data: bytes) -> Extracted:
    with _needs_packages(path, "a PDF", "pypdf"):
        return _pdf_text(path, data)


def _pdf_text(path: Path, data: bytes) -> Extracted:
    # Deferred on purpose, like trafilatura above.

    from pypdf import PdfReader  # deferred: only for a PDF
    from pypdf.errors import PdfReadError  # deferred: only for a PDF

    if not data.startswith(b"%PDF-"):
        raise CorpusError(f"{path}: not a PDF (it does not start with %PDF-); nothing was added")
    try:
        reader = PdfReader(io.BytesIO(data))
        pages = [(page.extract_text() or "") for page in reader.pages]
        info: dict = dict(reader.metadata or {})
    except (PdfReadError, ValueError, KeyError, TypeError) as e:
        raise CorpusError(f"{path}: pypdf cannot read it ({' '.join(str(e).split())}); nothing was added") from None
    parts = [f"{PAGE_HEADING.format(n=n)}\n\n{clean_text(t)}" for n, t in enumerate(pages, 1) if t.strip()]
    meta = {}
    author = str(info.get("/Author") or "").strip()
    if author:
        meta["author"] = author
    return Extracted("\n".join(parts) if parts else "", ".md", str(info.get("/Title") or "").strip(), meta,
                     f"pypdf {version('pypdf')}")


def _plain(path: Path, data: bytes, kind: str) -> Extracted:

    text = decode_source(path, data)  # refuses binary, non-UTF-8 and empty files, naming them
    title = ""
    for line in text.split("\n"):
        if line.strip():
            title = line.strip().lstrip("#").strip() if kind == "md" else line.strip()
            break
    # Stored as read (newlines made "\n", as the corpus loader reads it): the original is the source here.
    return Extracted(text, f".{kind}", title[:200])


def extract(path: Path, data: bytes) -> Extracted:
    """The text of a local `.html`/`.htm`/`.pdf`/`.md`/`.txt` file (CorpusError, one line, for another type)."""
    kind = SUFFIXES.get(path.suffix.lower())
    if kind is None:
        raise CorpusError(f"{path}: {path.suffix or 'a file without a suffix'} is not supported; add .html, .htm, "
                          ".pdf, .md or .txt files; nothing was added")
    if kind == "html":
        return _html(path, data)
    if kind == "pdf":
        return _pdf(path, data)
    return _plain(path, data, kind)

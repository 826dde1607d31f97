"""`ipt-qa add https://...` and `ipt-qa refresh`: a web page or PDF fetched from its address, within bounds.

Only http(s); at most MAX_REDIRECTS redirects, each to an http(s) address; connect and read timeouts and a
deadline for the whole transfer; at most MAX_SOURCE_BYTES of body (decoded), checked against Content-Length
first and again while reading; only the content types `ipt-qa add` can read (HTML, PDF, plain text, Markdown).
Every failure is one line (CorpusError) ending with what was (not) done, and nothing is written here.
"""

from __future__ import annotations

import datetime as dt
import re
import tempfile
import time
from dataclasses import dataclass
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from urllib.parse import unquote, urlsplit

from qa.errors import CorpusError
from qa.ingest.add import Added, add_source, check_url
from qa.settings import MAX_SOURCE_BYTES

CONNECT_TIMEOUT = 10.0  # seconds to open the connection
READ_TIMEOUT = 30.0  # seconds the server may stay silent
DEADLINE = 120.0  # seconds for the whole transfer (a server sending a byte a second never ends otherwise)
MAX_REDIRECTS = 5
# What the server says the body is -> the suffix the original is kept under (and read as, qa/ingest/extract.py).
TYPES = {"text/html": ".html", "application/xhtml+xml": ".html", "application/pdf": ".pdf", "text/plain": ".txt",
         "text/markdown": ".md", "text/x-markdown": ".md"}


@dataclass(frozen=True)
class Fetched:
    url: str  # the final address, after redirects
    data: bytes
    suffix: str  # ".html", ".pdf", ".txt" or ".md"
    content_type: str
    retrieved: str  # YYYY-MM-DD


def is_address(arg: str) -> bool:
    """Whether `ipt-qa add ARG` names an address rather than a local file (any scheme: ftp:// is refused)."""
    return re.match(r"[A-Za-z][A-Za-z0-9+.-]*://", arg) is not None


def _user_agent() -> str:
    try:
        return f"ipt-qa/{version('ipt-qa')}"
    except PackageNotFoundError:
        return "ipt-qa"


def fetch(url: str, *, then: str = "nothing was added", connect_timeout: float = CONNECT_TIMEOUT,
          read_timeout: float = READ_TIMEOUT, deadline: float = DEADLINE, max_bytes: int = MAX_SOURCE_BYTES,
          max_redirects: int = MAX_REDIRECTS) -> Fetched:
    """GET `url` within the bounds in the module docstring; CorpusError (one line ending "; {then}") otherwise."""
    import httpx  # deferred: only `add URL` and `refresh` open a connection

    first = check_url(url, "the address")
    if not first:
        raise CorpusError(f"no address given; {then}")
    current = first
    ends = time.monotonic() + deadline
    timeout = httpx.Timeout(read_timeout, connect=connect_timeout)
    headers = {"User-Agent": _user_agent(), "Accept": ", ".join([*TYPES, "*/*;q=0.1"])}
    try:
        with httpx.Client(timeout=timeout, follow_redirects=False, headers=headers) as client:
            for hop in range(max_redirects + 1):
                with client.stream("GET", current) as r:
                    if r.is_redirect:
                        if hop == max_redirects:
                            raise CorpusError(f"{first}: more than {max_redirects} redirects; {then}")
                        target = str(r.url.join(r.headers.get("location", "")))
                        current = check_url(target, f"{first}: a redirect to")
                        continue
                    return _body(first, r, max_bytes, ends, then)
    except httpx.TimeoutException:
        raise CorpusError(f"{first}: no answer in time (connect {connect_timeout:g} s, read {read_timeout:g} s); "
                          f"{then}") from None
    except httpx.HTTPError as e:
        why = " ".join(str(e).split()) or type(e).__name__
        raise CorpusError(f"{first}: cannot be fetched ({why}); {then}") from None
    raise AssertionError("unreachable")  # pragma: no cover - the loop returns or raises


def _body(first: str, r, max_bytes: int, ends: float, then: str) -> Fetched:
    if r.status_code != 200:
        raise CorpusError(f"{first}: the server answered {r.status_code} {r.reason_phrase}".rstrip() + f"; {then}")
    ctype = r.headers.get("content-type", "").split(";")[0].strip().lower()
    suffix = TYPES.get(ctype)
    if suffix is None:
        raise CorpusError(f"{first}: its content type is {ctype or 'not given'}, not a web page, PDF, text or "
                          f"Markdown; {then}")
    limit = f"over the limit of {max_bytes / 2**20:g} MiB per source; {then}"
    length = r.headers.get("content-length", "")
    if length.isdigit() and int(length) > max_bytes:
        raise CorpusError(f"{first}: {int(length) / 2**20:,.1f} MiB, {limit}")
    body = bytearray()
    for chunk in r.iter_bytes():
        body += chunk
        if len(body) > max_bytes:
            raise CorpusError(f"{first}: more than {max_bytes / 2**20:g} MiB, {limit}")
        if time.monotonic() > ends:
            raise CorpusError(f"{first}: the transfer took too long; {then}")
    return Fetched(str(r.url), bytes(body), suffix, ctype, dt.date.today().isoformat())


def _file_name(got: Fetched) -> str:
    """A local name for the fetched bytes: the address's last path part, made safe, with the type's suffix."""
    last = unquote(urlsplit(got.url).path.rstrip("/").rsplit("/", 1)[-1])
    stem = re.sub(r"[^A-Za-z0-9_-]+", "-", Path(last).stem).strip("-")[:60] or "page"
    return stem + got.suffix


def add_url(corpus_dir, url: str, *, title: str | None = None, source_id: str | None = None, **bounds) -> Added:
    """Fetch `url` and add it as `ipt-qa add FILE` would, with the final address and today's date recorded."""
    got = fetch(url, **bounds)
    with tempfile.TemporaryDirectory(prefix="ipt-qa-fetch-") as tmp:
        path = Path(tmp) / _file_name(got)
        path.write_bytes(got.data)
        try:
            return add_source(corpus_dir, path, url=got.url, title=title, source_id=source_id,
                              retrieved=got.retrieved,
                              provenance=f"fetched with `ipt-qa add` from {got.url} ({got.content_type})")
        except CorpusError as e:  # name the address, not the temporary file
            raise CorpusError(str(e).replace(str(path), got.url)) from None

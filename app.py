"""The learner's web page (Gradio): wiring only; the answers come from `qa`, the markup from `qa.present.page`.

Run it with `python app.py [--host 127.0.0.1] [--port 7860]` or `ipt-qa serve`.

API (also listed under "Use via API" at the foot of the page), for `gradio_client.Client(url)`:

    Client(url, download_files=False).predict(question, k, sources, api_name="/ask") -> dict
        question: str        the question, as typed
        k: int = 5           how many passages at most (1-50, as `ipt-qa ask -k`)
        sources: list[str] | None = None
                             source ids to search (see corpus/sources.toml); None or [] searches all
        returns the record itself, the same object as one line of `ipt-qa ask --json` (shape:
        docs/ask-record.schema.json; typed as qa.serve.apitypes.AskRecord, which view_api() shows).
        download_files=False matters: gradio_client 2.x (protocol sse_v3) takes every dict in a result
        that has a string "path" for a file to download, and every passage has a "path" (its source
        file), so a default Client fails with "403 Forbidden .../file=corpus/...".
        A problem the caller can fix (an unknown source id, k out of range) comes back as an error with a
        one-line message.

    Client(url).predict(text, api_name="/echo") -> str
        returns `text` unchanged: the protocol's own cost, for benchmarks to compare /ask against.

    Client(url).predict(question, k, sources, api_name="/show") -> (results_html, source_html)
        what the page itself shows for a question (sources here: an empty list means none chosen).
"""

from __future__ import annotations

import argparse
import logging
import math
import os
from pathlib import Path

# Before gradio is imported: it reads this at import time, and the page must not call out.
os.environ["GRADIO_ANALYTICS_ENABLED"] = "False"

import gradio as gr  # noqa: E402

from qa.present import page  # noqa: E402
from qa.serve.apitypes import AskRecord, as_record  # noqa: E402
from qa.serve import routes as api_routes  # noqa: E402
from qa.serve.batcher import AskBatcher  # noqa: E402
from qa.serve.bodylimit import BodyLimit, ClosedRoutes  # noqa: E402
from qa.ingest.corpus import file_sha256, load_corpus  # noqa: E402
from qa.errors import QAError  # noqa: E402
from qa.serve.service import DEFAULT_CORPUS, DEFAULT_INDEX, PROJECT_DIR, open_searcher  # noqa: E402

log = logging.getLogger("ipt-qa.app")

MAX_PASSAGES = 10
DEFAULT_PASSAGES = 5
# Four events run at once (the search is thread-safe; model calls are serialised inside the embedder) and
# at most 64 wait: bounded, so a flood is refused rather than queued forever. Measured with 16 concurrent
# clients on 2 CPUs: /ask throughput rose about a third from 1 to 4 and no further at 8 (the protocol's own
# cost, seen on /echo, is then the limit).
CONCURRENCY = 4
QUEUE_SIZE = 64
# Browser sessions whose (small, see _keep_no_session_values) state Gradio keeps; older ones are dropped, which
# this page, holding no gr.State, does not notice. Measured: about 45 KB each, so at most ~45 MB.
SESSION_CAPACITY = 1000
# /ask: up to this many questions at once, embedded together (qa/batcher.py; 1 = each on its own). Measured
# with 32 concurrent gradio_clients in `python -m bench --only 2` (bench/RESULTS.md, Performance II).
ASK_BATCH = 16
GENERIC_ERROR = ("Something went wrong while answering. Please try again; if it keeps happening, tell the "
                 "maintainers.")

# What a citation button sends (see RESULTS_JS): the passage span and its best sentence, absolute offsets.
SPAN_KEYS = ("start", "end", "hl_start", "hl_end")

# System fonts only: the default theme would otherwise fetch Google Fonts from the internet. Colours chosen for
# WCAG 2.2 AA contrast (4.5:1 for text) in light and dark mode: the default subdued grey is 1.9:1 on white and
# white on the default blue button 3.7:1 (the browser test runs axe-core over the page in both modes).
THEME = gr.themes.Default(primary_hue="blue", font=["system-ui", "sans-serif"],
                          font_mono=["ui-monospace", "monospace"]).set(
    body_text_color_subdued="#52525b", body_text_color_subdued_dark="#a1a1aa",
    button_primary_background_fill="#1d4ed8", button_primary_background_fill_hover="#1e40af",
    button_primary_background_fill_dark="#2563eb", button_primary_background_fill_hover_dark="#1d4ed8",
    button_primary_text_color="#ffffff", button_primary_text_color_dark="#ffffff")

# One delegated listener per gr.HTML: the markup (qa.present.page) carries data-* buttons, never scripts or handlers.
# The question box gets dir="auto" (Gradio only offers ltr or rtl) so a right-to-left question reads right.
EXAMPLES_JS = """
const setDir = () => {
  const box = document.querySelector('#question textarea');
  if (box) box.setAttribute('dir', 'auto');
  return Boolean(box);
};
if (!setDir()) {
  const observer = new MutationObserver(() => { if (setDir()) observer.disconnect(); });
  observer.observe(document.body, {childList: true, subtree: true});
}
element.addEventListener('click', (event) => {
  const example = event.target.closest('button[data-question]');
  if (example) trigger('example', {question: example.dataset.question});
});
"""
# The clicked citation is remembered (data-origin) so that "Back to the passage" can return to it.
RESULTS_JS = """
element.addEventListener('click', (event) => {
  const cite = event.target.closest('button[data-source]');
  if (cite) {
    element.querySelectorAll('[data-origin]').forEach((b) => b.removeAttribute('data-origin'));
    cite.setAttribute('data-origin', '1');
    const d = cite.dataset;
    trigger('cite', {source: d.source, start: Number(d.start), end: Number(d.end),
                     hl_start: Number(d.hlStart), hl_end: Number(d.hlEnd)});
    return;
  }
  const example = event.target.closest('button[data-question]');
  if (example) trigger('example', {question: example.dataset.question});
});
"""
SOURCE_JS = """
element.addEventListener('click', (event) => {
  if (!event.target.closest('button[data-back]')) return;
  const origin = document.querySelector('#results button[data-origin]')
    || document.querySelector('#results .ipt-asked');
  if (!origin) return;
  origin.scrollIntoView({block: 'center'});
  origin.focus({preventScroll: true});
});
"""
# Run after every answer (a chained JS-only event, so it runs even when the same answer comes back twice, which
# a watch on the value would miss), once the new markup is in place. A crisis notice always gets focus (a
# screen reader then reads it first) and is scrolled into view if it is not; on a narrow screen, where the
# results start below the fold, the page scrolls to them and focus moves to their first line, which also
# closes a phone's keyboard. On a wide screen an ordinary answer leaves focus in the question box.
AFTER_ANSWER_JS = """
() => {
  const arrange = () => {
    const results = document.querySelector('#results');
    const source = document.querySelector('#source');
    if (!results || !source) return;
    const notice = results.querySelector('.ipt-notice');
    const first = notice || results.querySelector('.ipt-asked') || results.querySelector('.ipt-msg');
    if (!first) return;
    const stacked = source.getBoundingClientRect().top >= results.getBoundingClientRect().bottom - 1;
    const box = first.getBoundingClientRect();
    const inView = box.top >= 0 && box.bottom <= window.innerHeight;
    if (notice || stacked) {
      if (!first.hasAttribute('tabindex')) first.setAttribute('tabindex', '-1');
      first.focus({preventScroll: true});
    }
    if (stacked || !inView) first.scrollIntoView({block: 'start'});
  };
  requestAnimationFrame(() => requestAnimationFrame(arrange));
}
"""
# Run after a citation opens: centre the passage inside the scrolling source text; on a wide screen the view
# is sticky beside the results, so the page itself does not move and the clicked card stays where it is; on a
# narrow one the view sits below every result, so the page goes to it (and "Back to the passage" returns).
# Focus follows to the view's title.
AFTER_CITE_JS = """
() => {
  const arrange = () => {
    const view = document.querySelector('#source');
    if (!view) return;
    const mark = view.querySelector('#cited');
    const box = view.querySelector('.ipt-source-text');
    if (mark && box) {
      box.scrollTop += mark.getBoundingClientRect().top - box.getBoundingClientRect().top - box.clientHeight / 3;
    }
    const top = view.getBoundingClientRect().top;
    if (top < 0 || top > window.innerHeight * 0.5) view.scrollIntoView({block: 'start'});
    const title = view.querySelector('.ipt-source-title') || view.querySelector('.ipt-msg');
    if (title) {
      if (!title.hasAttribute('tabindex')) title.setAttribute('tabindex', '-1');
      title.focus({preventScroll: true});
    }
  };
  requestAnimationFrame(() => requestAnimationFrame(arrange));
}
"""

# Colours: one set of variables, overridden in dark mode (Gradio puts class "dark" on <body>); every pair
# meets 4.5:1. Narrow screens (up to 680 px: phones, narrow windows) get their own rules at the end.
CSS = """
:root { --ipt-muted: #52525b; --ipt-accent: #1d4ed8; --ipt-accent-hover-bg: #1d4ed8; --ipt-accent-hover-fg: #fff;
  --ipt-notice-bg: #fef2f2; --ipt-notice-fg: #7f1d1d; --ipt-notice-border: #b91c1c;
  --ipt-warn-bg: #fffbeb; --ipt-warn-fg: #78350f; --ipt-warn-border: #d97706;
  --ipt-error-bg: #fef2f2; --ipt-error-fg: #7f1d1d; --ipt-error-border: #f87171; --ipt-quote-border: #94a3b8; }
body.dark { --ipt-muted: #a1a1aa; --ipt-accent: #93c5fd; --ipt-accent-hover-bg: #93c5fd; --ipt-accent-hover-fg: #111827;
  --ipt-notice-bg: #450a0a; --ipt-notice-fg: #fee2e2; --ipt-notice-border: #f87171;
  --ipt-warn-bg: #422006; --ipt-warn-fg: #fef3c7; --ipt-warn-border: #b45309;
  --ipt-error-bg: #450a0a; --ipt-error-fg: #fee2e2; --ipt-error-border: #f87171; --ipt-quote-border: #64748b; }
/* Gradio clips its container with overflow: hidden, which makes it the scroll box that position: sticky
   follows (so the source view scrolled away with the page); clip hides the same overflow without that. */
.gradio-container { overflow: clip !important; }
.gradio-container main { padding-top: .6rem !important; }
.ipt-header { display: flex; flex-wrap: wrap; gap: .3rem 1.2rem; align-items: center; }
.prose .ipt-header h1, .ipt-header h1 { font-size: 1.45rem; margin: 0; line-height: 1.2; flex: none; }
.ipt-header .ipt-disclaimer { flex: 1 1 30rem; }
.ipt-disclaimer { border-left: 4px solid #2563eb; background: rgba(37, 99, 235, .08); padding: .35rem .7rem;
  border-radius: 6px; }
.ipt-disclaimer p { margin: 0; font-size: .86rem; line-height: 1.4; }
#ask { align-self: stretch; min-height: 2.75rem; }
#question textarea::placeholder { color: var(--ipt-muted); opacity: 1; }
/* Programmatic focus targets (results, notice, source title): focus moves there for screen readers and
   phones, not to offer a control, so no focus ring. */
[tabindex="-1"]:focus { outline: none; }
.ipt-try { display: flex; flex-wrap: wrap; gap: .3rem; align-items: center; }
.ipt-try-label { font-size: .86rem; color: var(--ipt-muted); margin-right: .15rem; }
button.ipt-example { border: 1px solid var(--border-color-primary); background: var(--background-fill-secondary);
  color: var(--body-text-color); border-radius: 999px; padding: .15rem .55rem; font-size: .8rem; cursor: pointer; }
button.ipt-example:hover, button.ipt-example:focus-visible { border-color: var(--ipt-accent);
  color: var(--ipt-accent); }
.ipt-results { display: flex; flex-direction: column; gap: .6rem; }
.ipt-results > * { margin: 0 !important; }
.ipt-asked { scroll-margin-top: .5rem; }
.ipt-asked q { color: var(--body-text-color); font-weight: 600; overflow-wrap: anywhere; unicode-bidi: plaintext; }
.ipt-summary { margin: 0; font-size: .86rem; color: var(--ipt-muted); }
.ipt-card { border: 1px solid var(--border-color-primary); border-radius: 10px; padding: .6rem .9rem;
  background: var(--block-background-fill); box-shadow: 0 1px 2px rgba(0, 0, 0, .05); }
.ipt-card-head { display: flex; flex-wrap: wrap; gap: .2rem .6rem; align-items: flex-start; }
.ipt-rank { flex: none; width: 1.6rem; height: 1.6rem; border-radius: 50%; background: #1d4ed8; color: #fff;
  display: flex; align-items: center; justify-content: center; font-weight: 700; font-size: .85rem; }
.ipt-card-titles { flex: 1 1 14rem; min-width: 0; }
.prose h2.ipt-title, h2.ipt-title { margin: 0; font-weight: 650; font-size: 1rem; line-height: 1.35; }
.ipt-from { margin: .05rem 0 0 0; font-size: .86rem; color: var(--ipt-muted); }
.ipt-rel { flex: none; font-size: .78rem; font-weight: 600; padding: .1rem .55rem; border-radius: 999px;
  white-space: nowrap; }
.ipt-rel-strong { background: #dcfce7; color: #166534; }
.ipt-rel-good { background: #e0f2fe; color: #075985; }
.ipt-rel-partial { background: #f3f4f6; color: #374151; }
.prose .ipt-passage, .ipt-passage { margin: .4rem 0 .35rem 0 !important; padding: 0 0 0 .8rem;
  border-left: 3px solid var(--ipt-quote-border);
  white-space: pre-wrap; overflow-wrap: anywhere; line-height: 1.5; font-style: normal; }
mark.ipt-hl { background: #fde68a; color: #111827; padding: 0 .1rem; border-radius: 3px; }
.ipt-card-foot { display: flex; flex-wrap: wrap; gap: .3rem .8rem; align-items: flex-start; }
button.ipt-cite { border: 1px solid var(--ipt-accent); color: var(--ipt-accent); background: transparent;
  border-radius: 6px; padding: .2rem .65rem; font-size: .85rem; cursor: pointer; font-weight: 600; min-height: 1.9rem; }
button.ipt-cite:hover, button.ipt-cite:focus-visible, button.ipt-cite[data-origin] {
  background: var(--ipt-accent-hover-bg); color: var(--ipt-accent-hover-fg); }
button.ipt-cite-inline { border: none; background: none; padding: 0; color: var(--ipt-accent);
  text-decoration: underline; cursor: pointer; font-size: inherit; text-align: left; }
.ipt-details { font-size: .84rem; color: var(--ipt-muted); }
.ipt-details summary { cursor: pointer; padding: .25rem 0; }
.ipt-details-list { margin: .1rem 0 .2rem 0; display: grid; grid-template-columns: max-content 1fr; gap: 0 .6rem; }
.ipt-details-list dt { font-weight: 600; }
.ipt-details-list dd { margin: 0; overflow-wrap: anywhere; font-family: var(--font-mono); font-size: .8rem; }
.ipt-details p { margin: .1rem 0 .2rem 0; }
.ipt-also { margin: .4rem 0 0 0; font-size: .86rem; }
.ipt-also ul { margin: .15rem 0 0 1.1rem; padding: 0; }
.ipt-also li { margin: 0; }
.ipt-visually-hidden { position: absolute; width: 1px; height: 1px; overflow: hidden; clip: rect(0 0 0 0);
  white-space: nowrap; }
.ipt-notice { border: 2px solid var(--ipt-notice-border); background: var(--ipt-notice-bg); color: var(--ipt-notice-fg);
  border-radius: 10px; padding: .6rem .9rem; scroll-margin-top: .5rem; }
/* Colours set on the paragraphs and links too: Gradio's prose style recolours them (light text in dark mode). */
.ipt-notice p, .ipt-notice a { margin: 0; color: var(--ipt-notice-fg) !important; }
.ipt-notice a { font-weight: 700; text-decoration: underline; white-space: nowrap; padding: 0 !important; }
.ipt-notice-title { font-weight: 700; margin-bottom: .3rem !important; }
.ipt-msg { border-radius: 8px; padding: .5rem .8rem; }
.ipt-msg > p { margin: 0; }
.ipt-msg-info { background: var(--background-fill-secondary); }
.ipt-msg-warning { background: var(--ipt-warn-bg); border: 1px solid var(--ipt-warn-border); }
.ipt-msg-warning p, .ipt-msg-warning .ipt-details { color: var(--ipt-warn-fg); }
.ipt-msg-error { background: var(--ipt-error-bg); border: 1px solid var(--ipt-error-border); }
.ipt-msg-error p { color: var(--ipt-error-fg); }
.ipt-abstain { border: 1px dashed var(--border-color-primary); border-radius: 10px; padding: .7rem .9rem; }
.ipt-abstain p { margin: 0 0 .45rem 0; }
.ipt-abstain-title { font-weight: 700; font-size: 1.05rem; }
.ipt-examples { display: flex; flex-wrap: wrap; gap: .3rem; margin-bottom: .3rem; }
.ipt-why { font-size: .88rem; }
.ipt-why summary { cursor: pointer; font-weight: 600; }
/* Side by side above the narrow breakpoint (Gradio would otherwise stack the columns at its own width). */
#answer-row { flex-wrap: nowrap; }
#answer-row > * { min-width: 0 !important; }
.ipt-source-col { position: sticky; top: .5rem; align-self: flex-start; }
.ipt-source { border: 1px solid var(--border-color-primary); border-radius: 10px; padding: .6rem .9rem;
  background: var(--block-background-fill); max-height: calc(100vh - 1rem); display: flex; flex-direction: column;
  box-sizing: border-box; scroll-margin-top: .5rem; }
.ipt-source-empty { color: var(--ipt-muted); font-size: .9rem; }
.ipt-source-empty p { margin: 0; }
.ipt-source-head { display: flex; flex-wrap: wrap; gap: .3rem .8rem; align-items: center;
  justify-content: space-between; }
.prose h2.ipt-source-title, h2.ipt-source-title { font-weight: 700; margin: 0; font-size: 1.05rem; line-height: 1.35; }
button.ipt-back { display: none; border: 1px solid var(--ipt-accent); color: var(--ipt-accent); background: transparent;
  border-radius: 6px; padding: .35rem .75rem; font-size: .9rem; font-weight: 600; cursor: pointer; min-height: 2.5rem; }
.ipt-meta { font-size: .86rem; margin: .2rem 0 0 0; overflow-wrap: anywhere; }
.ipt-source-foot { display: flex; flex-wrap: wrap; gap: 0 1rem; }
.ipt-links { margin: .1rem 0 .2rem 1.2rem; padding: 0; }
.ipt-source-text { margin-top: .4rem; flex: 1 1 auto; min-height: 10rem; overflow-y: auto;
  border-top: 1px solid var(--border-color-primary); padding-top: .4rem; font-size: .9rem; line-height: 1.5; }
.ipt-source-text:focus-visible { outline: 2px solid var(--ipt-accent); outline-offset: 2px; }
.ipt-line { display: flex; gap: .6rem; }
.ipt-line.ipt-in-span { background: rgba(253, 230, 138, .25); }
.ipt-ln { flex: none; width: 2.4rem; text-align: right; color: var(--ipt-muted);
  font-family: var(--font-mono); font-size: .78rem; user-select: none; padding-top: .1rem; }
/* The tint under the cited lines would drop the grey line numbers below 4.5:1 in dark mode. */
.ipt-in-span .ipt-ln { color: var(--body-text-color); }
.ipt-tx { flex: 1; min-width: 0; white-space: pre-wrap; overflow-wrap: anywhere; min-height: 1.5em; }
mark.ipt-cited { background: #fef3c7; color: #111827; }
mark.ipt-cited.ipt-best { background: #fde68a; font-weight: 600; }
@media (max-width: 680px) {
  .ipt-header h1 { font-size: 1.25rem; }
  /* The question box takes the whole width, Ask goes below it at a thumb's size. */
  #question-row, #answer-row { flex-wrap: wrap; }
  #question-row > *, #answer-row > * { flex: 1 1 100% !important; min-width: 100% !important; }
  button.ipt-back { display: inline-block; }
  .ipt-source-col { position: static; }
}
/* Gradio's footer (API and settings links) is for developers; on a phone it is stray text below the page.
   Nested, not in the media query above: Gradio rewrites media queries to apply inside its container only,
   and the footer is outside it; a top-level rule is kept as written. */
footer:not(.ipt-card-foot) { @media (max-width: 680px) { display: none !important; } }
"""


def load_source_docs(searcher, corpus_dir: str | os.PathLike | None = None) -> dict[str, page.SourceDoc]:
    """The full text of every indexed source, read once, keyed by source id.

    The text comes from `corpus_dir` (by default the folder the index's source paths point to). A source
    whose file is no longer the one indexed (different SHA-256) is left out, so that no citation ever
    highlights characters other than the ones it quotes."""
    infos = searcher.index.sources
    if corpus_dir is None:
        corpus_dir = _indexed_corpus_dir(searcher)
        if corpus_dir is None:
            log.warning("source files of the index not found; the source view will be unavailable")
            return {}
    docs = {}
    for s in load_corpus(corpus_dir):
        info = infos.get(s.id)
        if info is None or info.sha256 != s.sha256:
            log.warning("source %s differs from the indexed one; not shown in the source view", s.id)
            continue
        docs[s.id] = page.SourceDoc(id=s.id, title=info.title, path=info.path, text=s.text, url=info.url,
                                    links=tuple(info.links), provenance=s.provenance)
    return docs


class _LiveDocs:
    """The source texts of the build the searcher answers from now: read again whenever a new build is
    swapped in (qa.serve.service.LiveSearcher), so the source view never highlights a superseded text."""

    def __init__(self, searcher, corpus_dir):
        self._searcher, self._corpus_dir = searcher, corpus_dir
        self._index, self._docs = None, {}

    def get(self, source_id: str):
        try:
            index = self._searcher.index
            if index is not self._index:
                self._docs, self._index = load_source_docs(self._searcher, self._corpus_dir), index
        except QAError:  # the sources changed and no matching build is installed yet: show none
            return None
        return self._docs.get(source_id)


def _indexed_corpus_dir(searcher) -> Path | None:
    """The folder holding the indexed source files (their paths are relative to where the index was built)."""
    for info in searcher.index.sources.values():
        p = Path(info.path)
        for candidate in ([p] if p.is_absolute() else [Path.cwd() / p, PROJECT_DIR / p]):
            if candidate.is_file() and file_sha256(candidate) == info.sha256:
                return candidate.parent
    return None


def _whole_k(k) -> int:
    """The API's `k` as an int from 1 to 50, else a one-line gr.Error: int(k) silently made 2.9 into 2 and
    True into 1, and failed on 1e400 / Infinity with an empty error."""
    if isinstance(k, float) and math.isfinite(k) and k.is_integer():
        k = int(k)
    if isinstance(k, bool) or not isinstance(k, int) or not 1 <= k <= 50:
        shown = repr(k) if len(repr(k)) <= 40 else repr(k)[:40] + "..."
        raise gr.Error(f"k must be a whole number from 1 to 50, not {shown}", print_exception=False)
    return k


def build_demo(searcher, corpus_dir: str | os.PathLike | None = None) -> gr.Blocks:
    """The page and its API endpoints for one searcher (not launched; see `launch`)."""
    docs = _LiveDocs(searcher, corpus_dir)
    source_choices = [(info.title, sid) for sid, info in searcher.index.sources.items()]
    all_ids = [sid for _, sid in source_choices]
    batcher = AskBatcher(searcher, max_batch=ASK_BATCH)

    def ask(question: str = "", k: int = DEFAULT_PASSAGES, sources: list[str] | None = None) -> AskRecord:
        """The record `ipt-qa ask --json` prints for `question` (sources: ids to search; None or [] = all)."""
        k = _whole_k(k)
        try:
            chosen = [sources] if isinstance(sources, str) else list(sources or [])
            answer = batcher.ask(question, k=k, sources=chosen or None)
            return as_record(answer)
        except QAError as e:
            raise gr.Error(str(e), print_exception=False) from None
        except Exception:
            log.exception("ask failed")
            raise gr.Error(GENERIC_ERROR, print_exception=False) from None

    # Annotations are postponed in this module (__future__) and gradio reads the return type unevaluated:
    # hand it the class itself, so that view_api() shows the record's fields rather than "Any".
    ask.__annotations__["return"] = AskRecord

    def echo(text: str) -> str:
        """Returns its input unchanged: the cost of the protocol alone."""
        return text

    def show(question: str, k: float, sources: list[str]) -> tuple[str, str]:
        """What the page shows for a question: the results and a reset source view."""
        reset = page.source_placeholder_html()
        if not (question or "").strip():
            return page.message_html("Type a question about Interpersonal Psychotherapy (IPT) first, or choose "
                                     "one of the example questions."), reset
        if not sources:
            return page.message_html("No source is chosen. Tick at least one source under “Sources to search”.",
                                     "warning"), reset
        chosen = None if set(sources) >= set(all_ids) else list(sources)
        try:
            answer = searcher.ask(question, k=min(max(int(k), 1), MAX_PASSAGES), sources=chosen)
        except QAError as e:
            return page.message_html(str(e), "error"), reset
        except Exception:
            log.exception("show failed")
            return page.message_html(GENERIC_ERROR, "error"), reset
        return page.answer_html(answer), reset

    def show_example(k: float, sources: list[str], evt: gr.EventData) -> tuple[str, str, str]:
        """A clicked example question: put it in the question box and answer it."""
        question = str(getattr(evt, "question", ""))
        return (question, *show(question, k, sources))

    def open_source(evt: gr.EventData) -> str:
        """The source view for a clicked citation; the span arrives from the browser, so it is checked."""
        doc = docs.get(str(getattr(evt, "source", "")))
        if doc is None:
            return page.message_html("The text of this source is not available here. Rebuild the index with "
                                     "`ipt-qa build` and restart the page.", "error")
        try:
            start, end, hl_start, hl_end = (int(getattr(evt, key)) for key in SPAN_KEYS)
        except (AttributeError, TypeError, ValueError):
            return page.message_html("That citation could not be opened.", "error")
        if not 0 <= start < end <= len(doc.text):
            return page.message_html("That citation could not be opened.", "error")
        return page.source_html(doc, start, end, hl_start, hl_end)

    with gr.Blocks(title="IPT passage assistant", analytics_enabled=False) as demo:
        gr.HTML(f'<div class="ipt-header"><h1>IPT passage assistant</h1>{page.disclaimer_html()}</div>',
                js_on_load=None, elem_id="intro")
        with gr.Row(elem_id="question-row"):
            # The label stays for screen readers (Gradio keeps it, visually hidden); the placeholder says it.
            question = gr.Textbox(label="Your question", show_label=False, lines=1,
                                  placeholder="Type a question about IPT, e.g. Who created IPT?",
                                  max_lines=3, max_length=2000, scale=5, autofocus=True, elem_id="question")
            ask_btn = gr.Button("Ask", variant="primary", scale=0, min_width=120, elem_id="ask")
        # Five examples fit one line at 1366 px (the refusal offers all of them).
        examples = gr.HTML(f'<div class="ipt-try"><span class="ipt-try-label">Try:</span>'
                           f"{page.example_buttons_html(page.EXAMPLE_QUESTIONS[:5])}</div>",
                           js_on_load=EXAMPLES_JS, elem_id="examples")
        with gr.Accordion("Options: number of passages, sources to search", open=False):
            with gr.Row():
                k = gr.Slider(1, MAX_PASSAGES, value=DEFAULT_PASSAGES, step=1, label="Number of passages",
                              elem_id="k")
                sources = gr.CheckboxGroup(choices=source_choices, value=all_ids, label="Sources to search",
                                           elem_id="sources")
        with gr.Row(elem_id="answer-row"):
            with gr.Column(scale=3, elem_id="results-col"):
                results = gr.HTML(page.message_html("Ask a question, or try one of the examples above."),
                                  js_on_load=RESULTS_JS, elem_id="results")
            with gr.Column(scale=2, elem_classes=["ipt-source-col"], elem_id="source-col"):
                source = gr.HTML(page.source_placeholder_html(), js_on_load=SOURCE_JS, elem_id="source")

        inputs = [question, k, sources]
        # Each page event is followed by a JS-only step (no server call) that moves scroll and focus.
        after_answer = dict(fn=None, js=AFTER_ANSWER_JS, api_visibility="private")
        question.submit(show, inputs, [results, source], api_name="show").then(**after_answer)
        ask_btn.click(show, inputs, [results, source], api_visibility="private").then(**after_answer)
        for area in (examples, results):
            area.example(show_example, [k, sources], [question, results, source],
                         api_visibility="private").then(**after_answer)
        gr.HTML(page.privacy_html(), js_on_load=None, elem_id="privacy")  # footer: questions are not stored
        results.cite(open_source, None, source, api_visibility="private").then(
            fn=None, js=AFTER_CITE_JS, api_visibility="private")
        gr.api(ask, api_name="ask", concurrency_limit=ASK_BATCH if ASK_BATCH > 1 else "default")
        gr.api(echo, api_name="echo")
    _bound_every_route(demo)
    # /healthz, /readyz and /api/v1/ask (qa/routes.py), served beside the page by `launch`.
    api_routes.attach(demo, searcher, corpus_dir or DEFAULT_CORPUS, concurrency=CONCURRENCY,
                      queue_size=QUEUE_SIZE)
    return demo


def _bound_every_route(demo: gr.Blocks) -> None:
    """Every route to the search goes through the queue: at most CONCURRENCY at once, QUEUE_SIZE waiting, 503
    past that. api_open=False closes the direct routes (/gradio_api/run/<name>, /gradio_api/api/<name>; 404),
    which otherwise ran any number of searches at once beside the queue (150 requests: 85 threads, 26 s)."""
    demo.queue(default_concurrency_limit=CONCURRENCY, max_size=QUEUE_SIZE, api_open=False)


def launch(demo: gr.Blocks, host: str = "127.0.0.1", port: int = 7860, **kw):
    """Serve the page locally with safe settings: no share link, no monitoring, no file access, no uploads,
    request bodies bounded (qa/bodylimit.py), no tracebacks sent to the browser, and no run history
    (questions about one's mental health should not linger in a shared browser). Extra keywords (e.g.
    prevent_thread_lock=True) go to `Blocks.launch`."""
    from starlette.middleware import Middleware

    middleware = [*api_routes.middleware(demo), Middleware(ClosedRoutes), Middleware(BodyLimit)]
    _keep_no_session_values()
    return demo.launch(server_name=host, server_port=port, share=False, enable_monitoring=False,
                       max_file_size="1mb", show_error=False, run_history=False, footer_links=["api", "settings"],
                       theme=THEME, css=CSS, app_kwargs={"middleware": middleware},
                       state_session_capacity=SESSION_CAPACITY, **kw)


def _keep_no_session_values() -> None:
    """Gradio keeps, per browser session, a copy of every event's last inputs and outputs, only to rebuild a
    page from a deep link (a route this page closes: qa/bodylimit.py). With 10,000 sessions allowed and a
    1 MB question each, that was ~1 MB per abandoned session. Keep none: a question about one's health
    should not linger in the server either. (Skipped, with a warning, if Gradio no longer has the hook.)"""
    from gradio import state_holder

    update = getattr(state_holder.SessionState, "_update_value_in_config", None)
    if update is None:
        log.warning("gradio's SessionState has no _update_value_in_config; session values are kept")
        return
    if getattr(update, "keeps_nothing", False):
        return

    def keep_nothing(self, key, value):
        return update(self, key, None)

    keep_nothing.keeps_nothing = True
    state_holder.SessionState._update_value_in_config = keep_nothing


def main(host: str = "127.0.0.1", port: int = 7860, index_dir=None, corpus_dir=None) -> None:
    """Open the index (building it if missing or stale) and serve the page until interrupted."""
    corpus_dir = corpus_dir or DEFAULT_CORPUS
    searcher = open_searcher(index_dir or DEFAULT_INDEX, corpus_dir)
    launch(build_demo(searcher, corpus_dir), host=host, port=port)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description="Serve the IPT passage assistant's web page.")
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on (default: 127.0.0.1)")
    parser.add_argument("--port", type=int, default=7860, help="port to listen on (default: 7860)")
    args = parser.parse_args()
    main(host=args.host, port=args.port)

"""The learner's web page (Gradio): wiring only; the answers come from `qa`, the markup from `qa.page`.

Run it with `python app.py [--host 127.0.0.1] [--port 7860]` or `ipt-qa serve`.

API (also listed under "Use via API" at the foot of the page), for `gradio_client.Client(url)`:

    Client(url).predict(question, k, sources, api_name="/ask") -> str
        question: str        the question, as typed
        k: int = 5           how many passages at most (1-50, as `ipt-qa ask -k`)
        sources: list[str] | None = None
                             source ids to search (see corpus/sources.toml); None or [] searches all
        returns the line `ipt-qa ask --json` prints for the question: `json.loads` it to get the record
        (`Answer.to_dict()`). JSON text rather than a dict because gradio_client 2.x takes any returned
        dict with a "path" key for a file and tries to download it, and every passage has a "path".
        A problem the caller can fix (an unknown source id, k out of range) comes back as an error with a
        one-line message.

    Client(url).predict(text, api_name="/echo") -> str
        returns `text` unchanged: the protocol's own cost, for benchmarks to compare /ask against.

    Client(url).predict(question, k, sources, api_name="/show") -> (results_html, source_html)
        what the page itself shows for a question (sources here: an empty list means none chosen).
"""

from __future__ import annotations

import argparse
import json
import logging
import os
from pathlib import Path

# Before gradio is imported: it reads this at import time, and the page must not call out.
os.environ["GRADIO_ANALYTICS_ENABLED"] = "False"

import gradio as gr  # noqa: E402

from qa import page  # noqa: E402
from qa.batcher import AskBatcher  # noqa: E402
from qa.bodylimit import BodyLimit  # noqa: E402
from qa.corpus import file_sha256, load_corpus  # noqa: E402
from qa.errors import QAError  # noqa: E402
from qa.service import DEFAULT_CORPUS, DEFAULT_INDEX, PROJECT_DIR, open_searcher  # noqa: E402

log = logging.getLogger("ipt-qa.app")

MAX_PASSAGES = 10
DEFAULT_PASSAGES = 5
# Four events run at once (the search is thread-safe; model calls are serialised inside the embedder) and
# at most 64 wait: bounded, so a flood is refused rather than queued forever. Measured with 16 concurrent
# clients on 2 CPUs: /ask throughput rose about a third from 1 to 4 and no further at 8 (the protocol's own
# cost, seen on /echo, is then the limit).
CONCURRENCY = 4
QUEUE_SIZE = 64
# /ask: up to this many questions at once, embedded together (qa/batcher.py; 1 = each on its own). Measured
# with 32 concurrent gradio_clients in `python -m bench --only 2` (bench/RESULTS.md, Performance II).
ASK_BATCH = 16
GENERIC_ERROR = ("Something went wrong while answering. Please try again; if it keeps happening, tell the "
                 "maintainers.")

# What a citation button sends (see RESULTS_JS): the passage span and its best sentence, absolute offsets.
SPAN_KEYS = ("start", "end", "hl_start", "hl_end")

# System fonts only: the default theme would otherwise fetch Google Fonts from the internet.
THEME = gr.themes.Default(primary_hue="blue", font=["system-ui", "sans-serif"],
                          font_mono=["ui-monospace", "monospace"])

# One delegated listener per gr.HTML: the markup (qa.page) carries data-* buttons, never scripts or handlers.
RESULTS_JS = """
element.addEventListener('click', (event) => {
  const cite = event.target.closest('button[data-source]');
  if (cite) {
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
watch('value', () => {
  const mark = element.querySelector('#cited');
  const box = element.querySelector('.ipt-source-text');
  if (!mark || !box) return;
  // Centre the passage inside the scrolling source text, then bring the panel itself into view only if it
  // is off screen (on narrow screens it sits below the results), so the page does not jump needlessly.
  box.scrollTop += mark.getBoundingClientRect().top - box.getBoundingClientRect().top - box.clientHeight / 3;
  element.scrollIntoView({block: 'nearest'});
});
"""

CSS = """
#ask { align-self: center; }
.ipt-header h1 { font-size: 1.6rem; margin: 0 0 .25rem 0; }
.ipt-header p { margin: 0; color: var(--body-text-color); opacity: .75; }
.ipt-disclaimer { border-left: 4px solid #2563eb; background: rgba(37, 99, 235, .08); padding: .5rem .8rem;
  border-radius: 6px; }
.ipt-disclaimer p { margin: 0; font-size: .92rem; }
.ipt-try { display: flex; flex-wrap: wrap; gap: .4rem; align-items: center; }
.ipt-try-label { font-size: .9rem; color: var(--body-text-color-subdued); margin-right: .2rem; }
button.ipt-example { border: 1px solid var(--border-color-primary); background: var(--background-fill-secondary);
  color: var(--body-text-color); border-radius: 999px; padding: .25rem .75rem; font-size: .88rem; cursor: pointer; }
button.ipt-example:hover { border-color: #2563eb; color: #2563eb; }
.ipt-results > * + * { margin-top: .8rem; }
.ipt-asked { margin: 0; }
.ipt-asked q { color: var(--body-text-color); font-weight: 600; overflow-wrap: anywhere; }
.ipt-summary { margin: 0; font-size: .9rem; opacity: .8; }
.ipt-card { border: 1px solid var(--border-color-primary); border-radius: 10px; padding: .8rem 1rem;
  background: var(--block-background-fill); box-shadow: 0 1px 2px rgba(0, 0, 0, .05); }
.ipt-card-head { display: flex; gap: .7rem; align-items: flex-start; }
.ipt-rank { flex: none; width: 1.7rem; height: 1.7rem; border-radius: 50%; background: #2563eb; color: #fff;
  display: flex; align-items: center; justify-content: center; font-weight: 700; font-size: .9rem; }
.ipt-card-titles { flex: 1; min-width: 0; }
.ipt-title { margin: 0; font-weight: 650; }
.ipt-section { margin: .1rem 0 0 0; font-size: .88rem; color: var(--body-text-color-subdued); }
.ipt-rel { flex: none; font-size: .78rem; font-weight: 600; padding: .15rem .55rem; border-radius: 999px;
  white-space: nowrap; }
.ipt-rel-strong { background: #dcfce7; color: #166534; }
.ipt-rel-good { background: #e0f2fe; color: #075985; }
.ipt-rel-partial { background: #f3f4f6; color: #374151; }
.ipt-passage { margin: .6rem 0 .5rem 0; padding: .1rem 0 .1rem .9rem; border-left: 3px solid #cbd5e1;
  white-space: pre-wrap; overflow-wrap: anywhere; line-height: 1.55; font-style: normal; }
mark.ipt-hl { background: #fde68a; color: #111827; padding: 0 .1rem; border-radius: 3px; }
.ipt-card-foot { display: flex; flex-wrap: wrap; gap: .6rem; align-items: center; }
button.ipt-cite { border: 1px solid #2563eb; color: #2563eb; background: transparent; border-radius: 6px;
  padding: .2rem .65rem; font-size: .85rem; cursor: pointer; font-weight: 600; }
button.ipt-cite:hover, button.ipt-cite:focus-visible { background: #2563eb; color: #fff; }
button.ipt-cite-inline { border: none; background: none; padding: 0; color: #2563eb; text-decoration: underline;
  cursor: pointer; font-size: inherit; }
.ipt-where { font-size: .82rem; color: var(--body-text-color-subdued); font-family: var(--font-mono); }
.ipt-also { margin: .5rem 0 0 0; font-size: .88rem; }
.ipt-also ul { margin: .15rem 0 0 1.1rem; padding: 0; }
.ipt-also li { margin: 0; }
.ipt-notice { border: 2px solid #b91c1c; background: #fef2f2; color: #7f1d1d; border-radius: 10px;
  padding: .7rem 1rem; }
/* Colours set on the paragraphs too: Gradio's prose style recolours <p> (light text in dark mode). */
.ipt-notice p { margin: 0; color: #7f1d1d; }
.ipt-results > .ipt-notice { margin-bottom: .8rem; }
.ipt-notice-title { font-weight: 700; margin-bottom: .3rem !important; }
.ipt-msg { border-radius: 8px; padding: .6rem .9rem; }
.ipt-msg p { margin: 0; }
.ipt-msg-info { background: var(--background-fill-secondary); }
.ipt-msg-warning { background: #fffbeb; border: 1px solid #fcd34d; }
.ipt-msg-warning p { color: #78350f; }
.ipt-msg-error { background: #fef2f2; border: 1px solid #fca5a5; }
.ipt-msg-error p { color: #7f1d1d; }
.ipt-abstain { border: 1px dashed var(--border-color-primary); border-radius: 10px; padding: .8rem 1rem; }
.ipt-abstain p { margin: 0 0 .5rem 0; }
.ipt-abstain-title { font-weight: 700; font-size: 1.05rem; }
.ipt-examples { display: flex; flex-wrap: wrap; gap: .4rem; margin-bottom: .4rem; }
.ipt-why { font-size: .85rem; color: var(--body-text-color-subdued); }
.ipt-source-col { position: sticky; top: .5rem; align-self: flex-start; }
.ipt-source { border: 1px solid var(--border-color-primary); border-radius: 10px; padding: .8rem 1rem;
  background: var(--block-background-fill); }
.ipt-source-empty { color: var(--body-text-color-subdued); font-size: .92rem; }
.ipt-source-empty p { margin: 0; }
.ipt-source-title { font-weight: 700; margin: 0 0 .3rem 0; }
.ipt-meta { font-size: .84rem; color: var(--body-text-color-subdued); margin: 0 0 .2rem 0; overflow-wrap: anywhere; }
.ipt-links { margin: .1rem 0 .2rem 1.2rem; padding: 0; }
.ipt-meta summary { cursor: pointer; }
.ipt-source-text { margin-top: .6rem; max-height: 70vh; overflow-y: auto; border-top: 1px solid
  var(--border-color-primary); padding-top: .4rem; font-size: .9rem; line-height: 1.5; }
.ipt-line { display: flex; gap: .6rem; }
.ipt-line.ipt-in-span { background: rgba(253, 230, 138, .25); }
.ipt-ln { flex: none; width: 2.4rem; text-align: right; color: var(--body-text-color-subdued);
  font-family: var(--font-mono); font-size: .78rem; user-select: none; padding-top: .1rem; }
.ipt-tx { flex: 1; min-width: 0; white-space: pre-wrap; overflow-wrap: anywhere; min-height: 1.5em; }
mark.ipt-cited { background: #fef3c7; color: #111827; }
mark.ipt-cited.ipt-best { background: #fde68a; font-weight: 600; }
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


def _indexed_corpus_dir(searcher) -> Path | None:
    """The folder holding the indexed source files (their paths are relative to where the index was built)."""
    for info in searcher.index.sources.values():
        p = Path(info.path)
        for candidate in ([p] if p.is_absolute() else [Path.cwd() / p, PROJECT_DIR / p]):
            if candidate.is_file() and file_sha256(candidate) == info.sha256:
                return candidate.parent
    return None


def build_demo(searcher, corpus_dir: str | os.PathLike | None = None) -> gr.Blocks:
    """The page and its API endpoints for one searcher (not launched; see `launch`)."""
    docs = load_source_docs(searcher, corpus_dir)
    source_choices = [(info.title, sid) for sid, info in searcher.index.sources.items()]
    all_ids = [sid for _, sid in source_choices]
    batcher = AskBatcher(searcher, max_batch=ASK_BATCH)

    def ask(question: str, k: int = DEFAULT_PASSAGES, sources: list[str] | None = None) -> str:
        """The JSON line `ipt-qa ask --json` prints for `question` (sources: ids to search; None or [] = all)."""
        try:
            k = int(k)
        except (TypeError, ValueError):
            raise gr.Error(f"k must be a whole number, not {k!r}", print_exception=False) from None
        try:
            chosen = [sources] if isinstance(sources, str) else list(sources or [])
            answer = batcher.ask(question, k=k, sources=chosen or None)
            return json.dumps(answer.to_dict(), ensure_ascii=False)
        except QAError as e:
            raise gr.Error(str(e), print_exception=False) from None
        except Exception:
            log.exception("ask failed")
            raise gr.Error(GENERIC_ERROR, print_exception=False) from None

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
        gr.HTML('<div class="ipt-header"><h1>IPT passage assistant</h1><p>Ask a question about Interpersonal '
                "Psychotherapy (IPT). The answer is passages quoted from five sources, each with where it comes "
                "from.</p></div>", js_on_load=None)
        gr.HTML(page.disclaimer_html(), js_on_load=None, elem_id="disclaimer")
        with gr.Row():
            question = gr.Textbox(label="Your question", placeholder="e.g. Who created IPT?", lines=1,
                                  max_lines=3, max_length=2000, scale=5, autofocus=True, elem_id="question")
            ask_btn = gr.Button("Ask", variant="primary", scale=0, min_width=120, elem_id="ask")
        examples = gr.HTML(f'<div class="ipt-try"><span class="ipt-try-label">Try:</span>'
                           f"{page.example_buttons_html()}</div>", js_on_load=RESULTS_JS, elem_id="examples")
        with gr.Accordion("Options: number of passages, sources to search", open=False):
            with gr.Row():
                k = gr.Slider(1, MAX_PASSAGES, value=DEFAULT_PASSAGES, step=1, label="Number of passages",
                              elem_id="k")
                sources = gr.CheckboxGroup(choices=source_choices, value=all_ids, label="Sources to search",
                                           elem_id="sources")
        with gr.Row():
            with gr.Column(scale=3):
                results = gr.HTML(page.message_html("Ask a question, or try one of the examples above."),
                                  js_on_load=RESULTS_JS, elem_id="results")
            with gr.Column(scale=2, elem_classes=["ipt-source-col"]):
                source = gr.HTML(page.source_placeholder_html(), js_on_load=SOURCE_JS, elem_id="source")

        inputs = [question, k, sources]
        question.submit(show, inputs, [results, source], api_name="show")
        ask_btn.click(show, inputs, [results, source], api_visibility="private")
        for area in (examples, results):
            area.example(show_example, [k, sources], [question, results, source], api_visibility="private")
        results.cite(open_source, None, source, api_visibility="private")
        gr.api(ask, api_name="ask", concurrency_limit=ASK_BATCH if ASK_BATCH > 1 else "default")
        gr.api(echo, api_name="echo")
    demo.queue(default_concurrency_limit=CONCURRENCY, max_size=QUEUE_SIZE)
    return demo


def launch(demo: gr.Blocks, host: str = "127.0.0.1", port: int = 7860, **kw):
    """Serve the page locally with safe settings: no share link, no monitoring, no file access, small uploads,
    request bodies bounded (qa/bodylimit.py), no tracebacks sent to the browser, and no run history
    (questions about one's mental health should not linger in a shared browser). Extra keywords (e.g.
    prevent_thread_lock=True) go to `Blocks.launch`."""
    from starlette.middleware import Middleware

    return demo.launch(server_name=host, server_port=port, share=False, enable_monitoring=False,
                       max_file_size="1mb", show_error=False, run_history=False, footer_links=["api", "settings"],
                       theme=THEME, css=CSS, app_kwargs={"middleware": [Middleware(BodyLimit)]}, **kw)


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

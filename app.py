"""The learner's web page (Gradio): wiring only; the answers come from `qa`, the markup from `qa.present.page`.

Run it with `python app.py [--host 127.0.0.1] [--port 7860]` or `ipt-qa serve`.

API (also listed under "Use via API" at the foot of the page), for `gradio_client.Client(url)`:

    Client(url).predict(question, k, sources, api_name="/ask") -> dict
        question: str        the question, as typed
        k: int = 5           how many passages at most (1-50, qa.settings.MAX_K, as `ipt-qa ask -k`)
        sources: list[str] | None = None
                             source ids to search (see corpus/sources.toml); None or [] searches all
        returns the record itself, the same object as one line of `ipt-qa ask --json` except that each
        citation names its source file `file` where the CLI says `path` (same value, same place): gradio_client
        2.x (protocol sse_v3) takes every dict in a result with a string "path" for a file to download, which
        failed with "403 Forbidden .../file=corpus/..." (shape: docs/ask-record.schema.json, which allows
        either name; typed as qa.serve.apitypes.AskRecord, which view_api() shows).
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
import os

# Before gradio is imported: it reads this at import time, and the page must not call out.
os.environ["GRADIO_ANALYTICS_ENABLED"] = "False"

import gradio as gr  # noqa: E402

from qa import open_searcher  # noqa: E402
from qa.errors import QAError  # noqa: E402
from qa.paths import default_corpus  # noqa: E402
from qa.present import page, source_view, suggest  # noqa: E402
from qa.present.assets import asset  # noqa: E402
from qa.present.follow import PageFollower, source_choices  # noqa: E402
from qa.present.sources import LiveDocs  # noqa: E402
from qa.serve import routes as api_routes  # noqa: E402
from qa.serve.apitypes import AskRecord, as_record  # noqa: E402
from qa.serve.batcher import AskBatcher  # noqa: E402
from qa.serve.bodylimit import BodyLimit, ClosedRoutes  # noqa: E402
from qa.serve.gradio_patches import checked_preprocess, patch_gradio, quiet_input_errors  # noqa: E402
from qa.serve.inputs import source_ids, whole_k  # noqa: E402
from qa.serve.logrepeat import limit_repeats  # noqa: E402

log = logging.getLogger("ipt-qa.app")

MAX_PASSAGES = 10
DEFAULT_PASSAGES = 5
# Four events run at once (the search is thread-safe; model calls are serialised inside the embedder) and
# at most 64 wait: bounded, so a flood is refused rather than queued forever. Measured with 16 concurrent
# clients on 2 CPUs: /ask throughput rose about a third from 1 to 4 and no further at 8 (the protocol's own
# cost, seen on /echo, is then the limit).
CONCURRENCY = 4
QUEUE_SIZE = 64
# Browser sessions whose (small: gradio_patches.keep_no_session_values) state Gradio keeps; older ones are dropped,
# which this page, holding no gr.State, does not notice. Measured: about 45 KB each, so at most ~45 MB.
SESSION_CAPACITY = 1000
# /ask: up to this many questions at once, embedded together (qa/serve/batcher.py; 1 = each on its own). Measured
# with 32 concurrent gradio_clients (bench/RESULTS.md, Performance II); `python -m bench --only 2` measures it.
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

EXAMPLES_JS = asset("examples.js")
RESULTS_JS = asset("results.js")
SOURCE_JS = asset("source.js")
AFTER_ANSWER_JS = asset("after-answer.js")
AFTER_CITE_JS = asset("after-cite.js")

CSS = asset("page.css")


def build_demo(searcher, corpus_dir: str | os.PathLike | None = None) -> gr.Blocks:
    """The page and its API endpoints for one searcher (not launched; see `launch`)."""
    docs = LiveDocs(searcher, corpus_dir)
    choices = source_choices(searcher)
    all_ids = [sid for _, sid in choices]
    batcher = AskBatcher(searcher, max_batch=ASK_BATCH)

    def ask(question: str = "", k: int = DEFAULT_PASSAGES, sources: list[str] | None = None) -> AskRecord:
        """The record `ipt-qa ask --json` prints for `question` (sources: ids to search; None or [] = all)."""
        try:
            k = whole_k(k)
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
        reset = source_view.source_placeholder_html()
        if not (question or "").strip():
            return page.message_html("Type a question about Interpersonal Psychotherapy (IPT) first, or choose "
                                     "one of the example questions."), reset
        if not sources:
            return page.message_html("No source is chosen. Tick at least one source under “Sources to search”.",
                                     "warning"), reset
        # The sources of the build answering now: one added or removed since the page started counts.
        ids_now = set(searcher.index.sources)
        chosen = [s for s in sources if s in ids_now]
        try:
            # The one k rule of every route (1-50); the slider offers 1-MAX_PASSAGES, the /show API may ask more.
            answer = searcher.ask(question, k=whole_k(k),
                                  sources=None if set(chosen) >= ids_now else chosen or list(sources))
            return page.answer_html(answer, suggest.for_answer(searcher.index, answer),
                                    len(searcher.index.sources)), reset
        except QAError as e:
            return page.message_html(str(e), "error"), reset
        except Exception:
            log.exception("show failed")
            return page.message_html(GENERIC_ERROR, "error"), reset

    def show_example(k: float, sources: list[str], evt: gr.EventData) -> tuple[str, str, str]:
        """A clicked example question: put it in the question box and answer it."""
        question = str(getattr(evt, "question", ""))
        return (question, *show(question, k, sources))

    def show_linked(question: str, k: float, sources: list[str]):
        """A page opened from a shared link (?q=..., read by static/linked.js) answers it; else nothing to do."""
        return (question, *show(question, k, sources)) if (question or "").strip() else (gr.skip(),) * 3

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
        return source_view.source_html(doc, start, end, hl_start, hl_end)

    follower = PageFollower(searcher)

    with gr.Blocks(title="IPT passage assistant", analytics_enabled=False) as demo:
        gr.HTML(f'<div class="ipt-header"><h1>IPT passage assistant</h1>{page.disclaimer_html(len(all_ids))}</div>',
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
        menu = gr.HTML(follower.menu_html(follower.build()), js_on_load=EXAMPLES_JS, elem_id="ask-menu")
        with gr.Accordion("Options: number of passages, sources to search", open=False) as options, gr.Row():
            k = gr.Slider(1, MAX_PASSAGES, value=DEFAULT_PASSAGES, step=1, label="Number of passages",
                          elem_id="k")
            sources = gr.CheckboxGroup(choices=choices, value=all_ids, label="Sources to search",
                                       elem_id="sources")
            # The choices are the sources at start; a source added and built since is searched too, so the ids
            # are checked against the index in use (show: one-line message) rather than against those choices.
            sources.preprocess = checked_preprocess(source_ids)  # type: ignore[method-assign]
        with gr.Row(elem_id="answer-row"):
            with gr.Column(scale=3, elem_id="results-col"):
                results = gr.HTML(page.message_html("Ask a question, or try one of the examples above."),
                                  js_on_load=RESULTS_JS, elem_id="results")
            with gr.Column(scale=2, elem_classes=["ipt-source-col"], elem_id="source-col"):
                source = gr.HTML(source_view.source_placeholder_html(), js_on_load=SOURCE_JS, elem_id="source")

        inputs = [question, k, sources]
        # Each page event is followed by a JS-only step (no server call) that moves scroll and focus.
        after_answer = dict(fn=None, js=AFTER_ANSWER_JS, api_visibility="private")
        question.submit(show, inputs, [results, source], api_name="show").then(**after_answer)
        ask_btn.click(show, inputs, [results, source], api_visibility="private").then(**after_answer)
        for area in (examples, results, menu):
            area.example(show_example, [k, sources], [question, results, source],
                         api_visibility="private").then(**after_answer)
        seen = gr.Textbox(follower.seen(), visible=False)  # the lists follow the build (qa/present/follow.py)
        gr.on([demo.load, results.change, options.expand], follower.follow, [sources, seen], [sources, menu, seen],
              api_visibility="private", show_progress="hidden")
        demo.load(show_linked, inputs, [question, results, source], js=asset("linked.js"), api_visibility="private")
        gr.HTML(page.privacy_html(), js_on_load=None, elem_id="privacy")  # footer: questions are not stored
        results.cite(open_source, None, source, api_visibility="private").then(
            fn=None, js=AFTER_CITE_JS, api_visibility="private")
        gr.api(ask, api_name="ask", concurrency_limit=ASK_BATCH if ASK_BATCH > 1 else "default")
        gr.api(echo, api_name="echo")
    _bound_every_route(demo)
    quiet_input_errors(demo)  # a value refused by Gradio is never written to the log (it is a question)
    # /healthz, /readyz and /api/v1/ask (qa/serve/routes.py), served beside the page by `launch`.
    demo.ipt_routes = api_routes.routes(searcher, corpus_dir or default_corpus(),
                                        concurrency=CONCURRENCY, queue_size=QUEUE_SIZE)
    return demo


def _bound_every_route(demo: gr.Blocks) -> None:
    """Every route to the search goes through the queue: at most CONCURRENCY at once, QUEUE_SIZE waiting, 503
    past that. api_open=False closes the direct routes (/gradio_api/run/<name>, /gradio_api/api/<name>; 404),
    which otherwise ran any number of searches at once beside the queue (150 requests: 85 threads, 26 s)."""
    demo.queue(default_concurrency_limit=CONCURRENCY, max_size=QUEUE_SIZE, api_open=False)


def launch(demo: gr.Blocks, host: str = "127.0.0.1", port: int = 7860, **kw):
    """Serve the page locally with safe settings: no share link, no monitoring, no file access, no uploads,
    request bodies bounded (qa/serve/bodylimit.py), no tracebacks sent to the browser, and no run history
    (questions about one's mental health should not linger in a shared browser). Extra keywords (e.g.
    prevent_thread_lock=True) go to `Blocks.launch`."""
    from starlette.middleware import Middleware

    middleware = [Middleware(ClosedRoutes), Middleware(BodyLimit)]
    patch_gradio()  # qa/serve/gradio_patches.py
    limit_repeats()  # a client repeating one error cannot flood the log
    return demo.launch(server_name=host, server_port=port, share=False, enable_monitoring=False,
                       max_file_size="1mb", show_error=False, run_history=False, footer_links=["api", "settings"],
                       theme=THEME, css=CSS,
                       app_kwargs={"middleware": middleware, "routes": getattr(demo, "ipt_routes", [])},
                       state_session_capacity=SESSION_CAPACITY, **kw)


def main(host: str = "127.0.0.1", port: int = 7860, index_dir=None, corpus_dir=None) -> None:
    """Open the index (building it if missing or stale) and serve the page until interrupted."""
    corpus_dir = corpus_dir or default_corpus()
    searcher = open_searcher(index_dir, corpus_dir)
    launch(build_demo(searcher, corpus_dir), host=host, port=port)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description="Serve the IPT passage assistant's web page.")
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on (default: 127.0.0.1)")
    parser.add_argument("--port", type=int, default=7860, help="port to listen on (default: 7860)")
    args = parser.parse_args()
    main(host=args.host, port=args.port)

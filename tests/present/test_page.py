"""Rendering of the web page's HTML (qa.present.page): escaping, highlight placement, abstention, notices.

Fast: the tiny corpus with the fake embedder, or hand-made records."""

from __future__ import annotations

import html
import json
import re

import pytest

from qa.judge.safety import CRISIS_NOTICE
from qa.present import page, source_view
from qa.present.sources import load_source_docs
from qa.records import AlsoIn, Answer, Hit
from qa.retrieve.language import looks_non_english

ROOT = __import__("pathlib").Path(__file__).resolve().parents[2]

XSS = ['<img src=x onerror=alert(1)>', "<script>alert(1)</script>", '"><svg onload=alert(1)>',
       "${alert(1)}", "{{constructor.constructor('alert(1)')()}}"]


def _hit(text: str, start: int = 100, hl: tuple[int, int] | None = None, **kw) -> Hit:
    fields = dict(source_id="alpha", title="Alpha notes on IPT", path="corpus/alpha.txt", section="Who created IPT?",
                  start=start, end=start + len(text), line_start=3, line_end=5, rank=1, score=0.9,
                  similarity=0.6, label="strong", text=text, highlight={"start": hl[0], "end": hl[1]} if hl else {})
    fields.update(kw)
    return Hit(**fields)


def _marked(markup: str, cls: str) -> list[str]:
    """The unescaped text inside each <mark class="cls..."> element."""
    return [html.unescape(m) for m in re.findall(rf'<mark class="{cls}[^"]*"[^>]*>(.*?)</mark>', markup, re.S)]


def _no_live_markup(markup: str, payload: str) -> None:
    """The payload reaches the markup only as text: none of its tags does (and it is there, escaped)."""
    for tag in ("<img", "<script", "<svg"):
        assert tag not in markup.lower()
    assert html.escape(payload) in markup


# -- escaping ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("payload", XSS)
def test_question_is_escaped(tiny_searcher, payload):
    answer = tiny_searcher.ask(f"Who created IPT? {payload}")
    markup = page.answer_html(answer)
    _no_live_markup(markup, payload)
    assert html.escape(answer.question) in markup


@pytest.mark.parametrize("payload", XSS)
def test_passage_text_title_section_are_escaped(payload):
    text = f"Before {payload} & after."
    hit = _hit(text, hl=(100, 100 + len(text)), title=f"T {payload}", section=f"S {payload}", path=f"p{payload}")
    markup = page.card_html(hit)
    _no_live_markup(markup, payload)
    assert markup.count(html.escape(payload)) >= 3  # text, title, section (and path)


def test_abstention_reason_and_source_view_are_escaped():
    payload = XSS[0]
    answer = Answer(question=payload, abstained=True, reason=f"because {payload}", passages=[])
    _no_live_markup(page.answer_html(answer), payload)
    doc = source_view.SourceDoc(id="x", title=payload, path="corpus/x.txt", text=f"line one\n{payload}\n", url=payload,
                         links=(payload,), provenance=payload)
    markup = source_view.source_html(doc, 9, 9 + len(payload), 9, 9 + len(payload))
    _no_live_markup(markup, payload)
    assert _marked(markup, "ipt-cited") == [payload]


def test_only_web_addresses_become_links():
    assert page.link_html("https://example.org/a?b=1&c=2") == (
        '<a href="https://example.org/a?b=1&amp;c=2" target="_blank" rel="noopener noreferrer">'
        "https://example.org/a?b=1&amp;c=2</a>")
    for bad in ("javascript:alert(1)", " JavaScript:alert(1)", "data:text/html,<b>x</b>", "//evil.example/x"):
        assert "<a " not in page.link_html(bad)


# -- passage cards ----------------------------------------------------------------------------------------


def test_highlight_mark_wraps_exactly_the_highlight_span(tiny_searcher):
    answer = tiny_searcher.ask("Who created IPT?")
    assert answer.passages
    for hit in answer.passages:
        markup = page.highlighted_text_html(hit.text, hit.start, hit.highlight)
        a, b = hit.highlight["start"] - hit.start, hit.highlight["end"] - hit.start
        assert markup == (html.escape(hit.text[:a]) + '<mark class="ipt-hl">' + html.escape(hit.text[a:b])
                          + "</mark>" + html.escape(hit.text[b:]))
        assert html.unescape(re.sub(r"</?mark[^>]*>", "", markup)) == hit.text


def test_highlight_with_special_characters_and_offsets():
    text = "A <b> & B. The best sentence <here>. Tail"
    a = text.index("The best")
    b = text.index(". Tail") + 1
    markup = page.highlighted_text_html(text, 1000, {"start": 1000 + a, "end": 1000 + b})
    assert _marked(markup, "ipt-hl") == ["The best sentence <here>."]
    assert markup.startswith("A &lt;b&gt; &amp; B. <mark")


def test_highlight_missing_or_out_of_range_is_safe():
    assert page.highlighted_text_html("plain <text>", 5, {}) == "plain &lt;text&gt;"
    assert _marked(page.highlighted_text_html("abcdef", 10, {"start": 0, "end": 13}), "ipt-hl") == ["abc"]
    assert "<mark" not in page.highlighted_text_html("abcdef", 10, {"start": 30, "end": 40})


def test_card_is_headed_by_its_section_and_names_its_source():
    hit = _hit("Gerald Klerman and Myrna Weissman created it.", hl=(100, 145))
    markup = page.card_html(hit)
    heading = re.search(r'<h2 class="ipt-title">(.*?)</h2>', markup).group(1)
    assert re.sub(r"<[^>]+>.*?</span>", "", heading) == "Who created IPT?"
    assert '<p class="ipt-from">From: Alpha notes on IPT</p>' in markup
    assert ">strong match<" in markup
    assert ('data-source="alpha" data-start="100" data-end="145" data-hl-start="100" data-hl-end="145"'
            in markup)
    # A section that only repeats the title is not said twice: the title heads the card.
    same = page.card_html(_hit("x", section="Alpha notes on IPT"))
    assert ">Alpha notes on IPT</h2>" in same and "ipt-from" not in same


def test_card_folds_file_offsets_and_scores_behind_details():
    markup = page.card_html(_hit("Gerald Klerman created it.", hl=(100, 126), score=0.9, similarity=0.61))
    visible, details = markup.split('<details class="ipt-details">')
    for technical in ("corpus/alpha.txt", "lines 3–5", "0.90", "0.61", "100–126"):
        assert technical not in visible
        assert technical in details
    assert "title=" not in markup  # no score in a tooltip either


def test_details_say_what_the_score_is_out_of():
    details = page.card_html(_hit("x", score=0.9)).split('<details class="ipt-details">')[1]
    assert "<dt>Score</dt><dd>0.90 of 1 (1: first by keywords and by meaning" in details


@pytest.mark.parametrize("label", ["strong", "good", "partial"])
def test_relevance_is_the_record_label_in_words(label):
    markup = page.card_html(_hit("x", similarity=0.2 if label == "strong" else 0.9, label=label))
    assert f'<span class="ipt-rel ipt-rel-{label}">{label} match</span>' in markup


@pytest.mark.parametrize("label", ["", "bogus"])
def test_a_record_without_a_label_is_never_shown_above_partial_whatever_its_similarity(label):
    """One rule: the similarity cut-offs (0.55 strong, 0.40 good) are no second way to a label."""
    assert page.relevance_label(_hit("x", similarity=0.9, label=label)) == "partial"


def test_also_in_line_lists_the_other_sources_with_their_own_citations():
    twin = AlsoIn(source_id="beta", title="Beta <guide>", path="corpus/beta.md", section="", start=7, end=30,
                  line_start=2, line_end=2, text="same statement", highlight={"start": 9, "end": 20})
    markup = page.card_html(_hit("statement", also_in=[twin]))
    assert "Also stated in:" in markup
    assert ">Beta &lt;guide&gt;</button>" in markup
    assert 'data-source="beta" data-start="7" data-end="30" data-hl-start="9" data-hl-end="20"' in markup
    assert "Also stated in" not in page.card_html(_hit("statement"))


def test_answer_lists_cards_best_first(tiny_searcher):
    answer = tiny_searcher.ask("How long does IPT last?", k=3)
    markup = page.answer_html(answer)
    ranks = [int(r) for r in re.findall(r'<article class="ipt-card" data-rank="(\d+)"', markup)]
    assert ranks == [h.rank for h in answer.passages] == list(range(1, len(answer.passages) + 1))
    assert "Nothing in the sources" not in markup


# -- abstention, notices, warnings ------------------------------------------------------------------------


def test_abstention_message_offers_examples_and_coverage():
    reason = "nothing in the sources is close to this question (best similarity 0.05, below 0.49)"
    answer = Answer(question="What is the capital of France?", abstained=True, reason=reason, passages=[])
    markup = page.answer_html(answer)
    assert "Nothing in the sources answers this question." in markup
    assert html.escape(page.COVERAGE) in markup
    for q in page.EXAMPLE_QUESTIONS:
        assert f'data-question="{html.escape(q)}"' in markup
    assert "ipt-card" not in markup
    # "Why?" is said for a learner; the library's figures sit one control further in.
    why = markup.split("<summary>Why?</summary>")[1]
    learner, technical = why.split("<summary>Technical detail</summary>")
    assert html.escape(page.with_count(page.WHY_NOT_CLOSE, None)) in learner and "0.05" not in learner
    assert html.escape(reason) in technical
    assert "The sources are in English" not in markup


@pytest.mark.parametrize("question", ["¿Quién creó la psicoterapia interpersonal?",
                                      "Qu'est-ce que la psychothérapie interpersonnelle ?",
                                      "Wer hat die IPT entwickelt?", "Quanto tempo dura a IPT?",
                                      "من أنشأ العلاج النفسي الشخصي؟", "מי יצר את הטיפול הבין-אישי?",
                                      "人际心理治疗是谁创立的？", "Что такое интерперсональная психотерапия?"])
def test_a_question_in_another_language_is_told_the_sources_are_english(question):
    assert looks_non_english(question)
    markup = page.answer_html(Answer(question=question, abstained=True, reason="r", passages=[]))
    assert "The sources are in English: please ask in English." in markup
    assert html.escape(page.with_count(page.WHY_NOT_ENGLISH, None)) in markup
    answered = page.answer_html(Answer(question=question, abstained=False, reason=None, passages=[_hit("x")]))
    assert html.escape(page.NOT_ENGLISH_NOTE) in answered


def test_no_english_question_of_the_gold_set_counts_as_another_language():
    rows = [json.loads(line) for line in (ROOT / "eval" / "gold.jsonl").open(encoding="utf-8") if line.strip()]
    english = [r["question"] for r in rows if r.get("kind") != "other-language"]
    assert len(english) > 100
    assert [q for q in english if looks_non_english(q)] == []
    # ... and the questions written in other languages are told so (the sources are English only).
    other = [r["question"] for r in rows if r.get("kind") == "other-language"]
    assert other and [q for q in other if not looks_non_english(q)] == []


def test_crisis_notice_is_an_alert_above_the_passages(tiny_searcher):
    answer = tiny_searcher.ask("I think about suicide. Who created IPT?")
    assert answer.notice == CRISIS_NOTICE and answer.passages
    markup = page.answer_html(answer)
    assert markup.startswith('<div class="ipt-results"><div class="ipt-notice" role="alert" tabindex="-1">')
    notice_at = markup.index('class="ipt-notice"')
    assert notice_at < markup.index("ipt-card") and notice_at < markup.index("ipt-asked")
    assert markup.count('role="alert"') == 1  # nothing else competes to be announced first


def test_crisis_numbers_are_tel_links():
    markup = page.notice_html(CRISIS_NOTICE)
    assert re.findall(r'<a href="(tel:[^"]+)">([^<]+)</a>', markup) == [
        ("tel:911", "911"), ("tel:112", "112"), ("tel:999", "999"), ("tel:988", "988"), ("tel:116123", "116 123")]
    assert html.unescape(re.sub(r"<[^>]+>", "", markup)) == "Need help now?" + CRISIS_NOTICE
    assert page.phone_links_html("call <b>112</b> now") == 'call &lt;b&gt;<a href="tel:112">112</a>&lt;/b&gt; now'


def test_crisis_abstention_has_no_example_buttons_under_the_notice():
    answer = Answer(question="I want to die", abstained=True, reason="r", passages=[], notice=CRISIS_NOTICE)
    markup = page.answer_html(answer)
    assert markup.index("ipt-notice") < markup.index("ipt-abstain")
    assert "data-question" not in markup and "ipt-example" not in markup
    assert "Nothing in the sources answers this question." in markup


def test_no_notice_for_an_ordinary_question(tiny_searcher):
    assert "ipt-notice" not in page.answer_html(tiny_searcher.ask("Who created IPT?"))


def test_warnings_are_shown():
    answer = Answer(question="q", abstained=True, reason=None, passages=[], warnings=["the question was <cut>"])
    assert '<div class="ipt-msg ipt-msg-warning"><p>the question was &lt;cut&gt;</p></div>' in page.answer_html(answer)


def test_weak_match_warning_is_said_in_words_with_figures_folded():
    raw = "weak match (best similarity 0.52): these passages may not answer the question"
    markup = page.warning_html(raw)
    visible, folded = markup.split("<details")
    assert html.escape(page.WEAK_MATCH) in visible and "0.52" not in visible
    assert html.escape(raw) in folded


def test_question_is_shown_with_its_own_direction():
    markup = page.answer_html(Answer(question="מה זה IPT?", abstained=True, reason=None, passages=[]))
    assert '<q dir="auto">מה זה IPT?</q>' in markup


def test_disclaimer_says_learning_not_medical_advice():
    markup = page.disclaimer_html(5)
    assert "from five web sources" in markup and "not medical advice" in markup


@pytest.mark.parametrize("n,words", [(6, "six"), (1, "one"), (13, "13"), (None, "")])
def test_the_page_says_how_many_sources_there_are_not_a_fixed_five(n, words):
    """`ipt-qa add` makes a sixth source; the page said "five sources" in three places."""
    counted = f"{words} " if words else ""
    assert f"from {counted}web sources" in page.disclaimer_html(n)
    refused = Answer(question="What is the capital of France?", abstained=True, reason="r", passages=[])
    assert f"No passage in the {counted}sources came close" in page.answer_html(refused, sources=n)
    foreign = Answer(question="Wer hat die IPT entwickelt?", abstained=True, reason="r", passages=[])
    assert f"The {counted}sources are all in English" in page.answer_html(foreign, sources=n)


def test_the_page_header_counts_the_sources_of_its_index(tiny_searcher, tiny_corpus):
    import app

    demo = app.build_demo(tiny_searcher, tiny_corpus)
    intro = next(b for b in demo.blocks.values() if getattr(b, "elem_id", None) == "intro")
    assert len(tiny_searcher.index.sources) == 2 and "from two web sources" in intro.value


# -- the source view --------------------------------------------------------------------------------------


def test_source_view_highlights_exactly_the_cited_passage(tiny_searcher):

    docs = load_source_docs(tiny_searcher)  # found through the index's own source paths
    assert set(docs) == set(tiny_searcher.index.sources)
    for hit in tiny_searcher.ask("What problem areas does IPT work on?", k=5).passages:
        doc = docs[hit.source_id]
        assert doc.text[hit.start:hit.end] == hit.text
        markup = source_view.source_html(doc, hit.start, hit.end, hit.highlight["start"], hit.highlight["end"])
        # Every piece of the span is marked (split only at line ends), the first one is the scroll anchor.
        assert "".join(_marked(markup, "ipt-cited")) == hit.text.replace("\n", "")
        assert markup.count('id="cited"') == 1
        assert re.search(r'<mark class="ipt-cited[^"]*" id="cited">', markup)
        best = doc.text[hit.highlight["start"]:hit.highlight["end"]]
        assert "".join(_marked(markup, "ipt-cited ipt-best")) == best.replace("\n", "")
        # The whole source is there, line by line, with line numbers.
        whole = markup.split('<div class="ipt-source-text"')[1].split(">", 1)[1]
        whole = re.sub(r'<span class="ipt-ln"[^>]*>\d+</span>', "", whole)
        assert html.unescape(re.sub(r"<[^>]+>", "", whole)) == doc.text.replace("\n", "")
        assert f"{hit.path}, {page.lines_label(hit.line_start, hit.line_end)}" in markup.split("<details")[1]


def test_source_view_shows_address_and_links():
    doc = source_view.SourceDoc(id="a", title="A", path="corpus/a.txt", text="one\ntwo\n", url="https://example.org/a",
                         links=("https://example.org/b", "http://x.example/c..."))
    markup = source_view.source_html(doc, 4, 7, 4, 7)
    assert 'Original page: <a href="https://example.org/a"' in markup
    assert markup.count('rel="noopener noreferrer"') == 3
    assert "line 2" in markup
    no_url = source_view.source_html(source_view.SourceDoc(id="b", title="B", path="b", text="x"), 0, 1, 0, 1)
    assert "not recorded" in no_url and "<a " not in no_url


def test_source_view_has_a_way_back_and_a_focusable_title_and_folds_offsets():
    doc = source_view.SourceDoc(id="a", title="A <title>", path="corpus/a.txt", text="one\ntwo\n", provenance="saved")
    markup = source_view.source_html(doc, 4, 7, 4, 7)
    assert '<h2 class="ipt-source-title" tabindex="-1">A &lt;title&gt;</h2>' in markup
    assert '<button type="button" class="ipt-back" data-back="1">Back to the passage</button>' in markup
    head, details = markup.split('<details class="ipt-details">', 1)
    assert "corpus/a.txt" not in head and "characters" not in head.lower()
    assert "corpus/a.txt, line 2" in details and "4–7" in details and "saved" in details

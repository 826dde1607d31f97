""""The sources also answer": question lines of the sources near the shown passages, from the whole corpus after a
refusal, never under the crisis notice; and the page's markup for them, for citations and for a long question."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

from qa.present import page, suggest
from qa.records import Answer, Hit


def passage(source_id: str, start: int, text: str):
    return SimpleNamespace(source_id=source_id, start=start, text=text)


INDEX = SimpleNamespace(directory=Path("/nowhere/build-1"), manifest={"topic": {"aliases": ["IPT"]}}, passages=[
    passage("a", 0, "What is IPT?\n\nIPT is a talking treatment."),
    passage("a", 50, "Who created IPT?\n\nKlerman and Weissman."),
    passage("a", 100, "How long does IPT last?\n\nTwelve to sixteen weeks."),
    passage("a", 150, "What are the interpersonal skills?\n\nListening."),  # does not name the topic
    passage("a", 200, "Is IPT covered by insurance?\n\nOften."),
    passage("b", 0, "Can IPT be done in groups?\n\nYes, with six to eight members."),
    passage("b", 60, "Does IPT work for teenagers?\n\nTwo trials say so."),
])


def hit(source_id: str, start: int) -> Hit:
    return Hit(source_id=source_id, title="T", path="p", section="", start=start, end=start + 10, line_start=1,
               line_end=1, rank=1)


def test_questions_near_the_shown_passages_leave_out_what_they_answer():
    answer = Answer("who made ipt", False, None, [hit("a", 50)])
    # Nearest first, in the same source only, at most NEAR passages away (row 4 is three away); the shown
    # passage's own question and lines that do not name the topic are left out.
    assert suggest.next_questions(INDEX, answer) == ["How long does IPT last?", "What is IPT?"]
    assert suggest.next_questions(INDEX, Answer("q", False, None, [hit("a", 100)])) == [
        "Who created IPT?", "Is IPT covered by insurance?", "What is IPT?"]
    asked_already = Answer("How long does IPT last", False, None, [hit("a", 50)])
    assert "How long does IPT last?" not in suggest.next_questions(INDEX, asked_already)


def test_never_under_the_crisis_notice_and_from_the_whole_corpus_after_a_refusal():
    crisis = Answer("i want to die, who made ipt", False, None, [hit("a", 50)], notice="Call 988")
    assert suggest.for_answer(INDEX, crisis) == []
    refused = Answer("capital of France", True, "nothing close", [])
    assert suggest.for_answer(INDEX, refused) == ["What is IPT?", "Can IPT be done in groups?", "Who created IPT?",
                                                  "Does IPT work for teenagers?", "How long does IPT last?"]
    html = page.answer_html(refused, suggest.for_answer(INDEX, refused))
    assert 'data-question="Can IPT be done in groups?"' in html and page.EXAMPLE_QUESTIONS[3] not in html
    refused_crisis = Answer("i want to die", True, "nothing close", [], notice="Call 988")
    assert "data-question" not in page.answer_html(refused_crisis, ["What is IPT?"])


def test_answer_page_shows_the_suggestions_and_a_cite_control_per_card():
    h = hit("a", 50)
    h.text = "Who created IPT?"
    h.citation = {"apa": "Park, J. (2024). <b>x</b>. No address recorded.", "mla": "Park, James. M.",
                  "in_text": "(Park, 2024)", "footnote": "\u201cWho created IPT?\u201d (T, line 1)."}
    html = page.answer_html(Answer("who made ipt", False, None, [h]), ["What is IPT?"])
    assert html.count('class="ipt-cite-this"') == 1 and "&lt;b&gt;x&lt;/b&gt;" in html
    assert 'data-copy="apa"' in html and 'data-copy="mla"' in html and 'data-copy="footnote"' in html
    assert '<nav class="ipt-suggest" aria-label="The sources also answer">' in html
    assert html.index("ipt-cite-this") < html.index("ipt-suggest")


def test_a_long_question_is_echoed_folded():
    question = "How long does IPT last " * 90  # about 2,000 characters
    html = page.asked_html(question)
    shown = html.split("<q dir=\"auto\">")[1].split("</q>")[0]
    assert len(shown) <= page.ECHO_CHARS + 1 and shown.endswith("\u2026")
    assert "Show the whole question" in html and html.count("How long does IPT last") > 80
    assert "<details" not in page.asked_html("Who created IPT?")


def test_with_a_question_bank_the_suggestions_and_the_menu_come_from_it():
    import numpy as np

    from qa.index.bank import BankIndex
    from qa.present.askmenu import ask_menu_html

    bank = BankIndex(["how long does ipt last", "ipt lenght", "who made it", "how do i sign up",
                      "how does ipt compare with yoga", "is ipt covered by insurance"],
                     ["answer", "answer", "answer", "answer", "near-miss", "answer"], ["a"] * 6,
                     np.array([2, 2, 1, -1, -1, 4], dtype=np.int64), np.zeros((6, 3), dtype=np.float32))
    index = SimpleNamespace(**{**vars(INDEX), "directory": Path("/nowhere/build-bank"), "bank": bank,
                               "vocabulary": {"ipt"},
                               "sources": {"a": SimpleNamespace(title="Alpha"), "b": SimpleNamespace(title="Beta")}})
    for p, section in zip(index.passages, ["One", "One", "Two", "Two", "Two", "Three", "Three"], strict=True):
        p.section = section
    # From the bank: written out ("How long does IPT last?"), not the typo row; never a near-miss or a row
    # outside every passage; under the passage's neighbours as before.
    assert suggest.next_questions(index, Answer("who made ipt", False, None, [hit("a", 50)])) == [
        "How long does IPT last?"]  # row 4 is three passages away
    assert suggest.for_answer(index, Answer("capital of France", True, "x", [])) == [
        "How long does IPT last?", "Is IPT covered by insurance?"]
    assert suggest.menu(index) == [("Alpha", [("Two", ["How long does IPT last?", "Is IPT covered by insurance?"])])]
    html = ask_menu_html(suggest.menu(index))
    assert html.startswith('<details class="ipt-menu"><summary>What can I ask?')
    assert 'data-question="How long does IPT last?"' in html and "lenght" not in html
    assert ask_menu_html([]) == ""

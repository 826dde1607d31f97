"""The rule as learners meet it, through the Searcher: nothing to search for is refused before the model is
asked; with the real model, outcome, labels, warning and refusal agree on every gold question."""

from __future__ import annotations

from pathlib import Path

import pytest

from qa.evaluate.gold import load_gold
from qa.judge.searchable import NO_WORDS

ROOT = Path(__file__).resolve().parents[2]
RANK = {"strong": 0, "good": 1, "partial": 2}


@pytest.mark.parametrize("question", ["😀😀😀🙏", "?????", "k"])
def test_nothing_to_search_for_is_refused_without_a_model_call(tiny_searcher, question):
    from qa.settings import Settings

    tiny_searcher.settings = Settings()  # the rule on (the fake embedder's fixture turns it off)
    calls = tiny_searcher.embedder.calls
    answer = tiny_searcher.ask_many([question])[0]
    assert answer.outcome == "refused" and answer.abstained and answer.passages == []
    assert answer.reason == NO_WORDS
    assert tiny_searcher.embedder.calls == calls


def test_outcome_labels_and_warning_agree_on_every_gold_question(real_searcher):
    questions = [q.question for q in load_gold(ROOT / "eval" / "gold.jsonl")]
    for a in real_searcher.ask_many(questions, k=5):
        labels = [h.label for h in a.passages]
        weak = [w for w in a.warnings if w.startswith("weak match")]
        assert a.outcome in ("answered", "may-not-answer", "refused"), a.question
        assert (a.outcome == "refused") == a.abstained == (not a.passages), a.question
        assert (a.outcome == "answered") == bool(labels and labels[0] in ("strong", "good")), a.question
        assert (a.outcome == "may-not-answer") == bool(weak), a.question
        assert a.outcome != "may-not-answer" or set(labels) == {"partial"}, a.question
        assert all(RANK[x] >= RANK[labels[0]] for x in labels), a.question
        assert a.to_dict()["outcome"] == a.outcome


@pytest.mark.parametrize("question", ["who made ipt", "Who created IPT?", "who came up with this therapy"])
def test_readme_examples_about_who_created_ipt_are_not_refused(real_searcher, question):
    answer = real_searcher.ask(question, k=3)
    assert answer.outcome != "refused", answer.reason
    assert any("Klerman" in h.text for h in answer.passages)


def test_a_crisis_question_the_sources_may_not_answer_is_refused_under_the_notice(real_searcher):
    answer = real_searcher.ask("I want to die")
    assert answer.notice and answer.outcome == "refused" and answer.passages == []


def test_a_gated_question_keeps_its_cleaned_text(tiny_searcher):
    from qa.settings import Settings

    tiny_searcher.settings = Settings()
    answer = tiny_searcher.ask_many(["\ud8ff????\x00"])[0]
    assert answer.outcome == "refused" and "\ud8ff" not in answer.question and "\x00" not in answer.question


@pytest.mark.parametrize("question", ["Who created IPT? I want to die", "I want to die 😀😀"])
def test_an_ask_cleans_its_question_once_and_looks_for_a_crisis_once(tiny_searcher, monkeypatch, question):
    """clean_question ran twice per ask and crisis_notice up to three times."""
    import qa.search
    from qa.settings import Settings

    tiny_searcher.settings = Settings()
    calls = {"clean": 0, "crisis": 0}

    def counted(name, fn):
        def wrapper(*a, **kw):
            calls[name] += 1
            return fn(*a, **kw)
        return wrapper

    monkeypatch.setattr(qa.search, "clean_question", counted("clean", qa.search.clean_question))
    monkeypatch.setattr(qa.search, "crisis_notice", counted("crisis", qa.search.crisis_notice))
    answer = tiny_searcher.ask(question)
    assert answer.notice and calls == {"clean": 1, "crisis": 1}

"""Page furniture: detected on passages, ranked after content unless the question asks for it."""

from __future__ import annotations

import pytest

from qa.ingest.furniture import AUTHOR, LINKS, SIGNUP, asks_for, furniture_kind


@pytest.mark.parametrize("section, text, kind", [
    ("Sources", "Sources\nhttps://www.webmd.com/x\nhttps://www.healthline.com/y", LINKS),
    ("Constraints", "For more information on this treatment, visit:\nPsychotherapy – Cleveland Clinic\n"
                    "http://my.clevelandclinic.org/health", LINKS),
    ("Link to video below", "Link to video below:\n\nhttps://www.youtube.com/watch?v=s7Ltk2cs9ZA", LINKS),
    ("About the author", "Dr. James Park is a medical doctor and health expert with a focus on prevention.", AUTHOR),
    ("About this page", "by | Last updated on January 24, 2024", AUTHOR),
    ("", "Sign up now. Already a member? Log in. Continue with Google", SIGNUP),
    ("Applications", "IPT has been integrated into outpatient clinics, hospitals and community centres.", None),
    ("Who created IPT?", "Gerald L. Klerman and Myrna M. Weissman initially created IPT.", None),
])
def test_furniture_kinds(section, text, kind):
    assert furniture_kind(section, text) == kind


@pytest.mark.parametrize("question, kind, asked", [
    ("where can i read more about this", LINKS, True),
    ("what sources does the article use", LINKS, True),
    ("how long does it last", LINKS, False),
    ("who wrote this", AUTHOR, True),
    ("when was this last updated", AUTHOR, True),
    ("who created ipt", AUTHOR, False),
    ("who wrote this article", LINKS, False),
])
def test_questions_that_ask_for_furniture(question, kind, asked):
    assert asks_for(question, kind) is asked


@pytest.mark.model
def test_furniture_never_outranks_content_unless_asked(real_searcher):
    def furniture_ranks(question):
        a = real_searcher.ask(question, k=10)
        return [h.rank for h in a.passages if furniture_kind(h.section, h.text)], len(a.passages)

    ranks, n = furniture_ranks("what treatments for depression are there")
    assert all(r > n - len(ranks) for r in ranks)  # furniture, if shown at all, only after every content card
    assert furniture_ranks("where can i read more about this")[0][:1] == [1]
    first = real_searcher.ask("who wrote this article", k=3).passages[0]
    assert "James Park" in first.text

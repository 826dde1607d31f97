"""The corpus's topic: declared in sources.toml or derived from the titles, and how a question names it."""

from __future__ import annotations

import pytest

from qa.errors import CorpusError
from qa.ingest.corpus import read_corpus
from qa.ingest.topic import Topic, topic_from

TITLES = ["The purpose of Interpersonal Psychotherapy (IPT)", "What Is The Focus Of IPT?",
          "Interpersonal therapy (IPT) for Depression | MyDepressionTeam", "Understanding Interpersonal Therapy (IPT)"]
IPT = Topic("Interpersonal Psychotherapy (IPT)", ("IPT", "interpersonal therapy"))


@pytest.mark.parametrize("question, named", [
    ("how long does ipt last", True),
    ("what is interpersonal therapy", True),
    ("how many sessions are there", False),
    ("is it short-term", False),
    ("what is psychotherapy", False),  # a shared word, not the topic's own mark
    ("how does schema therapy work", False),
])
def test_a_question_names_the_topic_by_its_distinctive_words(question, named):
    assert IPT.named_in(question) is named


def test_the_declared_topic_wins_over_the_titles():
    t = topic_from({"name": "Stoic philosophy", "aliases": ["stoicism"]}, TITLES)
    assert t.name == "Stoic philosophy" and t.named_in("what is stoicism") and not t.named_in("what is ipt")


def test_without_a_declaration_the_words_most_titles_share_stand_in():
    t = topic_from(None, TITLES)
    assert t is not None and t.named_in("is ipt evidence based") and t.named_in("interpersonal what?")
    assert not t.named_in("how long is each session")


def test_titles_that_share_nothing_give_no_topic():
    assert topic_from(None, ["Bread", "Cars", "Tides"]) is None


def test_the_corpus_manifest_declares_the_topic_and_the_index_records_it(tiny_corpus, tmp_path, fake_embedder):
    from qa.index.build import build_index
    from qa.index.load import load_index
    from qa.search import Searcher
    from qa.settings import Settings

    manifest = tiny_corpus / "sources.toml"
    manifest.write_text('[topic]\nname = "Tidal power"\naliases = ["tides"]\n\n' + manifest.read_text("utf-8"),
                        encoding="utf-8")
    assert read_corpus(tiny_corpus).topic == {"name": "Tidal power", "aliases": ["tides"]}
    settings = Settings(abstain=False)
    build_index(tiny_corpus, tmp_path / "ix", fake_embedder, settings)
    searcher = Searcher(load_index(tmp_path / "ix", tiny_corpus, settings=settings), fake_embedder, settings)
    assert searcher.topic.name == "Tidal power"
    assert searcher.query.implicit("how strong are they") and not searcher.query.implicit("are tides strong")


@pytest.mark.parametrize("table, message", [
    ('[topic]\naliases = ["x"]\n', "needs name"),
    ('[topic]\nname = "T"\naliases = "x"\n', "aliases must be a list"),
])
def test_a_broken_topic_table_is_named(tiny_corpus, table, message):
    manifest = tiny_corpus / "sources.toml"
    manifest.write_text(table + "\n" + manifest.read_text("utf-8"), encoding="utf-8")
    with pytest.raises(CorpusError, match=message):
        read_corpus(tiny_corpus)

"""Search: ranked, cited hits in every mode, the source filter, hostile input, the crisis notice (fast, on the
tiny corpus with the fake embedder); then the real corpus with the real model (marked `model`): the answer to a
known question, exact citations, abstention, grouping and the JSON record of DESIGN.md."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from qa.retrieve.query import MODES, QuestionError

ROOT = Path(__file__).resolve().parents[2]


def file_slice(path: str, start: int, end: int) -> str:
    return Path(path).read_text(encoding="utf-8")[start:end]


def passage_of(searcher, hit):
    found = [p for p in searcher.index.passages if (p.source_id, p.start, p.end) == (hit.source_id, hit.start, hit.end)]
    assert len(found) == 1, f"hit {hit.source_id} [{hit.start}:{hit.end}] is not one passage of the index"
    return found[0]


def check_citation(c) -> None:
    """A hit or an also_in entry points at exactly the text it quotes."""
    full = Path(c.path).read_text(encoding="utf-8")
    assert c.text == full[c.start:c.end]
    assert c.line_start == full.count("\n", 0, c.start) + 1
    assert c.line_end == full.count("\n", 0, c.end) + 1
    assert c.start <= c.highlight["start"] < c.highlight["end"] <= c.end


def check_answer(searcher, ans, k: int) -> None:
    assert [h.rank for h in ans.passages] == list(range(1, len(ans.passages) + 1))
    assert len(ans.passages) <= k
    scores = [h.score for h in ans.passages]
    assert scores == sorted(scores, reverse=True)
    for h in ans.passages:
        check_citation(h)
        p = passage_of(searcher, h)
        assert (h.highlight["start"], h.highlight["end"]) in p.sentences
        assert h.section == p.section
        assert h.title == searcher.index.sources[h.source_id].title
        for a in h.also_in:
            check_citation(a)
    json.dumps(ans.to_dict(), ensure_ascii=False).encode("utf-8")  # printable as UTF-8 JSON


# --- tiny corpus, fake embedder ---------------------------------------------------------------------------------

@pytest.mark.parametrize("mode", MODES)
def test_every_mode_returns_ranked_cited_hits(tiny_searcher, mode):
    ans = tiny_searcher.ask("Who created IPT?", k=3, mode=mode)
    assert not ans.abstained and ans.reason is None and ans.mode == mode
    assert len(ans.passages) == 3
    check_answer(tiny_searcher, ans, k=3)
    top = ans.passages[0]
    assert top.source_id == "alpha" and "Gerald Klerman and Myrna Weissman" in top.text
    assert file_slice(top.path, top.highlight["start"], top.highlight["end"]) == \
        "Gerald Klerman and Myrna Weissman created interpersonal psychotherapy for depression."


@pytest.mark.parametrize("k", [1, 2])
def test_k_bounds_the_number_of_hits(tiny_searcher, k):
    ans = tiny_searcher.ask("IPT therapy sessions", k=k)
    assert len(ans.passages) == k
    check_answer(tiny_searcher, ans, k)


@pytest.mark.parametrize("sources, question", [
    (["beta"], "Who created IPT?"),  # the best answer is in alpha: filtered out
    (["alpha"], "role disputes grief social isolation"),  # ... and this one's in beta
])
def test_sources_filter_restricts_results(tiny_searcher, sources, question):
    unfiltered = tiny_searcher.ask(question, k=4)
    assert {h.source_id for h in unfiltered.passages} - set(sources), "the question must find other sources too"
    ans = tiny_searcher.ask(question, k=4, sources=sources)
    assert ans.passages
    check_answer(tiny_searcher, ans, k=4)
    for h in ans.passages:
        assert h.source_id in sources
        assert all(a.source_id in sources for a in h.also_in)


def test_unknown_source_is_a_question_error(tiny_searcher):
    with pytest.raises(QuestionError, match="nope"):
        tiny_searcher.ask("Who created IPT?", sources=["nope"])
    with pytest.raises(QuestionError):
        tiny_searcher.ask_many(["Who created IPT?"], sources=["alpha", "nope"])


@pytest.mark.parametrize("kwargs", [{"k": 0}, {"k": 51}, {"mode": "fuzzy"}])
def test_bad_k_or_mode_is_a_question_error(tiny_searcher, kwargs):
    with pytest.raises(QuestionError):
        tiny_searcher.ask("Who created IPT?", **kwargs)


@pytest.mark.parametrize("question", ["", "   ", "\t\n", "\x00\x01", "\u200b\u200b", "\ufeff"])
def test_empty_question_raises_from_ask(tiny_searcher, question):
    with pytest.raises(QuestionError, match="empty"):
        tiny_searcher.ask(question)


def test_empty_question_in_a_batch_abstains_and_the_batch_goes_on(tiny_searcher):
    questions = ["Who created IPT?", "", "How long does IPT last?", "   \t ", "Is therapy expensive?"]
    answers = tiny_searcher.ask_many(questions, k=2)
    assert len(answers) == len(questions)
    for q, ans in zip(questions, answers, strict=False):
        if q.strip():
            assert ans.question == q and not ans.abstained and ans.passages
            check_answer(tiny_searcher, ans, k=2)
        else:
            assert ans.abstained and ans.passages == []
            assert isinstance(ans.reason, str) and "empty" in ans.reason
    assert "Klerman" in answers[0].passages[0].text
    assert "12 to 16" in answers[2].passages[0].text
    assert "expensive" in answers[4].passages[0].text


def test_batch_uses_one_model_call(tiny_searcher):
    emb = tiny_searcher.embedder
    before = emb.calls
    tiny_searcher.ask_many(["question one about IPT", "question two about grief", ""], k=1)
    assert emb.calls == before + 1


def test_overlong_question_is_cut_with_a_warning(tiny_searcher):
    limit = tiny_searcher.settings.max_question_chars
    question = "Who created IPT? " + "Tell me more about interpersonal psychotherapy please. " * 60
    assert len(question) > 3 * limit
    ans = tiny_searcher.ask(question)
    assert len(ans.question) <= limit
    assert question.startswith(ans.question)
    assert any("only its first" in w and f"{len(question):,}" in w for w in ans.warnings), ans.warnings
    assert ans.passages and ans.passages[0].source_id == "alpha"
    check_answer(tiny_searcher, ans, k=5)


def test_question_within_the_limit_has_no_length_warning(tiny_searcher):
    ans = tiny_searcher.ask("Who created IPT?")
    assert not any("characters long" in w for w in ans.warnings)


@pytest.mark.parametrize("question", [
    "\x00Who\x00 created IPT?",
    "Who created IPT?\ud800",
    "\ud800",
    "\udcff\udcfe IPT",
    "Who \x1b[31mcreated\x1b[0m IPT?",
    "\u202eWho created IPT?\u202c",
    "من أنشأ العلاج IPT؟",
    "🙂 Who created IPT? 🤔🏽",
    "Who\u200b created\u2028IPT?\u00a0",
    "ﬁ Ｗｈｏ ｃｒｅａｔｅｄ ＩＰＴ",  # compatibility characters
])
def test_hostile_characters_do_not_crash(tiny_searcher, question):
    answers = tiny_searcher.ask_many([question, "Who created IPT?"], k=2)
    assert len(answers) == 2
    ans = answers[0]
    assert "\x00" not in ans.question and "\x1b" not in ans.question
    ans.question.encode("utf-8")  # no lone surrogate is passed on
    if ans.abstained:
        assert ans.reason
    check_answer(tiny_searcher, ans, k=2)
    assert answers[1].passages[0].source_id == "alpha"


@pytest.mark.parametrize("question", [
    "I want to kill myself",
    "thoughts of self-harm",
    "Does IPT help people who feel suicidal?",
    "I keep thinking about ending my life",
])
def test_crisis_notice_is_set(tiny_searcher, question):
    ans = tiny_searcher.ask(question)
    assert ans.notice and "988" in ans.notice
    assert ans.to_dict()["notice"] == ans.notice


@pytest.mark.parametrize("question", ["who created IPT", "how long does IPT last", "skills to kill time"])
def test_no_crisis_notice_for_ordinary_questions(tiny_searcher, question):
    assert tiny_searcher.ask(question).notice is None


def test_question_with_no_known_word_in_keyword_mode_finds_nothing(tiny_searcher):
    ans = tiny_searcher.ask("zzzz qqqq", mode="bm25")
    assert ans.abstained and ans.reason and ans.passages == []


# --- real corpus, real model ----------------------------------------------------------------------------------

CONTRACT_TOP = {"question", "abstained", "outcome", "reason", "passages"}
CONTRACT_PASSAGE = {"rank", "score", "source_id", "title", "path", "section", "start", "end", "line_start",
                    "line_end", "text", "highlight", "also_in"}
CONTRACT_ALSO_IN = CONTRACT_PASSAGE - {"rank", "score", "also_in"}
# Fields added beyond DESIGN.md's example; anything else appearing is a change of the contract.
EXTRA_TOP = {"warnings", "notice", "mode"}
EXTRA_PASSAGE = {"similarity", "label", "url", "citation"}

REAL_QUESTIONS = [
    "Who created interpersonal psychotherapy?",
    "how many sessions does IPT last",
    "what problems does IPT help with",
    "is IPT effective for depression",
    "Can IPT be combined with antidepressant medication?",
    "what happens during the initial assessment",
    "role transitions and grief",
]


@pytest.fixture(scope="module")
def real_answers(real_searcher):
    return real_searcher.ask_many(REAL_QUESTIONS, k=10)


@pytest.mark.model
def test_who_created_ipt(real_searcher):
    ans = real_searcher.ask("Who created interpersonal psychotherapy?")
    assert not ans.abstained
    top = ans.passages[0]
    assert "Klerman" in top.text and "Weissman" in top.text
    check_answer(real_searcher, ans, k=5)
    # The highlighted sentence is the whole one naming both creators, not a fragment cut at an initial.
    assert file_slice(top.path, top.highlight["start"], top.highlight["end"]).startswith("Gerald L. Klerman")


@pytest.mark.model
def test_every_returned_passage_is_the_file_slice(real_searcher, real_answers):
    n = 0
    for ans in real_answers:
        assert not ans.abstained, ans.question
        check_answer(real_searcher, ans, k=10)
        for h in ans.passages:
            assert Path(h.path).resolve().parent == (ROOT / "corpus").resolve()
            n += 1 + len(h.also_in)
    assert n >= 50


@pytest.mark.model
@pytest.mark.parametrize("question", ["What is the capital of France?", "How do I reset my router?"])
def test_off_topic_questions_abstain(real_searcher, question):
    ans = real_searcher.ask(question)
    assert ans.abstained
    assert isinstance(ans.reason, str) and len(ans.reason) > 20
    assert ans.passages == []


@pytest.mark.model
def test_grouping_puts_other_sources_under_a_hit(real_searcher, real_answers):
    grouped = 0
    for ans in real_answers:
        shown = [h.source_id for h in ans.passages]
        for h in ans.passages:
            ids = [h.source_id] + [a.source_id for a in h.also_in]
            assert len(set(ids)) == len(ids), f"{ans.question!r}: a source appears twice in {ids}"
            assert all(a.source_id != h.source_id for a in h.also_in)
            grouped += len(h.also_in)
        assert len(shown) == len(ans.passages)
    assert grouped > 0, "no answer grouped anything: the grouping checks above checked nothing"


@pytest.mark.model
def test_json_record_matches_the_contract(real_searcher, real_answers):
    records = [json.loads(json.dumps(a.to_dict(), ensure_ascii=False)) for a in real_answers]
    records.append(json.loads(json.dumps(real_searcher.ask("What is the capital of France?").to_dict())))
    saw_also_in = False
    for rec in records:
        assert rec.keys() >= CONTRACT_TOP and rec.keys() - CONTRACT_TOP <= EXTRA_TOP, sorted(rec)
        assert isinstance(rec["question"], str) and isinstance(rec["abstained"], bool)
        assert rec["reason"] is None if not rec["abstained"] else isinstance(rec["reason"], str)
        assert isinstance(rec["passages"], list)
        for p in rec["passages"]:
            assert p.keys() >= CONTRACT_PASSAGE and p.keys() - CONTRACT_PASSAGE <= EXTRA_PASSAGE, sorted(p)
            for key in ("rank", "start", "end", "line_start", "line_end"):
                assert type(p[key]) is int, key
            assert isinstance(p["score"], (int, float))
            for key in ("source_id", "title", "path", "section", "text"):
                assert isinstance(p[key], str), key
            assert set(p["highlight"]) == {"start", "end"}
            assert Path(p["path"]).read_text(encoding="utf-8")[p["start"]:p["end"]] == p["text"]
            for a in p["also_in"]:
                saw_also_in = True
                assert a.keys() >= CONTRACT_ALSO_IN, sorted(a)
                assert set(a["highlight"]) == {"start", "end"}
                assert Path(a["path"]).read_text(encoding="utf-8")[a["start"]:a["end"]] == a["text"]
    assert records[-1]["abstained"] and records[-1]["passages"] == []
    assert saw_also_in


def test_spell_repair_fixes_only_words_unknown_to_the_corpus():
    from qa.ingest.spelling import SpellFixer

    fixer = SpellFixer({"initial", "assessment", "interpersonal", "therapy", "psychotherapy", "ipt", "grief"})
    # Case, punctuation and spacing are kept; known and short words are left alone; far-off words too.
    assert fixer.repair("Initial assesment in  Interpersonal therapy? pyschotherapy, IPT!") == \
        "Initial assessment in  Interpersonal therapy? psychotherapy, IPT!"
    assert fixer.repair("grief and zebra crossings") == "grief and zebra crossings"


def test_embedder_sees_the_question_with_typos_repaired(tiny_searcher):
    seen = []
    original = tiny_searcher.embedder.encode

    def spy(texts):
        seen.extend(texts)
        return original(texts)

    tiny_searcher.embedder.encode = spy
    try:
        tiny_searcher.query.cache.clear()
        tiny_searcher.ask("who creatd interpersonal pyschotherapy")
    finally:
        del tiny_searcher.embedder.encode
    assert seen and "pyschotherapy" not in seen[-1] and "psychotherapy" in seen[-1]


def test_a_dropped_spell_fixer_is_freed_with_its_vocabulary():
    """An lru_cache on SpellFixer.fix kept every fixer (and so every replaced build's vocabulary) alive."""
    import gc
    import weakref

    from qa.ingest.spelling import SpellFixer

    fixer = SpellFixer({"psychotherapy", "interpersonal"})
    assert fixer.fix("pyschotherapy") == "psychotherapy"
    gone = weakref.ref(fixer)
    del fixer
    gc.collect()
    assert gone() is None

"""The score a reader sees (the record's `score`, the page's Details) is in [0, 1] for every passage of every
question, in every mode: the answer-type bonus added to the fused score used to lift it past 1 ("Score 1.08
(fused, 1.00 is the best possible)"). Scaling it must not change which passages are shown, in what order,
nor their labels."""

from __future__ import annotations

import json
import random
from pathlib import Path

import pytest

from qa.index.load import load_index
from qa.retrieve.query import MODES
from qa.search import Searcher
from qa.settings import Settings

ROOT = Path(__file__).resolve().parents[2]

# Openings that ask for a kind of answer (the ones the bonus rewards) and some that ask for none.
OPENINGS = ["who created", "who came up with", "how long does", "how long are the", "how many", "how often",
            "what year was", "where can I", "what is", "does", "why", ""]
WORDS = ["IPT", "interpersonal", "psychotherapy", "depression", "sessions", "weekly", "Klerman", "Weissman",
         "grief", "role", "therapy", "it", "take", "last", "work", "created", "12", "16", "the"]


def check_scores(answers) -> int:
    seen = 0
    for a in answers:
        for h in a.passages:
            assert 0.0 <= h.score <= 1.0, (a.question, h.rank, h.score)
            seen += 1
    return seen


def generated_questions(n: int, seed: int = 20) -> list[str]:
    """n questions made of an opening and one to five words, the same every run."""
    rng = random.Random(seed)
    return [" ".join([rng.choice(OPENINGS), *rng.choices(WORDS, k=rng.randint(1, 5))]).strip() + "?"
            for _ in range(n)]


@pytest.mark.parametrize("mode", MODES)
def test_every_score_is_between_0_and_1(tiny_searcher, mode):
    assert check_scores(tiny_searcher.ask_many(generated_questions(200), k=10, mode=mode)) > 200


def test_scaling_keeps_order_and_labels(tiny_searcher):
    """The shown score is the fused score over the best it can reach for the question: one factor per
    question, so the order and the score ratios the labels are read from are those of the fused score."""
    for question in ("Who created IPT?", "How long does IPT last?", "IPT therapy sessions"):
        cands, _ = tiny_searcher.retriever.candidates(question, tiny_searcher.query.terms(question), False,
                                                      tiny_searcher.query.vectors([question])[0][0], "hybrid",
                                                      None)
        assert cands
        ratios = {round(c.score / c.fused, 9) for c in cands if c.fused > 0}
        assert len(ratios) == 1, question
        assert all(0.0 <= c.score <= 1.0 for c in cands)


def test_every_gold_question_scores_within_0_and_1_with_the_real_model(real_index_dir, real_embedder):
    """Every gold question, every mode, ten passages each, refusal off so that nothing is hidden."""
    s = Settings(abstain=False)
    searcher = Searcher(load_index(real_index_dir, ROOT / "corpus", settings=s), real_embedder, s)
    questions = [json.loads(line)["question"] for line in (ROOT / "eval" / "gold.jsonl").open(encoding="utf-8")]
    assert len(questions) > 300
    for mode in MODES:
        answers = searcher.ask_many(questions, k=10, mode=mode)
        shown = [a for a in answers if a.passages]  # refusals show none
        assert len(shown) > len(answers) // 2 and check_scores(shown) > 9 * len(shown)


def test_the_best_possible_is_reached_not_only_approached(real_searcher):
    """The scale is not merely shrunk: a passage first by keywords, by meaning and by its question-bank
    questions that holds the kind of answer asked for (a person) scores 1.00 (it was 1.10); one first in only
    some of them scores less."""
    assert real_searcher.ask("who invented this").passages[0].score == 1.0
    assert 0.5 < real_searcher.ask("is ipt short term or long term").passages[0].score < 1.0

"""The signals the refusal rule weighs (qa/judge/abstain.py), all about what the question adds beyond the
corpus's topic: its own words (stems minus the topic's) and its judging vector against the first passages."""

from __future__ import annotations

import numpy as np

from qa.index.wordvec import text_words
from qa.judge.cues import name_absent
from qa.judge.support import own_words, word_support
from qa.retrieve.answertype import kind_of
from qa.retrieve.candidates import Candidate
from qa.retrieve.facts import IndexFacts
from qa.retrieve.features import RankFeatures


def judge_signals(question: str, judge: np.ndarray, cands: list[Candidate], qstems: set[str],
                  topic_stems: frozenset[str], topic_vec: np.ndarray | None, facts: IndexFacts,
                  features: RankFeatures) -> dict[str, float]:
    """topic_similarity, topic_lift, own_unknown, own_coverage and answer_type_missing of one question.

    `judge`: the question's judging vector (qa/retrieve/query.py); `qstems`: its query stems; `topic_vec`:
    the topic's name embedded alone (None when the corpus has no topic)."""
    own = qstems - topic_stems
    top = [c.index for c in cands[:3]]
    kind = kind_of(question)
    out = {"own_unknown": (len(own - facts.vocab_stems) / len(own)) if own else 0.0,
           "own_coverage": 1.0 if not own else (
               len(own & set().union(*(facts.stems[i] for i in top))) / len(own) if top else 0.0),
           # Over the first five, the passages a learner is shown by default.
           "answer_type_missing": float(bool(kind) and not any(kind and features.holds_answer(kind, c.index)
                                                                for c in cands[:5])),
           "topic_similarity": 0.0, "topic_lift": 0.0,
           "name_absent": name_absent(question, [facts.index.passages[c.index].context for c in cands[:5]],
                                      topic_stems)}
    table = facts.index.word_table
    if table is not None:
        rows = table.rows(w for i in top for w in text_words(facts.index.passages[i].context))
        out["support_min"], out["support_mean"] = word_support(own_words(question, topic_stems), rows,
                                                               table.vectors, table.row)
    if top:
        sentences = facts.index.sentence_vectors[facts.rows_of(np.array(top, dtype=np.int64))]
        sims = sentences @ judge
        out["topic_similarity"] = float(sims.max())
        out["topic_lift"] = float((sims - sentences @ topic_vec).max()) if topic_vec is not None \
            else out["topic_similarity"]
    return out

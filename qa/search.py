"""Answer a question: read it, retrieve (BM25, dense) and fuse, judge whether the sources answer it,
highlight and group -> an `Answer`. A thin facade over the stages:

    qa.retrieve.query       clean the question, its stems, whether it leaves the topic unsaid, its vectors
    qa.retrieve.candidates  BM25 + dense scores, fusion, ranking features -> candidates, best first
    qa.judge                the refusal signals, the calibrated rule, the labels, the crisis notice
    qa.present.grouping     highlights, and the same statement in other sources grouped under one card
"""

from __future__ import annotations

import numpy as np

from qa.index.embed import Embedder
from qa.index.load import LoadedIndex
from qa.ingest.topic import topic_from
from qa.judge.abstain import load_model
from qa.judge.outcome import MAY_NOT_ANSWER, REFUSED, card_label, outcome_of, refusal_reason, weak_note
from qa.judge.safety import crisis_notice
from qa.judge.searchable import unsearchable_reason
from qa.judge.signals import judge_signals
from qa.judge.vocabulary import knower
from qa.present.grouping import Grouper
from qa.records import Answer
from qa.retrieve.answertype import kind_of
from qa.retrieve.candidates import Retriever
from qa.retrieve.facts import IndexFacts
from qa.retrieve.features import RankFeatures
from qa.retrieve.query import MODES, QueryReader, QuestionError, clean_question
from qa.settings import Settings, k_problem


class Searcher:
    """Searches one loaded index with one embedder. Thread-safe for concurrent `ask` calls."""

    def __init__(self, index: LoadedIndex, embedder: Embedder, settings: Settings | None = None,
                 cache_size: int = 1024):
        self.index = index
        self.embedder = embedder
        self.settings = settings = settings or Settings()
        self.topic = topic_from(index.manifest.get("topic"), [src.title for src in index.sources.values()])
        self.facts = IndexFacts(index)
        self.query = QueryReader(index, embedder, settings, self.topic, cache_size)
        self.features = RankFeatures(index, settings, self.facts)
        self.retriever = Retriever(index, settings, self.facts, self.features,
                                   sorted(self.topic.stems) if self.topic else [])
        self.grouper = Grouper(index, settings, self.facts)
        self.abstain_model = load_model()
        self.knows = knower(self.facts.vocab_stems)

    def ask(self, question: str, k: int = 5, mode: str = "hybrid", sources: list[str] | None = None) -> Answer:
        """Answer one question. Raises QuestionError when it is empty after clean-up (unlike `ask_many`, where
        such a question is answered with an abstention so that the rest of the batch goes on)."""
        clean_question(question, self.settings.max_question_chars)  # raises QuestionError when empty
        return self.ask_many([question], k=k, mode=mode, sources=sources)[0]

    def ask_many(self, questions: list[str], k: int = 5, mode: str = "hybrid",
                 sources: list[str] | None = None) -> list[Answer]:
        """Answer several questions with one model call. A question that cannot be searched (empty) gets an
        abstained answer with the reason, and the others go on."""
        if mode not in MODES:
            raise QuestionError(f"unknown mode {mode!r}; choose one of {', '.join(MODES)}")
        problem = k_problem(k)
        if problem:
            raise QuestionError(problem)
        allowed = self.retriever.allowed(sources)
        cleaned: list[tuple[str, list[str]] | Answer] = []
        for q in questions:
            try:
                text, warnings = clean_question(q, self.settings.max_question_chars)
            except QuestionError as e:
                cleaned.append(Answer(question=q if isinstance(q, str) else "", abstained=True, reason=str(e),
                                      passages=[], mode=mode, outcome=REFUSED))
                continue
            # Nothing to search for (symbols, emoji, unknown words, another language): refused before the
            # model is asked, so no passage is shown with a label it has not earned.
            if self.settings.abstain and (why := unsearchable_reason(text, self.knows)):
                cleaned.append(Answer(question=text, abstained=True, reason=why, passages=[], warnings=warnings,
                                      notice=crisis_notice(text), mode=mode, outcome=REFUSED))
                continue
            cleaned.append((text, warnings))
        texts = [c[0] for c in cleaned if not isinstance(c, Answer)]
        # The embedder sees the question with its typos repaired, as the keyword side does (measured on the
        # gold set: dev unchanged, test Recall@1 0.651 -> 0.667).
        vecs = iter(self.query.vectors(texts)) if texts else iter(())
        answers = []
        for c in cleaned:
            if isinstance(c, Answer):
                answers.append(c)
                continue
            text, warnings = c
            answers.append(self._answer(text, next(vecs), k, mode, allowed, warnings))
        return answers

    def _answer(self, question: str, qvecs: np.ndarray, k: int, mode: str, allowed: np.ndarray | None,
                warnings: list[str]) -> Answer:
        qvec, judge = qvecs[0], qvecs[1]
        terms = self.query.terms(question)
        cands, signals = self.retriever.candidates(question, terms, self.query.implicit(question), qvec, mode,
                                                   allowed)
        qstems = set(terms)
        signals.update(judge_signals(question, judge, cands, qstems,
                                     self.topic.stems if self.topic else frozenset(),
                                     self.query.topic_vector() if cands else None, self.facts, self.features))
        model = self.abstain_model
        p = model.p_unanswered(signals)
        signals["p_unanswered"] = p
        top_score = cands[0].fused if cands else 1.0
        # Without abstention (evaluation of ranking alone), every answer is shown and labelled as answered.
        judged = p if self.settings.abstain else 0.0
        hits = self.grouper.hits(cands, qvec, qstems, k, lambda score: card_label(judged, score, top_score, model),
                                 kind_of(question))
        outcome = outcome_of(judged, model) if hits else REFUSED
        reason = None
        if outcome == REFUSED:
            reason = refusal_reason(p) if hits else "no passage in the sources matches the question's words or meaning"
        elif outcome == MAY_NOT_ANSWER and crisis_notice(question):
            # Under a crisis notice only a confident answer is shown: a learner in distress is not handed
            # passages that may not answer them.
            outcome, reason = REFUSED, refusal_reason(p)
        elif outcome == MAY_NOT_ANSWER:
            warnings = [*warnings, weak_note(p, kind_of(question) if signals["answer_type_missing"] else None)]
        return Answer(question=question, abstained=outcome == REFUSED, reason=reason,
                      passages=[] if outcome == REFUSED else hits, warnings=warnings,
                      notice=crisis_notice(question), mode=mode, signals=signals, outcome=outcome)

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
from qa.judge.outcome import REFUSED, card_label, judged, verdict
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
        return self._answers([question], k, mode, sources, empty_raises=True)[0]

    def ask_many(self, questions: list[str], k: int = 5, mode: str = "hybrid",
                 sources: list[str] | None = None) -> list[Answer]:
        """Answer several questions with one model call. A question that cannot be searched (empty) gets an
        abstained answer with the reason, and the others go on."""
        return self._answers(questions, k, mode, sources, empty_raises=False)

    def _answers(self, questions: list[str], k: int, mode: str, sources: list[str] | None,
                 empty_raises: bool) -> list[Answer]:
        if mode not in MODES:
            raise QuestionError(f"unknown mode {mode!r}; choose one of {', '.join(MODES)}")
        problem = k_problem(k)
        if problem:
            raise QuestionError(problem)
        allowed = self.retriever.allowed(sources)
        # Each question is cleaned once and its crisis notice found once; the rest of the ask reads them.
        cleaned: list[tuple[str, list[str], str | None] | Answer] = []
        for q in questions:
            try:
                text, warnings = clean_question(q, self.settings.max_question_chars)
            except QuestionError as e:
                if empty_raises:
                    raise
                cleaned.append(Answer(question=q if isinstance(q, str) else "", abstained=True, reason=str(e),
                                      passages=[], mode=mode, outcome=REFUSED))
                continue
            notice = crisis_notice(text)
            # Nothing to search for (symbols, emoji, unknown words, another language): refused before the
            # model is asked, so no passage is shown with a label it has not earned.
            if self.settings.abstain and (why := unsearchable_reason(text, self.knows)):
                cleaned.append(Answer(question=text, abstained=True, reason=why, passages=[], warnings=warnings,
                                      notice=notice, mode=mode, outcome=REFUSED))
                continue
            cleaned.append((text, warnings, notice))
        texts = [c[0] for c in cleaned if not isinstance(c, Answer)]
        # The embedder sees the question with its typos repaired, as the keyword side does (measured on the
        # gold set: dev unchanged, test Recall@1 0.651 -> 0.667).
        vecs = iter(self.query.vectors(texts)) if texts else iter(())
        return [c if isinstance(c, Answer) else self._answer(c[0], next(vecs), k, mode, allowed, c[1], c[2])
                for c in cleaned]

    def _answer(self, question: str, qvecs: np.ndarray, k: int, mode: str, allowed: np.ndarray | None,
                warnings: list[str], notice: str | None = None) -> Answer:
        """One cleaned question, its vectors and its crisis notice (found once, by `_answers`) -> its Answer."""
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
        p_shown, kind = judged(p, self.settings.abstain), kind_of(question)
        hits = self.grouper.hits(cands, qvec, qstems, k, lambda score: card_label(p_shown, score, top_score, model),
                                 kind)
        v = verdict(p, self.settings.abstain, bool(hits), notice, model,
                    kind if signals["answer_type_missing"] else None)
        return Answer(question=question, abstained=v.refused, reason=v.reason,
                      passages=[] if v.refused else hits, warnings=[*warnings, *([v.note] if v.note else [])],
                      notice=notice, mode=mode, signals=signals, outcome=v.outcome)

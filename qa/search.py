"""Answer a question: retrieve (BM25, dense), fuse, abstain, highlight, group -> an `Answer`."""

from __future__ import annotations

import re
import unicodedata
from collections import OrderedDict
from dataclasses import dataclass

import numpy as np

from qa.judge.abstain import AbstainModel, decide, load_model, weak_match
from qa.retrieve.answertype import holds, kind_of
from qa.index.embed import Embedder
from qa.errors import QAError
from qa.ingest.furniture import KINDS as FURNITURE_KINDS, asks_for, furniture_kind
from qa.retrieve.fuse import convex, ranked, rrf
from qa.index.build import LoadedIndex
from qa.records import AlsoIn, Answer, Hit
from qa.judge.safety import crisis_notice
from qa.settings import ANN_THRESHOLD, Settings
from qa.ingest.text import SpellFixer, analyze, stem, stopwords, words
from qa.ingest.topic import topic_from
from qa.retrieve.topk import top_indices

MODES = ("hybrid", "bm25", "dense")
_CONTROL_RE = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\u200b-\u200f\u202a-\u202e\u2066-\u2069\ufeff]")


class QuestionError(QAError):
    """The question cannot be searched (empty after clean-up)."""


def clean_question(raw: str, max_chars: int) -> tuple[str, list[str]]:
    """Normalise a question for search; returns it with any warnings. Raises QuestionError when empty."""
    if not isinstance(raw, str):
        raise QuestionError(f"the question must be text, not {type(raw).__name__}")
    # Lone surrogates (from broken JSON or clipboard) cannot be encoded: replace them.
    text = raw.encode("utf-8", "replace").decode("utf-8")
    text = unicodedata.normalize("NFC", _CONTROL_RE.sub(" ", text))
    text = " ".join(text.split())
    if not text:
        raise QuestionError("the question is empty; type a question about Interpersonal Psychotherapy (IPT)")
    warnings = []
    if len(text) > max_chars:
        cut = text.rfind(" ", 0, max_chars)
        text = text[: cut if cut > max_chars // 2 else max_chars]
        warnings.append(f"the question was {len(raw):,} characters long; only its first {len(text):,} were searched")
    return text, warnings


@dataclass
class Candidate:
    index: int  # passage number
    fused: float
    dense: float
    bm25: float


class Searcher:
    """Searches one loaded index with one embedder. Thread-safe for concurrent `ask` calls."""

    def __init__(self, index: LoadedIndex, embedder: Embedder, settings: Settings | None = None,
                 cache_size: int = 1024):
        self.index = index
        self.embedder = embedder
        self.settings = settings or Settings()
        self.spell = SpellFixer(index.vocabulary)
        self._cache: OrderedDict[str, np.ndarray] = OrderedDict()
        self._cache_size = cache_size
        self._source_of = np.array([p.source_id for p in index.passages])
        self._stems = [set(analyze(p.context)) for p in index.passages]
        self._vocab_stems = set().union(*self._stems) if self._stems else set()
        # Inverse document frequency of each stem over passages: words every passage shares ("ipt",
        # "therapy") say little about whether two sentences make the same statement.
        df: dict[str, int] = {}
        for stems in self._stems:
            for t in stems:
                df[t] = df.get(t, 0) + 1
        n = max(len(index.passages), 1)
        self._idf = {t: float(np.log((n + 1) / (c + 0.5))) for t, c in df.items()}
        self._sentence_stems: dict[int, set[str]] = {}
        # Page furniture (author bios, link lists): ranked after content unless the question asks for it.
        self._furniture = [furniture_kind(p.section, p.text) for p in index.passages]
        self._content_stems = set().union(*(st for st, f in zip(self._stems, self._furniture) if not f)) \
            if self._stems else set()
        self._holds: dict[tuple[str, int], bool] = {}
        self.topic = topic_from(index.manifest.get("topic"), [src.title for src in index.sources.values()])
        # BM25 of the topic's own words, the same for every question: added, weighted, when a question leaves
        # the topic unsaid, so that passages about the topic win over the corpus's asides.
        self._topic_vec: np.ndarray | None = None
        self.abstain_model = load_model()
        topic_terms = sorted(self.topic.stems) if self.topic else []
        self._topic_bm25 = self.bm25_scores(topic_terms)

    # -- retrieval ------------------------------------------------------------------------------------

    def encode(self, questions: list[str]) -> np.ndarray:
        """Question vectors, from a small LRU cache when a question repeats."""
        missing = [q for q in dict.fromkeys(questions) if q not in self._cache]
        if missing:
            for q, v in zip(missing, self.embedder.encode(missing)):
                self._cache[q] = v
        out = np.stack([self._cache[q] for q in questions])
        for q in questions:
            self._cache.move_to_end(q)
        while len(self._cache) > self._cache_size:
            self._cache.popitem(last=False)
        return out

    def implicit(self, question: str) -> bool:
        """Does the question leave the corpus's topic unsaid (so it is searched as if it named it)?"""
        return self.topic is not None and not self.topic.named_in(question)

    def question_vectors(self, questions: list[str]) -> np.ndarray:
        """Two vectors per question, from one model call, shape (n, 2, dim): [0] ranks, [1] judges.

        Ranking uses the question as typed (typos repaired): every passage is about the topic, so adding the
        topic only blurs what the question asks (measured on dev: implicit-topic Recall@1 0.60 -> 0.52 with
        "(Interpersonal Psychotherapy (IPT))" appended). Judging whether the sources answer it uses the
        question read as being about the topic: for a question that leaves the topic unsaid, its vector moved
        towards the topic's own (`topic_judge_weight`). That costs no second model call, and separated
        answerable from unanswerable dev questions as well as embedding the question with the topic's name
        appended (tools measured both; see docs/answer-quality.md)."""
        texts = [self.spell.repair(q) for q in questions]
        vecs = self.encode(texts)
        out = np.repeat(vecs[:, None, :], 2, axis=1)
        weight = self.settings.topic_judge_weight
        implicit = [i for i, q in enumerate(questions) if self.implicit(q)]
        if implicit and weight > 0:
            tv = self.topic_vector()
            for i in implicit:
                v = out[i, 1] + weight * tv
                out[i, 1] = v / max(float(np.linalg.norm(v)), 1e-12)
        return out

    def topic_vector(self) -> np.ndarray | None:
        """The topic's name embedded alone (once): what a question that adds nothing to the topic matches."""
        if self.topic is None:
            return None
        if self._topic_vec is None:
            self._topic_vec = self.embedder.encode([self.topic.name])[0]
        return self._topic_vec

    def query_terms(self, question: str) -> list[str]:
        """BM25 query stems, with words unknown to the corpus replaced by their closest corpus word."""
        stops = stopwords()
        return [stem(w) for w in self.spell.fix_text(question) if w not in stops]

    def _allowed(self, sources: list[str] | None) -> np.ndarray | None:
        if not sources:
            return None
        unknown = set(sources) - set(self.index.sources)
        if unknown:
            raise QuestionError(f"unknown source(s) {sorted(unknown)}; known: {sorted(self.index.sources)}")
        return np.isin(self._source_of, list(sources))

    def dense_scores(self, qvec: np.ndarray) -> np.ndarray:
        """Cosine of the question with every passage: exact below ANN_THRESHOLD, as one matrix-vector product
        over the stored vectors (a FAISS search with k = n keeps a heap of all n and then needs a scatter:
        6x slower at 10k passages); above it the HNSW index's top `candidates * 20`, the rest -1."""
        n = len(self.index)
        if n < ANN_THRESHOLD:
            # einsum's own loop, not `@`: OpenBLAS splits a large matrix-vector product over its threads, and
            # next to torch's threads on a busy machine that took 12-28 ms instead of 0.3-0.5 ms at 10k.
            return np.einsum("ij,j->i", self.index.vectors, np.asarray(qvec, dtype=np.float32).reshape(-1))
        k = min(n, self.settings.candidates * 20)
        sims, ids = self.index.faiss_index.search(qvec.reshape(1, -1), k)
        out = np.full(n, -1.0, dtype=np.float32)
        valid = ids[0] >= 0
        out[ids[0][valid]] = sims[0][valid]
        return out

    def bm25_scores(self, terms: list[str]) -> np.ndarray:
        if not terms:
            return np.zeros(len(self.index), dtype=np.float32)
        return np.asarray(self.index.bm25.get_scores(terms), dtype=np.float32)

    def sentence_max(self, pool: np.ndarray, qvec: np.ndarray) -> np.ndarray:
        """For each passage in `pool`, the cosine of the question with its best-matching sentence."""
        lo, hi = self.index.sentence_offsets[pool], self.index.sentence_offsets[pool + 1]
        rows = np.concatenate([np.arange(a, b) for a, b in zip(lo, hi)])
        sims = self.index.sentence_vectors[rows] @ qvec
        return np.maximum.reduceat(sims, np.concatenate([[0], np.cumsum(hi - lo)[:-1]]))

    def candidates(self, question: str, qvec: np.ndarray, mode: str,
                   allowed: np.ndarray | None) -> tuple[list[Candidate], dict]:
        """Fused candidate list, best first, plus the signals abstention looks at.

        Dense relevance of a passage is the mean of two cosines: question vs. the whole passage (with its
        title and heading) and question vs. its best sentence. Short learner questions often match one
        sentence far better than a paragraph; the passage vector keeps the heading's context. On the dev
        half this lifted dense MRR@10 from 0.50 to 0.70 (see eval/report.md for the current figures).
        """
        s = self.settings
        n = len(self.index)
        dense_p = self.dense_scores(qvec)
        bm25 = self.bm25_scores(self.query_terms(question))
        if s.topic_bm25_weight and self.implicit(question) and bm25.any():
            bm25 = bm25 + s.topic_bm25_weight * self._topic_bm25
        if allowed is not None:
            dense_p = np.where(allowed, dense_p, -np.inf)
            bm25 = np.where(allowed, bm25, 0.0)
        depth = min(s.candidates, n)
        d_top = top_indices(dense_p, depth)
        d_top = d_top[np.isfinite(dense_p[d_top]) & (dense_p[d_top] > -1.0)]
        b_top = top_indices(bm25, depth)
        b_top = b_top[bm25[b_top] > 0]
        # The abstention signal comes from both retrievers' candidates whatever the mode, so one threshold
        # means the same thing in every mode.
        union = np.union1d(d_top, b_top).astype(np.int64)
        pool = {"hybrid": union, "dense": d_top.astype(np.int64), "bm25": b_top.astype(np.int64)}[mode]
        signals = {"top_dense": float(dense_p[d_top[0]]) if len(d_top) else 0.0, "top_sentence": 0.0}
        if not len(union):
            return [], signals
        smax = self.sentence_max(union, qvec)
        signals["top_sentence"] = float(smax.max())
        dense = np.full(n, -1.0, dtype=np.float32)
        dense[union] = s.passage_weight * dense_p[union] + (1.0 - s.passage_weight) * smax
        if not len(pool):
            return [], signals
        if mode == "dense":
            fused = {int(i): float(dense[i]) for i in pool}
        elif mode == "bm25":
            top = float(bm25[b_top[0]])
            fused = {int(i): float(bm25[i]) / top for i in pool}
        elif s.fusion == "rrf":
            best = 2.0 / (s.rrf_k + 1)
            d_rank = sorted(pool.tolist(), key=lambda i: (-dense[i], i))
            b_rank = [int(i) for i in b_top]
            fused = {i: v / best for i, v in rrf([d_rank, b_rank], k=s.rrf_k).items()}
        else:
            fused = convex([{int(i): float(dense[i]) for i in pool}, {int(i): float(bm25[i]) for i in pool}],
                           [s.dense_weight, 1.0 - s.dense_weight])
        fused = self.rank_features(question, fused)
        # Page furniture the question does not ask for goes after every content passage, keeping its order.
        order = sorted(ranked(fused), key=lambda kv: self.unasked_furniture(question, kv[0]))
        return [Candidate(i, f, float(dense_p[i]), float(bm25[i])) for i, f in order], signals

    def holds_answer(self, kind: str, i: int) -> bool:
        """Does passage i hold an answer of the kind asked for (qa/answertype.py)? Cached per (kind, passage)."""
        key = (kind, i)
        if key not in self._holds:
            self._holds[key] = holds(kind, self.index.passages[i].text)
        return self._holds[key]

    def unasked_furniture(self, question: str, i: int) -> bool:
        """Is passage i furniture the question does not ask for? A question asks for it by its words ("where
        can I read more", "who wrote this"), or, asking for no kind by its words, by naming something only
        furniture holds ("world psychiatry article")."""
        kind = self._furniture[i]
        if not kind:
            return False
        if asks_for(question, kind):
            return False
        if any(asks_for(question, other) for other in FURNITURE_KINDS):
            return True
        own = set(self.query_terms(question)) & self._stems[i]
        return not (own - self._content_stems)

    def rank_features(self, question: str, fused: dict[int, float]) -> dict[int, float]:
        """Adjust fused scores by what the question asks for: passages holding the kind of answer asked for
        rise."""
        s = self.settings
        kind = kind_of(question)
        out = {}
        for i, f in fused.items():
            if kind and s.answer_type_bonus and self.holds_answer(kind, i):
                f += s.answer_type_bonus
            out[i] = f
        return out

    def judge_signals(self, question: str, judge: np.ndarray, cands: list[Candidate], qstems: set[str]) -> dict:
        """The signals the refusal rule weighs (qa/abstain.py), all about what the question adds beyond the
        topic: its own words (stems minus the topic's) and its judging vector against the first passages."""
        topic_stems = self.topic.stems if self.topic else frozenset()
        own = qstems - topic_stems
        top = [c.index for c in cands[:3]]
        kind = kind_of(question)
        out = {"own_unknown": (len(own - self._vocab_stems) / len(own)) if own else 0.0,
               "own_coverage": 1.0 if not own else (
                   len(own & set().union(*(self._stems[i] for i in top))) / len(own) if top else 0.0),
               # Over the first five, the passages a learner is shown by default.
               "answer_type_missing": float(bool(kind) and not any(self.holds_answer(kind, c.index)
                                                                    for c in cands[:5])),
               "topic_similarity": 0.0, "topic_lift": 0.0}
        if top:
            pool = np.array(top, dtype=np.int64)
            lo, hi = self.index.sentence_offsets[pool], self.index.sentence_offsets[pool + 1]
            rows = np.concatenate([np.arange(a, b) for a, b in zip(lo, hi)])
            sentences = self.index.sentence_vectors[rows]
            sims = sentences @ judge
            out["topic_similarity"] = float(sims.max())
            tv = self.topic_vector()
            out["topic_lift"] = float((sims - sentences @ tv).max()) if tv is not None else out["topic_similarity"]
        return out

    # -- presentation ----------------------------------------------------------------------------------

    def _best_sentence(self, i: int, qvec: np.ndarray, qstems: set[str]) -> tuple[int, float]:
        """Row (into sentence_vectors) of the sentence of passage i that best matches the question."""
        lo, hi = int(self.index.sentence_offsets[i]), int(self.index.sentence_offsets[i + 1])
        sims = self.index.sentence_vectors[lo:hi] @ qvec
        if qstems:
            for j in range(hi - lo):
                overlap = len(qstems & self._stems_of_sentence(lo + j)) / len(qstems)
                sims[j] += 0.3 * overlap  # shared key words break near-ties between similar sentences
        j = int(np.argmax(sims))
        return lo + j, float(sims[j])

    def _stems_of_sentence(self, row: int) -> set[str]:
        """Content stems of one sentence, analysed once and kept (a dict write is atomic under the GIL)."""
        if row not in self._sentence_stems:
            i = int(np.searchsorted(self.index.sentence_offsets, row, side="right")) - 1
            p = self.index.passages[i]
            a, b = p.sentences[row - int(self.index.sentence_offsets[i])]
            self._sentence_stems[row] = set(analyze(p.text[a - p.start:b - p.start]))
        return self._sentence_stems[row]

    def same_statement(self, row_a: int, row_b: int) -> bool:
        """Do two sentences (rows of sentence_vectors) say the same thing? Both close in meaning and sharing
        distinctive words: MiniLM alone rates any two sentences about IPT as similar (0.85-0.9), so the
        cosine cut is paired with an IDF-weighted overlap of their words (values checked on real pairs:
        "12 to 16 weekly sessions" ~ "12-16 sessions" is a twin, "Klerman and Weissman created IPT" ~
        "IPT is one type of psychotherapy" is not)."""
        s = self.settings
        if float(self.index.sentence_vectors[row_a] @ self.index.sentence_vectors[row_b]) < s.group_threshold:
            return False
        a, b = self._stems_of_sentence(row_a), self._stems_of_sentence(row_b)
        union = sum(self._idf.get(t, 0.0) for t in a | b)
        shared = sum(self._idf.get(t, 0.0) for t in a & b)
        return union > 0 and shared / union >= s.group_min_overlap

    def _hit_fields(self, i: int, row: int) -> dict:
        p = self.index.passages[i]
        src = self.index.sources[p.source_id]
        lo = int(self.index.sentence_offsets[i])
        a, b = p.sentences[row - lo]
        return dict(source_id=p.source_id, title=src.title, path=src.path, section=p.section, start=p.start,
                    end=p.end, line_start=p.line_start, line_end=p.line_end, text=p.text,
                    highlight={"start": a, "end": b})

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
        if not 1 <= int(k) <= 50:
            raise QuestionError(f"k must be a whole number from 1 to 50, not {k}")
        allowed = self._allowed(sources)
        cleaned: list[tuple[str, list[str]] | QuestionError] = []
        for q in questions:
            try:
                cleaned.append(clean_question(q, self.settings.max_question_chars))
            except QuestionError as e:
                cleaned.append(e)
        texts = [c[0] for c in cleaned if not isinstance(c, QuestionError)]
        # The embedder sees the question with its typos repaired, as the keyword side does (measured on the
        # gold set: dev unchanged, test Recall@1 0.651 -> 0.667), and with the topic's name when the
        # question leaves it unsaid.
        vecs = iter(self.question_vectors(texts)) if texts else iter(())
        answers = []
        for raw, c in zip(questions, cleaned):
            if isinstance(c, QuestionError):
                answers.append(Answer(question=raw if isinstance(raw, str) else "", abstained=True,
                                      reason=str(c), passages=[], mode=mode))
                continue
            text, warnings = c
            answers.append(self._answer(text, next(vecs), k, mode, allowed, warnings))
        return answers

    def _answer(self, question: str, qvecs: np.ndarray, k: int, mode: str, allowed, warnings) -> Answer:
        qvec, judge = qvecs[0], qvecs[1]
        cands, signals = self.candidates(question, qvec, mode, allowed)
        notice = crisis_notice(question)
        qstems = set(self.query_terms(question))
        signals.update(self.judge_signals(question, judge, cands, qstems))
        model = self.abstain_model
        p = model.p_unanswered(signals)
        signals["p_unanswered"] = p
        hits: list[Hit] = []
        kept_rows: list[int] = []
        top_score = cands[0].fused if cands else 1.0
        # Twins of the shown passages rank close to them: looking a few ranks past k finds them. The one
        # shown is the higher ranked, i.e. the one that best answers (its rank counts the kind of answer
        # asked for, so "one-hour weekly sessions" is shown for "how long is each session").
        for c in cands[: 4 * k]:
            row, _ = self._best_sentence(c.index, qvec, qstems)
            fields = self._hit_fields(c.index, row)
            # Same statement in another source already shown? Then list it under that passage instead.
            twin = next((h for h, r in zip(hits, kept_rows)
                         if h.source_id != fields["source_id"] and self.same_statement(r, row)), None)
            if twin is not None:
                if all(a.source_id != fields["source_id"] for a in twin.also_in):
                    twin.also_in.append(AlsoIn(**fields))
                continue
            if len(hits) == k:
                continue  # keep scanning only to group twins of what is shown
            hits.append(Hit(rank=len(hits) + 1, score=round(c.fused, 4), similarity=round(c.dense, 4),
                            label=label_of(c.fused, top_score, p, model),
                            url=self.index.sources[fields["source_id"]].url, **fields))
            kept_rows.append(row)
        reason = decide(p, model) if self.settings.abstain else None
        if not hits:
            reason = reason or "no passage in the sources matches the question's words or meaning"
        else:
            kind = kind_of(question) if signals["answer_type_missing"] else None
            if not reason and (weak := weak_match(p, model, kind)):
                warnings = [*warnings, weak]
        return Answer(question=question, abstained=reason is not None, reason=reason,
                      passages=[] if reason else hits, warnings=warnings, notice=notice, mode=mode,
                      signals=signals)


def label_of(score: float, top_score: float, p_unanswered: float, model: AbstainModel) -> str:
    """The card's relevance label, from the score that orders the cards (relative to the first) times the
    confidence that the sources answer at all: non-increasing down the list, so a "good" card never sits
    above a "strong" one. Cut-offs fitted on dev (qa/calibrate.py) for the precision each label promises."""
    value = (1.0 - p_unanswered) * (score / top_score if top_score > 0 else 0.0)
    if value >= model.strong_at:
        return "strong"
    if value >= model.good_at:
        return "good"
    return "partial"

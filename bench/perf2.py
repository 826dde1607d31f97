"""5. Scale, before and after issue 14 ("Performance II"), in the same run.

* Spelling repair of an unknown word at a 30,000-word vocabulary (the real corpus's words and misspelt
  variants of them): difflib over the whole vocabulary (before) against the shortlist (after); the answers
  are checked to be the same.
* The query path at 10,000 passages (exact on both sides) and 28,000 (before: exact FAISS, k = 1000; after:
  HNSW efSearch 512, since 28,000 >= ANN_THRESHOLD), on indexes tiled from the real one (`tile_index`):
  dense_scores, candidates() and the whole pipeline with cached question vectors, each question timed
  with the old code (bench/before.py) and the new one back to back.
* Recall@50 of HNSW (M=32) at efSearch 128 / 256 / 512, as the Searcher asks (k = 1000, top 50 kept), on real
  model vectors: those in the bench's vector cache (bench/vector_cache.py) and the 5 sources', against
  the exact top 50; with the cost of the search and of the exact matrix-vector product at the same n.
* A real large build: about 10 MB of text in 95 files (the 5 sources, 20 synthetic .txt files, 70
  generated Markdown files; bench/synth.py `make_large_corpus`), built by `build_index` in full. Embedding its
  ~108,000 texts with the model takes 20+ minutes on a quiet 2-core machine (hours under load), so the
  build runs with a stand-in embedder (the real model's id and weights hash, random unit vectors per text,
  its own time measured and taken off): that gives the build's own time, i.e. everything but the model.
  The model's time is then the number of texts over the model's rate measured in this run on a fresh
  200-passage build. Memory: a fresh process opening that index and answering 20 questions; latency: ask(q)
  with the real model at that size against the 5-source index, before and after.
"""

from __future__ import annotations

import hashlib
import random
import shutil
import tempfile
import time
from pathlib import Path

import numpy as np

from .common import ROOT, Figure, Report, dir_size, gold_questions, mib, timed

SECTION = "5"


class StandInEmbedder:
    """Random unit vectors per text (seeded by its hash), under the real model's name: a build that costs no
    model time. The index it makes is searchable (the real model embeds the questions) but not meaningful."""

    def __init__(self, real):
        self.model_id, self.weights_sha256, self.dim = real.model_id, real.weights_sha256, real.dim
        self.seconds = 0.0
        self.texts = 0

    def encode(self, texts: list[str]) -> np.ndarray:
        t0 = time.perf_counter()
        out = np.empty((len(texts), self.dim), dtype=np.float32)
        for i, t in enumerate(texts):
            seed = int.from_bytes(hashlib.blake2b(t.encode("utf-8"), digest_size=8).digest(), "little")
            out[i] = np.random.default_rng(seed).standard_normal(self.dim, dtype=np.float32)
        out /= np.linalg.norm(out, axis=1, keepdims=True)
        self.seconds += time.perf_counter() - t0
        self.texts += len(texts)
        return out


def _pairs(report, label, after_fn, before_fn, questions, unit="ms"):
    from .scale import _interleaved

    ta, tb = _interleaved([after_fn, before_fn], questions)
    return report.add(Figure(SECTION, label, unit, ta, "before (same run, back to back)", tb,
                             paired_ratios=[a / b for a, b in zip(ta, tb, strict=False)]))


# ---------------------------------------------------------------------------------------------------------


def big_vocabulary(size: int = 30_000, seed: int = 0) -> tuple[set[str], list[str]]:
    """(vocabulary, misspelt query words): real corpus words plus misspelt variants of them up to `size`."""
    from qa.ingest.corpus import load_corpus
    from qa.ingest.text import words

    rng = random.Random(seed)
    real = sorted({w for s in load_corpus(ROOT / "corpus") for w in words(s.text) if len(w) >= 4 and w.isalpha()})
    letters = "abcdefghijklmnopqrstuvwxyz"

    def mutate(w):
        w = list(w)
        for _ in range(rng.randint(1, 2)):
            i = rng.randrange(len(w))
            op = rng.random()
            if op < 0.4:
                w[i] = rng.choice(letters)
            elif op < 0.7:
                w.insert(i, rng.choice(letters))
            elif len(w) > 4:
                del w[i]
        return "".join(w)

    vocab = set(real)
    while len(vocab) < size:
        vocab.add(mutate(rng.choice(real)))
    queries = []
    while len(queries) < 60:
        q = mutate(rng.choice([w for w in real if len(w) >= 6]))
        if q not in vocab and q not in queries:
            queries.append(q)
    return vocab, queries


def spelling(report: Report, searcher) -> None:
    from qa.ingest.spelling import SpellFixer

    from .before import DifflibSpellFixer

    for label, vocab, queries in (("30,000-word vocabulary", *big_vocabulary()),
                                  (f"the 5 sources' {len(searcher.spell.vocabulary):,}-word vocabulary",
                                   searcher.index.vocabulary, big_vocabulary(2_000, seed=1)[1])):
        new, old = SpellFixer(vocab), DifflibSpellFixer(vocab)
        queries = [q for q in queries if q not in new.known]
        same = sum(new.fix(q) == old.fix(q) for q in queries)  # also fills both memos: cleared per call below

        def after(q):
            SpellFixer.fix.cache_clear()
            return new.fix(q)

        def before(q):
            DifflibSpellFixer.fix.cache_clear()
            return old.fix(q)

        _pairs(report, f"spelling repair of an unknown word, {label} (shortlist vs difflib over all; "
               f"{same}/{len(queries)} answers identical)", after, before, queries)


# ---------------------------------------------------------------------------------------------------------


def query_path(report: Report, searcher, sizes=(10_000, 28_000)) -> None:
    from qa.search import Searcher

    from .before import BeforeSearcher, before_faiss
    from .scale import tile_index

    qs = gold_questions()[::3]  # a third of the gold questions: the old code at 28k is slow, the run must stay short
    qv = dict(zip(qs, searcher.encode(qs), strict=False))
    for n in sizes:
        t_tile, tiled = timed(tile_index, searcher.index, n)
        kind = type(tiled.faiss_index).__name__
        new = Searcher(tiled, searcher.embedder, searcher.settings)
        old = BeforeSearcher(tiled, searcher.embedder, searcher.settings, faiss_index=before_faiss(tiled.vectors))
        report.note(SECTION, f"tiled the 5-source index to {n:,} passages in {t_tile:.0f} s: after {kind}, before "
                    f"{type(old.faiss_index).__name__}")
        same = 0
        top5 = []
        for q in qs:
            a, _ = new.candidates(q, qv[q], "hybrid", None)
            b, _ = old.candidates(q, qv[q], "hybrid", None)
            same += [c.index for c in a] == [c.index for c in b]
            top5.append(len({c.index for c in a[:5]} & {c.index for c in b[:5]}) / 5)
        report.note(SECTION, f"{n:,} passages: candidate lists identical to before for {same}/{len(qs)} gold "
                    f"questions; top-5 overlap {np.mean(top5):.3f}")
        label = f"{n:,} tiled passages (after {kind})"
        _pairs(report, f"dense_scores at {label}", lambda q: new.dense_scores(qv[q]),
               lambda q: old.dense_scores(qv[q]), qs)
        _pairs(report, f"candidates() at {label}", lambda q: new.candidates(q, qv[q], "hybrid", None),
               lambda q: old.candidates(q, qv[q], "hybrid", None), qs)
        for q in qs:  # question vectors and spelling memo warm: the pipeline without the model
            new.ask(q)
            old.ask(q)
        _pairs(report, f"ask(q) with a cached question vector (pipeline only) at {label}", new.ask, old.ask, qs)
        del tiled, new, old


# ---------------------------------------------------------------------------------------------------------


def real_vectors(searcher, limit: int = 30_000) -> np.ndarray:
    from .vector_cache import CachingEmbedder

    cached = CachingEmbedder(searcher.embedder)
    m = cached._matrix()
    return np.concatenate([searcher.index.vectors, searcher.index.sentence_vectors, m])[:limit]


def ann_recall(report: Report, searcher, ef_values=(128, 256, 512)) -> dict:
    from .scale import _hnsw, _interleaved

    vectors = np.ascontiguousarray(real_vectors(searcher), dtype=np.float32)
    n = len(vectors)
    qs = gold_questions()
    qvecs = searcher.encode(qs)
    exact = np.argsort(-(qvecs @ vectors.T), axis=1, kind="stable")[:, :50]
    t_build, hnsw = timed(_hnsw, vectors)
    out = {"n": n, "hnsw_build_s": t_build}
    searches = []
    for ef in ef_values:
        hnsw.hnsw.efSearch = ef
        _, got = hnsw.search(qvecs, 1000)
        recall = [len(set(g[:50]) & set(e)) / 50 for g, e in zip(got.tolist(), exact.tolist(), strict=False)]
        out[f"recall50_ef{ef}"] = float(np.mean(recall))
        report.add(Figure(SECTION, f"HNSW M=32 efSearch={ef} recall@50 (k=1000 as the Searcher asks) at {n:,} real "
                          f"model vectors (mean {np.mean(recall):.4f})", "", recall, "exact (= 1)", [1.0] * len(recall)))

        def search(q, ef=ef):
            hnsw.hnsw.efSearch = ef
            return hnsw.search(q.reshape(1, -1), 1000)
        searches.append(search)
    matvec = [lambda q: np.einsum("ij,j->i", vectors, q)]  # as Searcher.dense_scores computes it
    times = _interleaved(matvec + searches, list(qvecs))
    for ef, t in zip(ef_values, times[1:], strict=False):
        report.add(Figure(SECTION, f"HNSW efSearch={ef} search k=1000 at {n:,} real vectors", "ms", t,
                          f"exact: matrix-vector product (einsum) over the {n:,}", times[0],
                          paired_ratios=[a / b for a, b in zip(t, times[0], strict=False)]))
    report.note(SECTION, f"{n:,} real vectors ({len(searcher.index.vectors) + len(searcher.index.sentence_vectors):,}"
                f" of the 5 sources' passages and sentences, the rest from the bench's vector cache); HNSW build "
                f"{t_build:.0f} s; exact product {np.median(times[0]):.2f} ms = {np.median(times[0]) / n * 1e3:.3f} "
                "ms per 1,000 vectors")
    return out


# ---------------------------------------------------------------------------------------------------------


def large_build(report: Report, searcher, build_sample: int = 200, seed: int = 0) -> dict:
    from qa.index.load import load_index
    from qa.search import Searcher

    from .before import BeforeSearcher, before_faiss
    from .scale import _child_memory, _interleaved, _timed_build
    from .synth import make_corpus, make_large_corpus

    embedder = searcher.embedder
    tmp = Path(tempfile.mkdtemp(prefix="ipt-bench-large-"))
    out: dict = {}
    try:
        corpus5, index5 = tmp / "corpus5", tmp / "index5"
        shutil.copytree(ROOT / "corpus", corpus5)
        # The model's rate in this run: a full build of a fresh synthetic corpus with the real model, between
        # two full builds of the 5 sources.
        sample, sample_index = tmp / "sample", tmp / "sample-index"
        make_corpus(sample, build_sample, seed=seed + 1)
        t5a, rep5, _ = _timed_build(corpus5, index5, embedder, full=True)
        tS, repS, ratesS = _timed_build(sample, sample_index, embedder, full=True)
        t5b, _, _ = _timed_build(corpus5, index5, embedder, full=True)
        model_rate = float(np.median(ratesS)) if ratesS else repS.embedded / tS
        report.add(Figure(SECTION, f"build throughput with the model, fresh {repS.passages_total:,}-passage corpus "
                          f"({repS.embedded:,} texts in {tS:.0f} s)", "passages/s", [repS.passages_total / tS],
                          "full build of the 5 sources (x2)", [rep5.passages_total / t5a, rep5.passages_total / t5b]))
        shutil.rmtree(sample_index, ignore_errors=True)

        corpus, index_dir = tmp / "large", tmp / "large-index"
        t_gen, info = timed(make_large_corpus, corpus, seed=seed)
        stand_in = StandInEmbedder(embedder)
        t_build, rep, _ = _timed_build(corpus, index_dir, stand_in, full=True)
        rest = t_build - stand_in.seconds
        model_s = rep.embedded / model_rate
        share = rest / (rest + model_s)
        out.update(info=info, passages=rep.passages_total, texts=rep.embedded, build_s=t_build,
                   stand_in_s=stand_in.seconds, rest_s=rest, model_rate=model_rate, model_s_estimated=model_s)
        report.note(SECTION, f"large corpus: {info['bytes'] / 1e6:.1f} MB in {info['files']} files ({info['md_files']} "
                    f"Markdown), written in {t_gen:.0f} s; {rep.passages_total:,} passages, {rep.embedded:,} texts to "
                    f"embed; build without the model {rest:.1f} s (stand-in vectors {stand_in.seconds:.1f} s taken "
                    f"off); the model at {model_rate:.1f} texts/s (this run) would take {model_s:.0f} s")
        report.add(Figure(SECTION, f"share of the {info['bytes'] / 1e6:.0f} MB build that is not the model "
                          f"({rest:.1f} s of {rest + model_s:.0f} s)", "", [share], "the whole build (= 1)", [1.0],
                          max_ratio=0.10))
        report.add(Figure(SECTION, f"build throughput at {rep.passages_total:,} passages ({info['bytes'] / 1e6:.0f} MB), "
                          "model time from this run's rate", "passages/s", [rep.passages_total / (rest + model_s)],
                          f"fresh {repS.passages_total:,}-passage build with the model", [repS.passages_total / tS]))
        size = dir_size(index_dir / "current")
        report.add(Figure(SECTION, f"index size on disk at {rep.passages_total:,} passages", "MB", [size / 1e6],
                          "5-source index", [dir_size(index5 / "current") / 1e6]))

        mem_n, mem_5 = [], []
        for _ in range(2):
            mem_n.append(_child_memory(index_dir, corpus))
            mem_5.append(_child_memory(index5, corpus5))
        report.add(Figure(SECTION, f"VmRSS of a process that opened the {info['bytes'] / 1e6:.0f} MB index + 20 "
                          "questions", "MiB", [mib(m["after"]["VmRSS"]) for m in mem_n], "same with the 5-source index",
                          [mib(m["after"]["VmRSS"]) for m in mem_5]))
        report.add(Figure(SECTION, f"open_searcher time at {rep.passages_total:,} passages", "s",
                          [m["open_seconds"] for m in mem_n], "same with the 5-source index",
                          [m["open_seconds"] for m in mem_5]))

        big_index = load_index(index_dir, corpus, model_sha256=embedder.weights_sha256)
        kind = type(big_index.faiss_index).__name__
        qs = gold_questions()
        small = Searcher(searcher.index, embedder, searcher.settings, cache_size=0)
        big = Searcher(big_index, embedder, searcher.settings, cache_size=0)
        small_b = BeforeSearcher(searcher.index, embedder, searcher.settings, cache_size=0)
        big_b = BeforeSearcher(big_index, embedder, searcher.settings, cache_size=0,
                               faiss_index=before_faiss(big_index.vectors))
        for q in qs[:10]:
            for s in (small, big, small_b, big_b):
                s.ask(q)
        tb, ts, tbb, tsb = _interleaved([big.ask, small.ask, big_b.ask, small_b.ask], qs)
        report.add(Figure(SECTION, f"ask(q) at {rep.passages_total:,} passages ({kind}), question cache off", "ms", tb,
                          "ask(q) on the 5 sources", ts, max_ratio=1.5, paired_ratios=[a / b for a, b in zip(tb, ts, strict=False)]))
        report.add(Figure(SECTION, f"before: ask(q) at {rep.passages_total:,} passages (exact FAISS k=1000, argsorts, "
                          "difflib), question cache off", "ms", tbb, "before: ask(q) on the 5 sources", tsb,
                          paired_ratios=[a / b for a, b in zip(tbb, tsb, strict=False)]))
        report.add(Figure(SECTION, f"ask(q) at {rep.passages_total:,} passages, after vs before", "ms", tb,
                          "before, same questions", tbb, paired_ratios=[a / b for a, b in zip(tb, tbb, strict=False)]))
        return out
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def run(report: Report, searcher, build_sample: int = 200, sizes=(10_000, 28_000)) -> dict:
    out = {}
    for name, fn in (("spelling", lambda: spelling(report, searcher)),
                     ("query_path", lambda: query_path(report, searcher, sizes)),
                     ("ann_recall", lambda: ann_recall(report, searcher)),
                     ("large_build", lambda: large_build(report, searcher, build_sample))):
        t0 = time.perf_counter()
        out[name] = fn()
        report.note(SECTION, f"{name} took {time.perf_counter() - t0:.0f} s")
    return out

"""7. Scale: the query path, the index and memory as the corpus grows, against the project's own index.

Default step (cheap: nothing is embedded): the project's index tiled in memory to each of `sizes` passages
(10,000 and 28,000: either side of ANN_THRESHOLD, so one exact and one HNSW dense index) by `tile_index`:
passage vectors repeated with Gaussian noise (sigma 0.015 per dimension, renormalised; cosine to the original
about 0.96), sentence vectors and keyword tokens repeated, the dense index made by the build's own
`_faiss_bytes`. It measures FAISS, BM25 and the query path at that size, not a build: ask(q) with the
question cache off and with a cached vector (the pipeline alone), dense_scores, bm25_scores, candidates().

Corpus step, opt-in (`python -m bench --only 7 --scale-corpus 10000`): a synthetic corpus of about that many
passages (bench/synth.py, the real sources' sentences recombined) built in full by `build_index` with the real
model's vectors taken from the bench's vector cache (bench/vector_cache.py: exactly the model's output, kept
between runs; the first run embeds about 3.7 texts per passage, 10-30 minutes for 10,000 on 2 cores). It
measures the build minus the model, the index on disk, the memory of a fresh process that opened the index
and answered 20 questions (bench/scale_child.py), ask(q) at that size, and the recall@50 of the project's
HNSW index (M=32, efSearch HNSW_EF_SEARCH, k as the Searcher asks) on those real vectors against exact search.
"""

from __future__ import annotations

import json
import math
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

from .common import (
    ROOT,
    Figure,
    Report,
    dir_size,
    gold_questions,
    interleaved,
    mib,
    proc_status,
    quiet_env,
    ratios,
    timed,
)

SECTION = "7"
SIZES = (10_000, 28_000)


def tile_index(index, n_target: int, sigma: float = 0.015, seed: int = 0):
    """A LoadedIndex of `n_target` passages made by repeating `index` (see the module docstring)."""
    import bm25s
    import faiss

    from qa.index.build import _faiss_bytes
    from qa.index.load import LoadedIndex
    from qa.ingest.text import analyze

    n = len(index)
    factor = math.ceil(n_target / n)
    rng = np.random.default_rng(seed)
    passages = (index.passages * factor)[:n_target]
    reps = [index.vectors] + [index.vectors + rng.normal(0, sigma, index.vectors.shape).astype(np.float32)
                              for _ in range(factor - 1)]
    vectors = np.concatenate(reps)[:n_target]
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    per = np.tile(np.diff(index.sentence_offsets), factor)[:n_target]
    offsets = np.concatenate([[0], np.cumsum(per)]).astype(np.int64)
    sentence_vectors = np.tile(index.sentence_vectors, (factor, 1))[:offsets[-1]]
    fidx = faiss.deserialize_index(np.frombuffer(_faiss_bytes(vectors), dtype=np.uint8))
    tokens = [analyze(p.context) or ["\x00empty"] for p in index.passages]
    bm25 = bm25s.BM25(k1=1.2, b=0.75)
    bm25.index((tokens * factor)[:n_target], show_progress=False)
    manifest = dict(index.manifest, dense_index=type(fidx).__name__)
    return LoadedIndex(index.directory, manifest, passages, index.sources, fidx, bm25, vectors, sentence_vectors,
                       offsets, set(index.vocabulary))


def _latency(report: Report, label: str, big_index, searcher, questions: list[str]) -> None:
    """ask() and its stages on `big_index` against the searcher's own index (same embedder, interleaved)."""
    from qa.search import Searcher

    def pair(cache_size):
        return (Searcher(big_index, searcher.embedder, searcher.settings, cache_size=cache_size),
                Searcher(searcher.index, searcher.embedder, searcher.settings, cache_size=cache_size))

    big, small = pair(0)
    for q in questions[:10]:
        big.ask(q)
        small.ask(q)
    tb, ts = interleaved([big.ask, small.ask], questions)
    report.add(Figure(SECTION, f"ask(q) at {label}, question cache off", "ms", tb, "ask(q) on the project's index",
                      ts, paired_ratios=ratios(tb, ts)))
    big, small = pair(len(questions))  # the pipeline without the model: question vectors from the cache
    for q in questions:
        big.ask(q)
        small.ask(q)
    tb, ts = interleaved([big.ask, small.ask], questions)
    report.add(Figure(SECTION, f"ask(q) at {label}, cached vector (pipeline only)", "ms", tb,
                      "same on the project's index", ts, paired_ratios=ratios(tb, ts)))
    qv = dict(zip(questions, big.query.encode(questions), strict=True))
    stages = {"dense_scores": lambda s: lambda q: s.retriever.dense_scores(qv[q]),
              "query terms + bm25_scores": lambda s: lambda q: s.retriever.bm25_scores(s.query.terms(q)),
              "candidates() (both retrievers, fusion)": lambda s: lambda q: s.retriever.candidates(
                  q, s.query.terms(q), s.query.implicit(q), qv[q], "hybrid", None)}
    for what, stage in stages.items():
        tb, ts = interleaved([stage(big), stage(small)], questions)
        report.add(Figure(SECTION, f"{what} at {label}", "ms", tb, "same on the project's index", ts))


def tiled(report: Report, searcher, sizes=SIZES, questions: list[str] | None = None) -> None:
    qs = questions or gold_questions()[::2]  # half the gold questions: enough for medians, at two sizes
    for n in sizes:
        rss0 = proc_status().get("VmRSS", 0)
        t_tile, big = timed(tile_index, searcher.index, n)
        kind = type(big.faiss_index).__name__
        report.note(SECTION, f"tiled the project's {len(searcher.index):,} passages to {n:,} in {t_tile:.1f} s "
                    f"({kind}); this process grew {mib(proc_status().get('VmRSS', 0) - rss0):.0f} MiB")
        _latency(report, f"{n:,} tiled passages ({kind})", big, searcher, qs)
        del big


# ---------------------------------------------------------------------------------------------------------
# the opt-in corpus step


def _child_memory(index: Path, corpus: Path, n_questions: int = 20) -> dict:
    out = subprocess.run([sys.executable, "-m", "bench.scale_child", str(index), str(corpus), str(n_questions)],
                         cwd=ROOT, env=quiet_env(), capture_output=True, text=True, timeout=900)
    if out.returncode:
        raise RuntimeError(f"bench.scale_child failed: {out.stderr[-800:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def _memory(report: Report, n: int, big: tuple[Path, Path], small: tuple[Path, Path], repeats: int) -> None:
    """Memory and opening time of a fresh process (with the real model) per index, in alternation."""
    mem_n, mem_5 = [], []
    for _ in range(repeats):
        mem_n.append(_child_memory(*big))
        mem_5.append(_child_memory(*small))
    report.add(Figure(SECTION, f"VmRSS of a process that opened the {n:,}-passage index + 20 questions", "MiB",
                      [mib(m["after"]["VmRSS"]) for m in mem_n], "same with the project's index",
                      [mib(m["after"]["VmRSS"]) for m in mem_5]))
    report.add(Figure(SECTION, f"open_searcher time at {n:,} passages", "s", [m["open_seconds"] for m in mem_n],
                      "same with the project's index", [m["open_seconds"] for m in mem_5]))


def _build_minus_model(corpus: Path, index: Path, embedder) -> tuple[float, object]:
    """A full build's seconds outside the model's encode (the embedder is a CachingEmbedder), and its report."""
    from qa.index.build import build_index

    before = embedder.model_seconds
    seconds, rep = timed(build_index, corpus, index, embedder, full=True)
    return seconds - (embedder.model_seconds - before), rep


def _recall(report: Report, vectors: np.ndarray, qvecs: np.ndarray, k: int, label: str) -> None:
    import faiss

    from qa.index.build import _faiss_bytes
    from qa.settings import ANN_THRESHOLD

    if len(vectors) < ANN_THRESHOLD:
        report.note(SECTION, f"recall skipped: {len(vectors):,} vectors, fewer than ANN_THRESHOLD {ANN_THRESHOLD:,}")
        return
    t_build, hnsw = timed(lambda: faiss.deserialize_index(np.frombuffer(_faiss_bytes(vectors), dtype=np.uint8)))
    exact = np.argsort(-(qvecs @ vectors.T), axis=1, kind="stable")[:, :50]
    _, got = hnsw.search(qvecs, k)
    recall = [len(set(g[:50]) & set(e)) / 50 for g, e in zip(got.tolist(), exact.tolist(), strict=True)]
    ef = hnsw.hnsw.efSearch
    report.add(Figure(SECTION, f"HNSW M=32 efSearch={ef} recall@50 (k={k}) at {label} (mean {np.mean(recall):.4f})",
                      "", recall, "exact (= 1)", [1.0] * len(recall)))
    th, te = interleaved([lambda q: hnsw.search(q.reshape(1, -1), k),
                          lambda q: np.einsum("ij,j->i", vectors, q)], list(qvecs))
    report.add(Figure(SECTION, f"HNSW efSearch={ef} search k={k} at {label}", "ms", th,
                      "exact: matrix-vector product (einsum, as dense_scores)", te, paired_ratios=ratios(th, te)))
    report.note(SECTION, f"HNSW build {t_build:.0f} s for {len(vectors):,} vectors")


def corpus_step(report: Report, searcher, n_passages: int, use_cache: bool = True, seed: int = 0,
                rss_repeats: int = 2) -> dict:
    from qa.index.load import load_index

    from .synth import make_corpus
    from .vector_cache import CachingEmbedder

    qs = gold_questions()
    caching = CachingEmbedder(searcher.embedder, directory=None if use_cache else Path(tempfile.mkdtemp()))
    tmp = Path(tempfile.mkdtemp(prefix="ipt-bench-scale-"))
    try:
        corpus5, index5, corpus, index_dir = tmp / "corpus5", tmp / "index5", tmp / "corpus", tmp / "index"
        shutil.copytree(ROOT / "corpus", corpus5)
        t_gen, info = timed(make_corpus, corpus, n_passages, seed=seed)
        try:
            t_n, rep = _build_minus_model(corpus, index_dir, caching)
            base = [_build_minus_model(corpus5, index5, caching)[0] for _ in range(3)]
        finally:
            caching.save()
        n = rep.passages_total
        report.note(SECTION, f"synthetic corpus: {n:,} passages in {info['files']} files ({info['bytes'] / 1e6:.1f} "
                    f"MB), written in {t_gen:.1f} s; vector cache {caching.directory}: {caching.hits:,} hits, "
                    f"{caching.misses:,} texts embedded by the model ({caching.model_seconds:.0f} s)")
        report.add(Figure(SECTION, f"full build of {n:,} synthetic passages ({rep.embedded:,} texts) minus the "
                          "model's time", "s", [t_n], "same for the project's corpus (x3)", base))
        size_n, size_5 = dir_size(index_dir / "current"), dir_size(index5 / "current")
        report.add(Figure(SECTION, f"index size on disk at {n:,} passages", "MB", [size_n / 1e6],
                          "the project's index", [size_5 / 1e6], note=f"{size_n / n / 1024:.1f} KiB per passage"))
        if rss_repeats:
            _memory(report, n, (index_dir, corpus), (index5, corpus5), rss_repeats)
        big = load_index(index_dir, corpus, model_sha256=searcher.embedder.weights_sha256)
        _latency(report, f"{n:,} passages ({type(big.faiss_index).__name__})", big, searcher, qs)
        vectors = np.ascontiguousarray(np.concatenate([big.vectors, big.sentence_vectors]), dtype=np.float32)
        _recall(report, vectors, searcher.embedder.encode(qs), searcher.settings.candidates * 20,
                f"{len(vectors):,} real model vectors")
        return {"corpus": info, "passages": n, "build_minus_model_s": t_n, "index_mb": size_n / 1e6}
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
        if not use_cache:
            shutil.rmtree(caching.directory, ignore_errors=True)


def run(report: Report, searcher, sizes=SIZES, corpus_passages: int = 0, use_cache: bool = True) -> dict:
    """The tiled step at `sizes`; the corpus step too when `corpus_passages` > 0."""
    tiled(report, searcher, sizes)
    if corpus_passages > 0:
        return corpus_step(report, searcher, corpus_passages, use_cache=use_cache)
    report.note(SECTION, "corpus step not run (opt-in: --scale-corpus 10000)")
    return {}

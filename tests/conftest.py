"""Shared fixtures: a tiny hand-made corpus with a fake embedder for logic tests, and the real corpus with
the real bundled model (built once per session) for end-to-end tests."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("DISABLE_TQDM", "1")

ROOT = Path(__file__).resolve().parent.parent
DATA = Path(__file__).resolve().parent / "data"


@pytest.fixture
def tiny_corpus(tmp_path) -> Path:
    """A writable copy of tests/data/tiny (two sources: a .txt and a .md)."""
    dst = tmp_path / "corpus"
    shutil.copytree(DATA / "tiny", dst)
    return dst


@pytest.fixture
def fake_embedder():
    from fakes import HashEmbedder

    return HashEmbedder()


@pytest.fixture
def tiny_searcher(tiny_corpus, tmp_path, fake_embedder):
    from qa.index.build import build_index
    from qa.index.load import load_index
    from qa.search import Searcher
    from qa.settings import Settings

    # The fake embedder's similarities are not MiniLM's: abstention off so logic tests see every result.
    settings = Settings(abstain=False)
    build_index(tiny_corpus, tmp_path / "index", fake_embedder, settings)
    return Searcher(load_index(tmp_path / "index", tiny_corpus, settings=settings), fake_embedder, settings)


@pytest.fixture(scope="session")
def real_embedder():
    """The served path: ONNX Runtime (made in the cache folder on first use); torch's is `torch_embedder`."""
    from qa.index.onnx_embed import OnnxEmbedder

    return OnnxEmbedder()


@pytest.fixture(scope="session")
def torch_embedder():
    """The same model through sentence-transformers and torch, to compare the ONNX path with."""
    from qa.index.embed import MiniLMEmbedder

    return MiniLMEmbedder()


@pytest.fixture(scope="session")
def real_index_dir(tmp_path_factory, real_embedder) -> Path:
    """The real corpus indexed with the real model, once per test session (the corpus is only read)."""
    from qa.index.build import build_index

    d = tmp_path_factory.mktemp("real") / "index"
    build_index(ROOT / "corpus", d, real_embedder)
    return d


@pytest.fixture(scope="session")
def real_searcher(real_index_dir, real_embedder):
    from qa.index.load import load_index
    from qa.search import Searcher

    return Searcher(load_index(real_index_dir, ROOT / "corpus"), real_embedder)


# Fixtures that load the real bundled model: a test that uses one (directly or through another fixture) is a
# `model` test, whatever marks it was given by hand, so `-m "not model"` never loads the model.
MODEL_FIXTURES = {"real_embedder", "torch_embedder", "real_index_dir", "real_searcher", "real_app_url",
                  "real_app_client"}


def pytest_collection_modifyitems(config, items):
    for item in items:
        if MODEL_FIXTURES & set(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.model)

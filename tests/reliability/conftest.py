"""Fixtures of the reliability suite (RELIABILITY.md at the project root lists what each test shows).

The real model and the real index come from tests/conftest.py (`real_embedder`, `real_index_dir`,
`real_searcher`, built once per session); the page is served on 127.0.0.1 only.
"""

from __future__ import annotations

import os

import pytest

# Loopback must never go through a proxy, whatever the environment says.
for _key in ("NO_PROXY", "no_proxy"):
    os.environ[_key] = ",".join(x for x in (os.environ.get(_key, ""), "127.0.0.1", "localhost") if x)


@pytest.fixture(scope="session")
def real_app_url(real_searcher):
    """The real page (app.build_demo + app.launch with its default host) in this process, for the session."""
    from app_support import serve

    with serve(real_searcher) as url:
        assert url.startswith("http://127.0.0.1:"), url
        yield url


@pytest.fixture(scope="session")
def real_app_client(real_app_url):
    from gradio_client import Client

    return Client(real_app_url, analytics_enabled=False, verbose=False, download_files=False)

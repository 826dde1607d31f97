"""Helpers for the tests that serve the real page: a free local port and a running app."""

from __future__ import annotations

import contextlib
import socket
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
# Gradio's queue uses pandas options that pandas 3 deprecates: noise from the server thread, not ours.
GRADIO_PANDAS_NOISE = [pytest.mark.filterwarnings("ignore:.*no_silent_downcasting"),
                       pytest.mark.filterwarnings("ignore:The copy keyword is deprecated")]


def free_port() -> int:
    """A port that nothing listens on right now (the OS picks it)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextlib.contextmanager
def serve(searcher, corpus: Path = ROOT / "corpus"):
    """The page for `searcher` (sources from `corpus`), launched on 127.0.0.1 in this process; yields its URL,
    closes it after."""
    import app

    demo = app.build_demo(searcher, corpus)
    _, local_url, _ = app.launch(demo, port=free_port(), prevent_thread_lock=True, quiet=True)
    try:
        yield local_url.rstrip("/")
    finally:
        demo.close()

"""`ipt-qa` with the deterministic fake embedder in place of the model, for tests of the command's own
messages (the model would only add seconds of loading to a run that fails before it embeds anything)."""

from __future__ import annotations

import sys
from pathlib import Path

sys.path[:0] = [str(Path(__file__).resolve().parents[2]), str(Path(__file__).resolve().parents[1])]  # qa, fakes

from fakes import HashEmbedder  # noqa: E402

import qa.live  # noqa: E402
from qa.cli import main  # noqa: E402

qa.live.load_embedder = HashEmbedder

if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

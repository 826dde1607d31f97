"""The search modes in the order the evaluation reports them: each retriever alone, then their fusion."""

from __future__ import annotations

from qa.retrieve.query import MODES as SEARCH_MODES

FUSED = "hybrid"
MODES = (*(m for m in SEARCH_MODES if m != FUSED), FUSED)

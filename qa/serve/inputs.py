"""The checks of what a caller sends, shared by the page's events, its Gradio API /ask and POST /api/v1/ask:
one rule each, one-line messages (QuestionError), whatever the route."""

from __future__ import annotations

import math

from qa.retrieve.query import QuestionError
from qa.settings import k_problem


def whole_k(k: object, shown: str | None = None) -> int:
    """`k` as a whole number of passages (settings.k_problem), else QuestionError: 3.0 is 3, while int(k)
    silently made 2.9 into 2 and True into 1, and failed on 1e400 / Infinity with an empty error.
    `shown`: k as the caller wrote it, for the message."""
    if isinstance(k, float) and math.isfinite(k) and k.is_integer():
        k = int(k)
    problem = k_problem(k, shown)
    if problem:
        raise QuestionError(problem)
    assert isinstance(k, int)
    return k


def source_ids(payload: object) -> list[str]:
    """A source filter as sent: a list of ids (None: none given), else QuestionError. Whether each id is known
    is the Searcher's to say, against the build answering now."""
    if payload is None:
        return []
    if not isinstance(payload, list) or not all(isinstance(x, str) for x in payload):
        raise QuestionError("sources must be a list of source ids")
    return list(payload)

"""IPT passage assistant: answers questions about Interpersonal Psychotherapy by quoting its sources.

    from qa import open_searcher
    searcher = open_searcher()                      # the project's index, built first when missing or stale
    answer = searcher.ask("Who created IPT?", k=3)  # an Answer; answer.to_dict() is the documented record

The names below are the public API; everything else is inside the package and may move. They are imported on
first use, so that `import qa.settings` (say) does not load numpy and the model code.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from qa.errors import IndexProblem, QAError
    from qa.live import LiveSearcher, open_searcher
    from qa.records import AlsoIn, Answer, Citation, Hit
    from qa.retrieve.query import QuestionError
    from qa.search import Searcher
    from qa.settings import Settings

__version__ = "0.1.0"

_WHERE = {
    "open_searcher": "qa.live", "LiveSearcher": "qa.live", "Searcher": "qa.search",
    "Answer": "qa.records", "Hit": "qa.records", "AlsoIn": "qa.records", "Citation": "qa.records",
    "QAError": "qa.errors", "IndexProblem": "qa.errors", "QuestionError": "qa.retrieve.query",
    "Settings": "qa.settings",
}
__all__ = ["open_searcher", "LiveSearcher", "Searcher", "Answer", "Hit", "AlsoIn", "Citation", "QAError",
           "IndexProblem", "QuestionError", "Settings", "__version__"]


def __getattr__(name: str) -> Any:
    if name in _WHERE:
        value = getattr(importlib.import_module(_WHERE[name]), name)
        globals()[name] = value  # once found, a plain attribute
        return value
    raise AttributeError(f"module 'qa' has no attribute {name!r}")

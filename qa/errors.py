"""One exception family, so callers (CLI, web page) can turn any of them into a one-line message."""


class QAError(ValueError):
    """Base class: a problem a user can fix, with a message that says how."""


class CorpusError(QAError):
    """The corpus folder or its manifest is not usable (names the file at fault)."""


class IndexProblem(QAError):
    """The index is missing, corrupted or was built by something else (says how to rebuild)."""


class IndexMissing(IndexProblem):
    pass


class IndexStale(IndexProblem):
    """The index was built from other source files, settings or model than the ones here now."""


class IndexCorrupt(IndexProblem):
    pass


class ModelError(QAError):
    """The bundled embedding model is missing or its weights are not the expected ones."""


class GoldError(QAError):
    """The evaluation gold set cannot be read or does not match the corpus."""

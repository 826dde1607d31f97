"""A bound on how much one kind of error can write to the server's log.

Any client can make a server fail the same way over and over; each failure wrote its traceback (a 500 from
Gradio's routes was ~75 lines), so 200 requests grew the log by a megabyte. `RepeatLimit` lets the first
`burst` records of a kind (logger, level and message template) through in each `period`, drops the rest, and
says on the next one let through how many it dropped. The clock is a parameter, so a test can move it.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

# The loggers a request can make write: uvicorn's "Exception in ASGI application" and this project's servers.
SERVER_LOGGERS = ("uvicorn.error", "ipt-qa.app", "ipt-qa.serve.routes")


class RepeatLimit(logging.Filter):
    """A logging filter: at most `burst` records of one kind per `period` seconds (see the module docstring);
    at most `kinds` kinds remembered (past that the memory starts again, still bounded)."""

    def __init__(self, burst: int = 5, period: float = 60.0, kinds: int = 1024,
                 clock: Callable[[], float] = time.monotonic):
        super().__init__()
        self.burst, self.period, self.kinds, self.clock = burst, period, kinds, clock
        self._seen: dict[tuple, list] = {}  # kind -> [start of its period, records in it, dropped]

    def filter(self, record: logging.LogRecord) -> bool:
        kind = (record.name, record.levelno, str(record.msg)[:200])
        now = self.clock()
        seen = self._seen.get(kind)
        if seen is None or now - seen[0] >= self.period:
            dropped = seen[2] if seen else 0
            if len(self._seen) >= self.kinds:
                self._seen.clear()
            seen = self._seen[kind] = [now, 0, 0]
            if dropped:
                record.msg = f"{record.msg} [{dropped} more like this left out of the log]"
        seen[1] += 1
        if seen[1] > self.burst:
            seen[2] += 1
            return False
        return True


def limit_repeats(names: tuple[str, ...] = SERVER_LOGGERS, **kw) -> None:
    """Put one RepeatLimit on each logger in `names` (once: a second call changes nothing)."""
    for name in names:
        logger = logging.getLogger(name)
        if not any(isinstance(f, RepeatLimit) for f in logger.filters):
            logger.addFilter(RepeatLimit(**kw))

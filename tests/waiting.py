"""Waiting in tests: poll for the condition itself, with a deadline, instead of sleeping a fixed time and
hoping it came true (too short on a loaded machine fails at random; too long slows every run)."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")


def wait_for(condition: Callable[[], T], what: str, timeout: float = 30.0, interval: float = 0.05) -> T:
    """The first true value of `condition()`, polled every `interval` seconds; AssertionError naming `what`
    after `timeout` seconds. The deadline only stops a hang: it is not a claim about speed."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"waited {timeout:g} s for {what}")
        time.sleep(interval)

"""Waiting on a condition, with a bound: how tools and tests wait, never a fixed sleep."""

from __future__ import annotations

import time
from collections.abc import Callable


class WaitedTooLong(AssertionError):
    """The condition did not hold within the bound; the message says what was awaited."""


def wait_until[T](
    condition: Callable[[], T], *, timeout: float, what: str, interval: float = 0.1
) -> T:
    """``condition()``'s first truthy value, polled every ``interval`` real seconds; after
    ``timeout`` real seconds, :class:`WaitedTooLong` naming ``what`` was awaited."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() >= deadline:
            raise WaitedTooLong(f"waited {timeout:g} s for {what}, in vain")
        time.sleep(interval)

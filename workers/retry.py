"""One retry helper for every place that waits out a passing fault (Redis restarting, a network blip, a 5xx).

A `Backoff` is the schedule: exponential from `first`, capped at `cap`, optionally bounded by `attempts` or a
`deadline` (seconds from the first try). `retry()` runs a call until it succeeds, the error is not one to retry, or
the schedule is spent (then the last error is raised). Loops that wait forever (a watcher that must come back when
Redis does) use `Backoff.delay(n)` for their sleeps, so every wait in corral follows one schedule.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TypeVar

T = TypeVar("T")


@dataclass(frozen=True)
class Backoff:
    first: float = 0.1
    factor: float = 2.0
    cap: float = 5.0
    attempts: int | None = None  # tries in all, the first included; None: no bound
    deadline: float | None = None  # seconds from the first try; None: no bound

    def delay(self, failures: int) -> float:
        """Seconds to wait after the `failures`-th failure in a row (1-based)."""
        return float(min(self.cap, self.first * self.factor ** max(0, failures - 1)))


REDIS = Backoff(first=0.1, factor=2.0, cap=2.0)  # Redis unreachable: come back fast, never hammer it
WATCH = Backoff(first=0.2, factor=2.0, cap=5.0)  # a blocking watcher (events, pub/sub) waiting for Redis to return
HAND_BACK = Backoff(first=0.2, factor=2.0, cap=1.0, attempts=5)  # a dead worker's jobs, before the stalled check


async def retry(call: Callable[[], Awaitable[T]], *, on: tuple[type[BaseException], ...],
                backoff: Backoff = REDIS,
                on_retry: Callable[[int, BaseException, float], None] | None = None) -> T:
    """`await call()` until it returns; errors of the types `on` are retried per `backoff`, others raised."""
    started = time.monotonic()
    failures = 0
    while True:
        try:
            return await call()
        except on as e:
            failures += 1
            wait = backoff.delay(failures)
            spent = (backoff.attempts is not None and failures >= backoff.attempts) or (
                backoff.deadline is not None and time.monotonic() - started + wait > backoff.deadline)
            if spent:
                raise
            if on_retry is not None:
                on_retry(failures, e, wait)
            await asyncio.sleep(wait)

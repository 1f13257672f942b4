"""BullMQ's built-in retry backoffs, computed as Node's `Backoffs.calculate` does.

A job's `opts.backoff` comes from any producer, so every value is checked: a delay that is not a finite,
non-negative number or a jitter outside 0..1 is an InvalidBackoffError naming the option, and the job is not retried
(Node would pass such a value on to Redis, where the retry script fails half-way).
"""

from __future__ import annotations

import math
import random
from typing import Any


class UnknownBackoffError(ValueError):
    pass


class InvalidBackoffError(ValueError):
    pass


def _number(value: Any, what: str, *, default: float = 0.0) -> float:
    if value is None:
        return default
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise InvalidBackoffError(f"job option '{what}' is not a finite number: {str(value)[:40]!r}")
    if value < 0:
        raise InvalidBackoffError(f"job option '{what}' is negative: {value}")
    return float(value)


def backoff_delay_ms(backoff: Any, attempts_made: int, rng: random.Random | None = None) -> int:
    """Delay before retry number `attempts_made` (1-based); 0 retries at once.

    `backoff` is the job's `opts.backoff`: a number (fixed delay) or `{type, delay, jitter?}`.
    """
    if backoff is None or backoff is False:
        return 0
    if not isinstance(backoff, dict):
        if isinstance(backoff, int | float) and not isinstance(backoff, bool):
            return round(_number(backoff, "backoff"))
        raise InvalidBackoffError(f"job option 'backoff' is neither a number nor an object: {str(backoff)[:40]!r}")
    kind = backoff.get("type")
    delay = _number(backoff.get("delay"), "backoff.delay")
    jitter = _number(backoff.get("jitter"), "backoff.jitter")
    if jitter > 1:
        raise InvalidBackoffError(f"job option 'backoff.jitter' must be between 0 and 1, got {jitter}")
    if kind == "fixed":
        top = delay
    elif kind == "exponential":
        top = round(2 ** (attempts_made - 1) * delay)
    else:
        raise UnknownBackoffError(f"unknown backoff strategy {kind!r} (corral knows 'fixed' and 'exponential')")
    if jitter > 0:
        r = (rng or random).random()
        return math.floor(r * top * jitter + top * (1 - jitter))
    return round(top)

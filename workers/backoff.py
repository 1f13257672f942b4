"""BullMQ's built-in retry backoffs, computed as Node's `Backoffs.calculate` does."""

from __future__ import annotations

import random
from typing import Any


class UnknownBackoffError(ValueError):
    pass


def backoff_delay_ms(backoff: Any, attempts_made: int, rng: random.Random | None = None) -> int:
    """Delay before retry number `attempts_made` (1-based); 0 retries at once.

    `backoff` is the job's `opts.backoff`: a number (fixed delay) or `{type, delay, jitter?}`.
    """
    if backoff is None or backoff is False:
        return 0
    if isinstance(backoff, (int, float)) and not isinstance(backoff, bool):
        return int(backoff)
    if not isinstance(backoff, dict):
        raise UnknownBackoffError(f"backoff option {backoff!r} is neither a number nor an object")
    kind = backoff.get("type")
    delay = float(backoff.get("delay") or 0)
    if kind == "fixed":
        base = delay
    elif kind == "exponential":
        base = (2 ** (attempts_made - 1)) * delay
    else:
        raise UnknownBackoffError(f"unknown backoff strategy {kind!r} (corral knows 'fixed' and 'exponential')")
    jitter = float(backoff.get("jitter") or 0)
    if jitter > 0:
        r = (rng or random).random()
        base = base * (1 - jitter) + r * base * jitter
    return round(base)

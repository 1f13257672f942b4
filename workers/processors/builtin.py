"""Small processors for smoke tests, benchmarks and load checks.

Use them as `--queue NAME=workers.processors.builtin:noop` (or `:echo`, `:sleep`, `:fail`, or `:by_name`
for all four, chosen by the job name).
"""

from __future__ import annotations

import asyncio
from typing import Any

from workers.errors import UnrecoverableError
from workers.job import Job


async def noop(job: Job) -> None:
    """Does nothing: measures the consumer itself."""
    return None


async def echo(job: Job) -> Any:
    """Returns the job's data."""
    return job.data


async def sleep(job: Job) -> dict[str, float]:
    """Sleeps `data.seconds` (default 0.1) without blocking the worker: simulates I/O-bound work."""
    seconds = float((job.data or {}).get("seconds", 0.1)) if isinstance(job.data, dict) else 0.1
    await asyncio.sleep(seconds)
    return {"slept": seconds}


async def fail(job: Job) -> None:
    """Raises with `data.message`; `data.unrecoverable` makes it fail without retries."""
    data = job.data if isinstance(job.data, dict) else {}
    message = str(data.get("message", "failed on purpose"))
    if data.get("unrecoverable"):
        raise UnrecoverableError(message)
    raise RuntimeError(message)


# All of the above by job name, for one queue with mixed jobs: `--queue smoke=workers.processors.builtin:by_name`.
by_name = {"noop": noop, "echo": echo, "sleep": sleep, "fail": fail}

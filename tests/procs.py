"""Processors used by the pool tests: misbehaving on purpose (memory hogs, hangs, crashes)."""

from __future__ import annotations

import asyncio
import os
import time
from typing import Any

from pydantic import BaseModel, Field

from workers.job import Job
from workers.redis_clients import sync_client
from workers.redis_url import SyncClient

_HOARD: list[bytes] = []


def _redis() -> SyncClient:
    return sync_client(os.environ["TEST_REDIS_URL"])  # any URL form: a sentinel's in tests/test_sentinel.py


def _mark(job: Job) -> None:
    """Count every execution of a job in Redis, to prove a job ran (or did not run) twice. With TEST_RUNS_FILE set,
    in that file instead (a line per run): a count kept in Redis can itself be lost in a Sentinel failover (a
    write that reaches the old master after the promotion), which is what tests/test_sentinel.py tests."""
    if path := os.environ.get("TEST_RUNS_FILE"):
        with open(path, "a") as f:  # one short O_APPEND write per run: lines of several processes never mix
            f.write(f"{job.id}\n")
        return
    r = _redis()
    r.hincrby("test:runs", job.id, 1)
    r.hset("test:pids", job.id, os.getpid())


async def tracked(job: Job) -> dict[str, Any]:
    """Records the run, sleeps data.seconds (async), returns data."""
    _mark(job)
    await asyncio.sleep(float(job.data.get("seconds", 0)))
    return {"echo": job.data, "pid": os.getpid()}


def tracked_sync(job: Job) -> dict[str, Any]:
    """A `def` processor: runs in a thread, may burn CPU for data.cpu seconds without losing its lock."""
    _mark(job)
    end = time.monotonic() + float(job.data.get("cpu", 0))
    n = 0
    while time.monotonic() < end:
        n += sum(i * i for i in range(1000))
    job.progress(50)
    job.log("halfway")
    job.progress(100)
    return {"pid": os.getpid(), "n": n > -1}


async def hog(job: Job) -> str:
    """Allocates data.mb megabytes and holds them for data.hold seconds: a memory-hungry job."""
    _mark(job)
    mb = int(job.data.get("mb", 100))
    _HOARD.append(os.urandom(1024) * (mb * 1024))
    await asyncio.sleep(float(job.data.get("hold", 5)))
    return "survived"


async def hang(job: Job) -> None:
    """Blocks the event loop (a CPU-bound or stuck `async def`): heartbeats stop."""
    _mark(job)
    time.sleep(float(job.data.get("seconds", 3600)))


async def progress(job: Job) -> str:
    await job.update_progress(10)
    job.progress({"step": "two"})
    job.log("a log line")
    return "done"


class Payload(BaseModel):
    id: str = Field(min_length=1)
    count: int


async def validated(job: Job) -> int:
    data: Payload = job.data
    return data.count


validated.data_model = Payload  # type: ignore[attr-defined]


async def not_json(job: Job) -> object:
    return object()


by_name = {"tracked": tracked, "validated": validated}


async def _echo(job: Job) -> Any:
    return job.data


async def _fail(job: Job) -> None:
    raise ValueError(str(job.data.get("message", "failed")))


async def _flaky(job: Job) -> dict[str, int]:
    if job.attempts_made < int(job.data.get("fail_times", 1)):
        raise RuntimeError(f"flaky attempt {job.attempts_made + 1}")
    return {"succeeded_on_attempt": job.attempts_made + 1}


async def _ordered(job: Job) -> int:
    _redis().rpush("test:order", job.data["tag"])
    return int(job.data.get("n", 0))


interop = {"echo": _echo, "fail": _fail, "flaky": _flaky, "progress": progress, "ordered": _ordered}


async def many_progress(job: Job) -> int:
    """100 progress updates without waiting for any: they must land in order, ending at 100."""
    for i in range(1, 101):
        job.progress(i)
        if i % 10 == 0:
            await asyncio.sleep(0)  # let some go out in separate batches
    return 100


async def freeze(job: Job) -> None:
    """Freezes its whole worker, lock thread included (as SIGSTOP or a C extension stuck holding the GIL would)."""
    _mark(job)
    import signal

    os.kill(os.getpid(), signal.SIGSTOP)


async def cancellable(job: Job) -> str:
    """Sleeps data.seconds; records in Redis that it saw its cancellation."""
    _mark(job)
    try:
        await asyncio.sleep(float(job.data.get("seconds", 30)))
    except asyncio.CancelledError:
        _redis().hset("test:cancelled", job.id, job.cancel_reason or "")
        raise
    return "not cancelled"


async def discards(job: Job) -> None:
    """Fails for good on its first attempt, whatever attempts it has left."""
    _mark(job)
    job.discard()
    raise RuntimeError("cannot go on")


async def fuzz(job: Job) -> Any:
    """For corrupted jobs: fails when its data asks to, else returns a small value."""
    if isinstance(job.data, dict) and job.data.get("fail"):
        raise RuntimeError("asked to fail")
    return "done"

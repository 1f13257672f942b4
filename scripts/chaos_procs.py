"""The chaos soak's processor (scripts/chaos_soak.py): each execution is recorded in Redis before the job's work, so
the soak can count how often every job ran, and in which worker process."""

from __future__ import annotations

import asyncio
import os
from typing import Any

import redis.asyncio

from workers.job import Job

EXECUTIONS = "chaos:executions"  # a list of "<job id> <worker pid>", one entry per execution

_client: redis.asyncio.Redis | None = None


async def counted(job: Job) -> dict[str, Any]:
    """Records "<job id> <pid>", then works data.ms milliseconds (async, as an I/O-bound job)."""
    global _client
    if _client is None:
        _client = redis.asyncio.Redis.from_url(os.environ["CHAOS_REDIS_URL"])
    await _client.rpush(EXECUTIONS, f"{job.id} {os.getpid()}")
    await asyncio.sleep(float(job.data.get("ms", 20)) / 1000)
    return {"pid": os.getpid()}

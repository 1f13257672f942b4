"""The conformance processor for corral: runs `job.data.steps` as tests/node/conformance/interpret.mjs does for a
Node BullMQ 6 Worker, step for step, with corral's processor API."""

from __future__ import annotations

import asyncio
import os
import signal
import time
from typing import Any

import redis.asyncio

from workers.errors import DelayedError, RateLimitError, UnrecoverableError, WaitingChildrenError, WaitingError
from workers.job import Job

_client: redis.asyncio.Redis | None = None


def _redis() -> redis.asyncio.Redis:
    global _client
    if _client is None:
        _client = redis.asyncio.Redis.from_url(os.environ["TEST_REDIS_URL"], decode_responses=True)
    return _client


async def interpret(job: Job) -> Any:
    runs = await _redis().hincrby(f"conf:runs:{job.queue}", job.name, 1)
    result: Any = None
    for s in job.data.get("steps", []):
        op = s["op"]
        if op == "return":
            result = s["value"]
        elif op == "fail":
            raise RuntimeError(s["message"])
        elif op == "failUntil":
            if job.attempts_made < s["attempts"]:
                raise RuntimeError(f"{s['message']} {job.attempts_made + 1}")
        elif op == "unrecoverable":
            raise UnrecoverableError(s["message"])
        elif op == "progress":
            await job.update_progress(s["value"])
        elif op == "log":
            job.log(s["line"])
        elif op == "sleep":
            await asyncio.sleep(s["ms"] / 1000)
        elif op == "updateData":
            await job.update_data({**job.data, **s["data"]})
        elif op == "childrenValues":
            result = sorted((await job.get_children_values()).values())
        elif op == "ignoredFailures":
            result = sorted((await job.get_ignored_children_failures()).values())
        elif op == "extendLock":
            result = 1 if await job.extend_lock(s["ms"]) else 0  # Node returns the script's 1 or 0
        elif op == "delayOnce":
            if not job.data.get("delayed"):
                await job.update_data({**job.data, "delayed": True})
                await job.move_to_delayed(int(time.time() * 1000) + s["ms"])
                raise DelayedError()
        elif op == "waitOnce":
            if not job.data.get("waited"):
                await job.update_data({**job.data, "waited": True})
                await job.move_to_wait()
                raise WaitingError()
        elif op == "rateLimitOnce":
            if not job.data.get("limited"):
                await job.update_data({**job.data, "limited": True})
                await job.rate_limit(s["ms"])
                raise RateLimitError()
        elif op == "addJob":
            await job.add_job(s["name"], {"steps": [{"op": "return", "value": "added"}]})
        elif op == "addChildOnce":
            if not job.data.get("spawned"):
                await job.update_data({**job.data, "spawned": True})
                await job.add_child(s["child"], {"steps": [{"op": "sleep", "ms": 200},
                                                           {"op": "return", "value": "late"}]})
        elif op == "addChildAndWait":
            if not job.data.get("spawned"):
                await job.update_data({**job.data, "spawned": True})
                await job.add_child(s["child"], {"steps": [{"op": "return", "value": "from child"}]})
                if await job.move_to_waiting_children():
                    raise WaitingChildrenError()
        elif op == "crashOnce":
            if runs == 1:
                os.kill(os.getpid(), signal.SIGKILL)
        else:
            raise RuntimeError(f"unknown step {op}")
    return result

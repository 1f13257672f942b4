"""Cancelling a running job from anywhere: `corral cancel QUEUE JOB_ID` publishes on a Redis channel that every
daemon on that Redis listens to; the one whose worker holds the job asks that worker to cancel it (Node's
`worker.cancelJob`: the processor's task gets CancelledError, the attempt fails with "cancelled: <reason>" and is
retried per the job's attempts, as a Node processor that rejects on its abort signal would be)."""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Callable
from dataclasses import dataclass

import redis.asyncio
import redis.exceptions

from workers.bullmq_scripts import corral_key
from workers.redis_clients import pubsub_client
from workers.redis_url import AsyncClient
from workers.retry import WATCH

log = logging.getLogger("corral.supervisor")


def channel(prefix: str) -> str:
    return corral_key(prefix, "cancel")


@dataclass(frozen=True)
class CancelRequest:
    queue: str
    job_id: str
    reason: str

    def encode(self) -> str:
        return json.dumps({"queue": self.queue, "jobId": self.job_id, "reason": self.reason})

    @classmethod
    def decode(cls, raw: str) -> CancelRequest | None:
        try:
            d = json.loads(raw)
            return cls(str(d["queue"]), str(d["jobId"]), str(d.get("reason") or "cancelled"))
        except (ValueError, KeyError, TypeError):
            return None


async def publish(client: AsyncClient, prefix: str, request: CancelRequest) -> int:
    """How many daemons heard it."""
    return int(await client.publish(channel(prefix), request.encode()))


async def listen(redis_url: str, prefix: str, on_request: Callable[[CancelRequest], object]) -> None:
    """Subscribe until cancelled; a lost connection is retried with a backoff."""
    failures = 0
    while True:
        client: redis.asyncio.Redis | None = None
        try:
            # (On a cluster, finding the channel's node is I/O: inside the try, retried like a lost connection.)
            client = await pubsub_client(redis_url, channel(prefix), decode_responses=True, socket_connect_timeout=5)
            async with client.pubsub() as ps:
                await ps.subscribe(channel(prefix))
                failures = 0
                async for msg in ps.listen():
                    if msg.get("type") == "message" and (req := CancelRequest.decode(msg["data"])):
                        on_request(req)
        except (redis.exceptions.ConnectionError, redis.exceptions.TimeoutError, OSError) as e:
            failures += 1
            if failures == 3:
                log.warning("cancel channel: Redis unreachable (%s); retrying", e)
            await asyncio.sleep(WATCH.delay(failures))
        finally:
            if client is not None:
                await client.aclose()

"""How many Ollama calls may run at once: per worker process, and across the whole pool.

One Ollama server serves every worker (its OLLAMA_NUM_PARALLEL is small), so besides a per-process
semaphore, the pool shares a Redis semaphore: a sorted set of leases scored by their expiry, so a
lease held by a worker that was killed frees itself.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import redis.asyncio

ACQUIRE = """
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', ARGV[1])
if redis.call('ZCARD', KEYS[1]) < tonumber(ARGV[2]) then
  redis.call('ZADD', KEYS[1], ARGV[3], ARGV[4])
  return 1
end
return 0
"""


class PoolSemaphore:
    def __init__(self, client: redis.asyncio.Redis, key: str, limit: int, lease_seconds: float = 600) -> None:
        self.client = client
        self.key = key
        self.limit = limit
        self.lease = lease_seconds
        self._acquire = client.register_script(ACQUIRE)

    async def acquire(self) -> str:
        token = uuid.uuid4().hex
        delay = 0.02
        while True:
            now = time.time()
            if await self._acquire(keys=[self.key], args=[now, self.limit, now + self.lease, token]):
                return token
            await asyncio.sleep(delay)
            delay = min(0.25, delay * 1.5)

    async def release(self, token: str) -> None:
        await self.client.zrem(self.key, token)

    async def in_use(self) -> int:
        await self.client.zremrangebyscore(self.key, "-inf", time.time())
        return int(await self.client.zcard(self.key))


class OllamaLimiter:
    """`async with limiter.slot():` around every call: first a local slot, then a pool-wide lease."""

    def __init__(self, per_worker: int, pool: PoolSemaphore | None) -> None:
        self.local = asyncio.Semaphore(per_worker)
        self.pool = pool
        self.in_flight = 0

    @asynccontextmanager
    async def slot(self) -> AsyncIterator[None]:
        async with self.local:
            token = await self.pool.acquire() if self.pool is not None else None
            self.in_flight += 1
            try:
                yield
            finally:
                self.in_flight -= 1
                if self.pool is not None and token is not None:
                    await self.pool.release(token)

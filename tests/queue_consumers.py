"""corral's real QueueConsumers (workers/consumer.py) in the test's own event loop, on any Redis URL: the script
connection of workers/multiplex.py and one blocking connection per queue, as a worker process builds them."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

from workers.consumer import QueueConsumer
from workers.multiplex import script_connection
from workers.protocol import QueueSpec
from workers.redis_clients import blocking_client
from workers.registry import resolve
from workers.state import WorkerContext


async def consume(url: str, prefix: str, queues: Sequence[str], done: Callable[[], Awaitable[bool]], *,
                  concurrency: int = 10, timeout: float = 120,
                  during: Callable[[], Awaitable[Any]] | None = None) -> None:
    """Consume `queues` with the no-op processor until `done()` says so (checked every 50 ms), running `during()`
    meanwhile if given; then drain. Fails if `timeout` passes first."""
    loop = asyncio.get_running_loop()
    conn = script_connection(url)
    ctx = WorkerContext("w1", "corral-test-w1", 30_000)
    blocking = [blocking_client(url, decode_responses=True) for _ in queues]
    consumers = [
        QueueConsumer(QueueSpec(q, "workers.processors.builtin:noop", concurrency), resolve(
            "workers.processors.builtin:noop"), conn, b, ctx, prefix,
            lambda f, job: loop.run_in_executor(None, f, job))
        for q, b in zip(queues, blocking, strict=True)]
    tasks = [asyncio.create_task(c.run()) for c in consumers]
    side = asyncio.create_task(during()) if during is not None else None
    deadline = time.monotonic() + timeout
    try:
        while not await done():
            if time.monotonic() > deadline:
                raise TimeoutError(f"consumers not done within {timeout} s")
            for t in tasks:
                if t.done():
                    t.result()  # a consumer that crashed says why
            await asyncio.sleep(0.05)
        if side is not None:
            await side
    finally:
        ctx.draining = True
        for c in consumers:
            c.stop_fetching()
        await asyncio.wait_for(asyncio.gather(*tasks, return_exceptions=True), 30)
        if side is not None and not side.done():
            side.cancel()
        await conn.aclose()
        for b in blocking:
            await b.aclose()

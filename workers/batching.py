"""Auto-pipelining of script calls: the calls made in one event-loop turn go to Redis as one pipeline.

Why: a worker's job slots finish together (a no-op finishes 50 jobs per turn), and redis-py sends each
command on a connection of its own, paying a pool checkout, a write, a read wakeup and a release per
command. ioredis, under Node's BullMQ, writes every command to one socket without waiting, which is most
of why a Node worker outruns a Python one. Batching the turn's calls gets the same effect: one write,
replies read back in order, and each caller's future resolved with its own reply or error.

Each call is still its own atomic EVALSHA (no MULTI), errors stay per call, and a script Redis does not
know (NOSCRIPT, e.g. after a restart or SCRIPT FLUSH) is run again through redis-py's Script object,
which loads it. One thing changes: calls in different batches travel on different connections and may
reach Redis in either order. Callers that need an order await each call before the next (a job's
progress and log writes are chained in consumer.py).
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import redis.exceptions
from redis.asyncio import Redis
from redis.commands.core import AsyncScript

MAX_BATCH = 8  # bounds one pipeline's reply size; later calls go in the next one


@dataclass
class _Call:
    script: AsyncScript
    keys: Sequence[Any]
    args: Sequence[Any]
    future: asyncio.Future[Any]


class ScriptBatcher:
    def __init__(self, client: Redis) -> None:
        self.client = client
        self._pending: list[_Call] = []
        self._scheduled = False
        self._sending: set[asyncio.Task[None]] = set()

    def call(self, script: AsyncScript, keys: Sequence[Any], args: Sequence[Any]) -> asyncio.Future[Any]:
        loop = asyncio.get_running_loop()
        future: asyncio.Future[Any] = loop.create_future()
        self._pending.append(_Call(script, keys, args, future))
        if not self._scheduled:
            self._scheduled = True
            loop.call_soon(self._flush)  # after every coroutine ready this turn has queued its call
        return future

    def _flush(self) -> None:
        self._scheduled = False
        while self._pending:
            batch, self._pending = self._pending[:MAX_BATCH], self._pending[MAX_BATCH:]
            task = asyncio.get_running_loop().create_task(self._send(batch))
            self._sending.add(task)
            task.add_done_callback(self._sending.discard)

    async def _send(self, batch: list[_Call]) -> None:
        live = [c for c in batch if not c.future.done()]  # a caller cancelled before the send: skip its call
        if not live:
            return
        if len(live) == 1:
            await self._one(live[0])
            return
        pipe = self.client.pipeline(transaction=False)
        for c in live:
            pipe.evalsha(c.script.sha, len(c.keys), *c.keys, *c.args)
        try:
            replies = await pipe.execute(raise_on_error=False)
        except BaseException as e:  # connection lost, cancelled: every caller hears it and retries as before
            for c in live:
                if not c.future.done():
                    c.future.set_exception(e if isinstance(e, Exception) else redis.exceptions.ConnectionError(
                        "script batch cancelled"))
            if not isinstance(e, Exception):
                raise
            return
        for c, reply in zip(live, replies, strict=True):
            if isinstance(reply, redis.exceptions.NoScriptError):
                await self._one(c)
            elif c.future.done():
                continue
            elif isinstance(reply, Exception):
                c.future.set_exception(reply)
            else:
                c.future.set_result(reply)

    async def _one(self, c: _Call) -> None:
        try:
            reply = await c.script(keys=list(c.keys), args=list(c.args))
        except Exception as e:
            if not c.future.done():
                c.future.set_exception(e)
            return
        if not c.future.done():
            c.future.set_result(reply)

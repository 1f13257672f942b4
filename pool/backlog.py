"""Reading each queue's backlog: one pipelined round trip, and a watch on the event streams so a new
backlog is seen in milliseconds rather than at the next poll."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import redis.asyncio
import redis.exceptions
from redis.crc import key_slot

from workers.bullmq_scripts import QueueKeys
from workers.redis_clients import blocking_client
from workers.redis_url import parse as parse_url
from workers.retry import WATCH

log = logging.getLogger("corral.supervisor")


@dataclass(frozen=True)
class Backlog:
    queue: str
    wait: int
    prioritized: int
    delayed_due: int
    delayed_total: int
    active: int
    paused: bool
    global_concurrency: int | None
    rate_limited_ms: int
    # What BullMQ's Queue.getJobCounts() and exportPrometheusMetrics() report, read in the same round trip.
    completed: int = 0
    failed: int = 0
    waiting_children: int = 0
    paused_list: int = 0  # BullMQ 5's `paused` list (BullMQ 6 keeps a paused queue's jobs in `wait`)
    metrics_completed: int = 0  # BullMQ's own per-queue totals (the metrics hashes' `count`)
    metrics_failed: int = 0

    @property
    def runnable(self) -> int:
        return self.wait + self.prioritized + self.delayed_due

    def bullmq_counts(self) -> dict[str, int]:
        """By the state names of BullMQ's getJobCounts()."""
        return {"active": self.active, "completed": self.completed, "delayed": self.delayed_total,
                "failed": self.failed, "paused": self.paused_list, "prioritized": self.prioritized,
                "waiting": self.wait, "waiting-children": self.waiting_children}


async def probe(client: redis.asyncio.Redis, prefix: str, queues: Sequence[str]) -> dict[str, Backlog]:
    """All queues in one pipeline, no Lua, nothing O(n): safe to run every second."""
    now_score = int(time.time() * 1000) * 4096  # delayed scores are due_ms * 4096 + sequence
    pipe = client.pipeline(transaction=False)
    for q in queues:
        k = QueueKeys(prefix, q).key
        pipe.llen(k("wait"))
        pipe.zcard(k("prioritized"))
        pipe.zcount(k("delayed"), "-inf", now_score - 1)
        pipe.zcard(k("delayed"))
        pipe.llen(k("active"))
        pipe.hmget(k("meta"), ["paused", "concurrency"])
        pipe.pttl(k("limiter"))
        pipe.zcard(k("completed"))
        pipe.zcard(k("failed"))
        pipe.zcard(k("waiting-children"))
        pipe.llen(k("paused"))
        pipe.hget(k("metrics:completed"), "count")
        pipe.hget(k("metrics:failed"), "count")
    raw = await pipe.execute()
    out: dict[str, Backlog] = {}
    n = 13
    for i, q in enumerate(queues):
        wait, prio, due, delayed, active, meta, pttl, done, failed, children, paused_list, m_done, m_failed = (
            raw[i * n:(i + 1) * n])
        paused, conc = meta
        out[q] = Backlog(
            queue=q, wait=int(wait), prioritized=int(prio), delayed_due=int(due), delayed_total=int(delayed),
            active=int(active), paused=bool(paused), global_concurrency=int(conc) if conc else None,
            rate_limited_ms=max(0, int(pttl)), completed=int(done), failed=int(failed),
            waiting_children=int(children), paused_list=int(paused_list), metrics_completed=int(m_done or 0),
            metrics_failed=int(m_failed or 0),
        )
    return out


class EventWatcher:
    """XREAD BLOCK on every queue's event stream; calls `on_wake` when work may have appeared.

    It only needs to know that a stream moved, not what it says: a busy queue writes two events per job
    (thousands a second), and reading them all cost the supervisor a core's tenth. So each wake reads one
    entry per stream, jumps to the newest entry, wakes the scaler, and re-arms at most every `min_gap`
    seconds. Jumping before waking is what keeps it exact: everything up to the newest entry happened
    before the probe that the wake triggers, and everything after it wakes the next read.

    Its own connection, with no socket timeout: a blocking read must not be cut by one.
    """

    def __init__(self, redis_url: str, prefix: str, queues: Sequence[str], on_wake: Callable[[str], None],
                 min_gap: float = 0.05) -> None:
        self.redis_url = redis_url
        self.streams = {QueueKeys(prefix, q).key("events"): q for q in queues}
        self._cluster = parse_url(redis_url).kind == "cluster"
        self.on_wake = on_wake
        self.min_gap = min_gap

    async def run(self) -> None:
        # One XREAD names several streams, which a Redis Cluster refuses unless they share a slot: one reader per slot
        # (a single server, or queues under one hash-tagged prefix: one reader).
        groups: dict[int | None, list[str]] = {}
        for stream in self.streams:
            groups.setdefault(key_slot(stream.encode("utf-8", "surrogateescape")) if self._cluster else None,
                              []).append(stream)
        await asyncio.gather(*(self._read(streams) for streams in groups.values()))

    async def _read(self, streams: list[str]) -> None:
        client = blocking_client(self.redis_url, decode_responses=True)
        last: dict[str, str] = dict.fromkeys(streams, "$")
        failures = 0
        try:
            while True:
                try:
                    resp = await client.xread(last, count=1, block=5000)
                    moved = [stream for stream, entries in resp or [] if entries]
                    if moved:
                        pipe = client.pipeline(transaction=False)
                        for stream in moved:
                            pipe.xrevrange(stream, "+", "-", count=1)
                        for stream, newest in zip(moved, await pipe.execute(), strict=True):
                            if newest:
                                last[stream] = newest[0][0]
                    failures = 0
                except (redis.exceptions.ConnectionError, redis.exceptions.TimeoutError) as e:
                    failures += 1
                    if failures == 3:
                        log.warning("event stream watch: Redis unreachable (%s); polling only until it returns", e)
                    await asyncio.sleep(WATCH.delay(failures))
                    continue
                for stream in moved:
                    self.on_wake(self.streams[stream])
                if moved:
                    await asyncio.sleep(self.min_gap)
        finally:
            await client.aclose()

"""Adding jobs from inside a worker: bullmq's own Queue, FlowProducer and JobScheduler on one connection.

A processor that adds jobs (`job.add_job`, `job.add_child`, `job.add_flow`) and the consumer that creates a job
scheduler's next iteration use bullmq's Python classes, so the jobs they write are laid out exactly as bullmq
writes them. They share one redis-py client per worker process, opened on first use: most workers never add a
job and pay nothing. (The worker's hot path, moveToActive/moveToFinished, stays on its multiplexed connection.)
"""

from __future__ import annotations

import logging
import re
from typing import Any

from bullmq import FlowProducer, Queue
from bullmq.job import Job as BullJob
from bullmq.job_scheduler import JobScheduler

from workers.redis_clients import async_client
from workers.redis_url import AsyncClient

log = logging.getLogger("corral.worker")
_DIGITS = re.compile(r"[0-9]+")


class SchedulingError(Exception):
    """The next iteration of a job scheduler could not be created."""


class Producers:
    def __init__(self, redis_url: str, prefix: str) -> None:
        self.redis_url = redis_url
        self.prefix = prefix
        self._client: AsyncClient | None = None
        self._queues: dict[str, Queue] = {}
        self._flows: FlowProducer | None = None
        self._schedulers: dict[str, JobScheduler] = {}

    def _connection(self) -> AsyncClient:
        if self._client is None:
            self._client = async_client(self.redis_url, decode_responses=True, socket_timeout=30,
                                        socket_connect_timeout=5)
        return self._client

    def queue(self, name: str) -> Queue:
        q = self._queues.get(name)
        if q is None:
            q = self._queues[name] = Queue(name, {"connection": self._connection(), "prefix": self.prefix})
        return q

    async def add(self, queue: str, name: str, data: Any, opts: dict[str, Any]) -> str:
        job = await self.queue(queue).add(name, data, opts)
        return str(job.id)

    async def add_flow(self, flow: dict[str, Any]) -> dict[str, Any]:
        if self._flows is None:
            self._flows = FlowProducer({"connection": self._connection(), "prefix": self.prefix})
        tree = await self._flows.add(flow)
        if tree is None:
            raise RuntimeError("the flow producer is closing")
        return _ids(tree)

    async def next_iteration(self, queue: str, job_id: str, raw: dict[str, str]) -> str | None:
        """What Node's Worker does when it takes a job made by a job scheduler (`Worker.nextJobFromJobData`): upsert
        the scheduler without overriding it, so its next iteration is added. The id of the new job, or None when
        the scheduler ended (limit, endDate) or is gone. Legacy repeatable jobs (BullMQ 5) are refused as Node 6
        refuses them."""
        q = self.queue(queue)
        job = BullJob.fromJSON(q, raw, job_id)
        key = job.repeatJobKey
        if not key:
            return None
        scheduler = self._schedulers.get(queue)
        if scheduler is None:
            scheduler = self._schedulers[queue] = JobScheduler(q)
        if legacy_repeat_key(key) and not await scheduler.isJobScheduler(key):
            raise SchedulingError(
                f"Legacy repeatable job metadata is not supported in BullMQ v6 (key: {key!r}). Migrate legacy "
                "repeatable jobs to Job Schedulers (https://docs.bullmq.io/guide/migrations/migrate-from-v5-to-v6)")
        try:
            nxt = await scheduler.upsertJobScheduler(key, (job.opts or {}).get("repeat"), job.name, job.data,
                                                     job.opts, override=False, producer_id=job.id)
        except (ValueError, KeyError, TypeError) as e:
            raise SchedulingError(str(e)) from e
        return str(nxt.id) if nxt is not None else None

    async def aclose(self) -> None:
        for q in self._queues.values():
            await q.close()
        if self._flows is not None:
            await self._flows.close()
        if self._client is not None:
            await self._client.aclose()


def legacy_repeat_key(key: str) -> bool:
    """BullMQ 5's repeatable-job key shape `name:id:endDate:tz:<cron or every>` (Node 6's
    `hasLegacyRepeatableKeyShape`; bullmq's Python package has no such check)."""
    parts = key.split(":", 4)
    if len(parts) < 5:
        return False
    end_date, suffix = parts[2], parts[4]
    if end_date and not _DIGITS.fullmatch(end_date):
        return False
    return bool(suffix) and (" " in suffix or _DIGITS.fullmatch(suffix) is not None)


def _ids(tree: Any) -> dict[str, Any]:
    """A FlowProducer result (jobs with children) as plain ids: {"id", "queue", "children": [...]}."""
    job = tree["job"]
    return {"id": str(job.id), "queue": str(getattr(job.queue, "name", "")),
            "children": [_ids(c) for c in tree.get("children") or []]}

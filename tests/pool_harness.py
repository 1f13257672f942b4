"""Run a real Supervisor (forking real worker processes) inside a test's event loop."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import Any

from bullmq import Queue

from pool.config import CorralConfig
from pool.supervisor import Supervisor

FAST_POOL = {
    "min_workers": 1,
    "max_workers": 3,
    "heartbeat_interval": 0.2,
    "heartbeat_timeout": 5.0,
    "poll_interval": 0.2,
    "metrics_interval": 0.3,
    "scale_down_delay": 1.0,
    "shutdown_timeout": 10.0,
    "drain_timeout": 15.0,
    "start_timeout": 15.0,
    "max_jobs_per_worker": 0,
}


def make_config(redis_url: str, queues: list[tuple[str, str, int]], *, http: dict[str, Any] | None = None,
                jobtypes: tuple[str, ...] = (), **pool: Any) -> CorralConfig:
    """A fast pool on `redis_url`; no HTTP server unless `http` (e.g. {"port": 0}) asks for one. `jobtypes` are
    enabled with their settings loaded on their own ($CORRAL_<NAME>_CONFIG, else config/<name>.toml), their
    routes mounted; their default queues are not added (the test names its queues)."""
    from pool import plugins
    from workers import runtime

    loaded = plugins.load_all(list(jobtypes))
    return CorralConfig.model_validate({
        "redis": {"url": redis_url},
        "http": {"enabled": False} if http is None else http,
        "pool": {**FAST_POOL, **pool},
        "queues": [{"name": n, "processor": p, "concurrency": c} for n, p, c in queues],
        "log_level": "INFO",
        "jobtypes": loaded,
        "jobtype_settings": {n: runtime.jobtype_settings(n, jt.settings) for n, jt in loaded.items() if jt.settings},
    })


async def wait_for(pred: Callable[[], Any | Awaitable[Any]], timeout: float, what: str, step: float = 0.05) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = pred()
        if asyncio.iscoroutine(value):
            value = await value
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        await asyncio.sleep(step)


class RunningPool:
    def __init__(self, config: CorralConfig) -> None:
        self.config = config
        self.sup = Supervisor(config, config.redis.url)
        self.snapshots: list[dict[str, Any]] = []
        self.sup.on("metrics", self.snapshots.append)
        self.task: asyncio.Task[int] | None = None

    async def __aenter__(self) -> RunningPool:
        self.task = asyncio.create_task(self.sup.run())
        await wait_for(lambda: self.ready_count() >= self.config.pool.min_workers or self.task.done(), 20,
                       "min workers ready")
        if self.task.done():
            self.task.result()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    async def stop(self, timeout: float = 60) -> int:
        assert self.task is not None
        if not self.task.done():
            self.sup.request_stop()
        return await asyncio.wait_for(self.task, timeout)

    def ready_count(self) -> int:
        return sum(1 for w in self.sup.state.workers.values() if w.ready and w.drain_requested_at is None)

    def holder_of(self, job_id: str) -> Any:
        for w in self.sup.state.workers.values():
            if w.heartbeat and any(j.job_id == job_id for j in w.heartbeat.jobs):
                return w
        return None


def runs(r: Any, job_id: str) -> int:
    """How often tests.procs' tracked processors ran a job."""
    return int(r.hget("test:runs", job_id) or 0)


def job_state(r: Any, queue: str, job_id: str, prefix: str = "bull") -> str:
    """A job's BullMQ state read straight from the layout (sync redis client)."""
    k = f"{prefix}:{queue}:"
    for z in ("completed", "failed", "delayed", "prioritized"):
        if r.zscore(k + z, job_id) is not None:
            return z
    for lst in ("active", "wait", "paused"):
        if r.lpos(k + lst, job_id) is not None:
            return "waiting" if lst == "wait" else lst
    return "missing" if not r.exists(k + job_id) else "unknown"


def job_hash(r: Any, queue: str, job_id: str, prefix: str = "bull") -> dict[str, str]:
    raw = r.hgetall(f"{prefix}:{queue}:{job_id}")
    return {k.decode(): v.decode() for k, v in raw.items()}


async def add_jobs(redis_url: str, queue: str, jobs: list[tuple[str, Any, dict[str, Any]]]) -> list[str]:
    """The Python producer: bullmq's own Queue.add."""
    q = Queue(queue, {"connection": redis_url})
    try:
        return [(await q.add(name, data, opts)).id for name, data, opts in jobs]
    finally:
        await q.close()

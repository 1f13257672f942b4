"""The pool's observable state, in one object: the supervisor writes it, everything else reads it.

The HTTP side (dashboard, /metrics, probes), the metrics snapshot published to Redis for `corral status`, and the
listeners of `state.events` see the pool through `PoolState` alone; none of them imports the supervisor. The
snapshot is built here and nowhere else.
"""

from __future__ import annotations

import asyncio
import inspect
import logging
import os
import socket
import time
import uuid
from collections import Counter, deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from pool import policy
from pool.backlog import Backlog
from pool.config import CorralConfig, QueueConfig
from pool.failures import Failures
from pool.metrics import Counters, Restart, TelemetryTotals, Throughput
from pool.worker_process import WorkerProcess
from workers.jobtype import CheckResult
from workers.protocol import Tally

log = logging.getLogger("corral.supervisor")

SHARED = "pool"  # the group of the queues that share the pool's workers


@dataclass(frozen=True)
class Group:
    """Workers that serve the same queues within the same bounds: the shared pool, or a queue with workers of its
    own (its own min/max and memory limit, e.g. builds that need 2 GB while email workers keep 512 MB)."""

    name: str
    queues: tuple[QueueConfig, ...]
    min_workers: int
    max_workers: int
    limits: policy.Limits

    @property
    def queue_names(self) -> tuple[str, ...]:
        return tuple(q.name for q in self.queues)


def groups_of(cfg: CorralConfig) -> dict[str, Group]:
    p = cfg.pool

    def limits(max_mb: int, hard_bytes: int) -> policy.Limits:
        return policy.Limits(max_memory_bytes=max_mb * policy.MB, hard_memory_bytes=hard_bytes,
                             heartbeat_timeout=p.heartbeat_timeout, start_timeout=p.start_timeout,
                             drain_timeout=p.drain_timeout)

    shared = tuple(q for q in cfg.queues if not q.own_workers)
    out: dict[str, Group] = {}
    if shared:
        out[SHARED] = Group(SHARED, shared, p.min_workers, p.max_workers, limits(p.max_memory_mb, p.hard_memory_bytes))
    for q in cfg.queues:
        if q.own_workers:
            assert q.min_workers is not None and q.max_workers is not None
            mb = q.max_memory_mb or p.max_memory_mb
            out[q.name] = Group(q.name, (q,), q.min_workers, q.max_workers, limits(mb, int(mb * 1.5) * policy.MB))
    return out


class Events:
    """Listeners of "metrics" (a snapshot), "scale" (a decision) and "restart"; async listeners are scheduled."""

    def __init__(self) -> None:
        self._listeners: dict[str, list[Callable[[Any], Any]]] = {}
        self._tasks: set[asyncio.Future[Any]] = set()

    def on(self, event: str, callback: Callable[[Any], Any]) -> None:
        self._listeners.setdefault(event, []).append(callback)

    def emit(self, event: str, payload: Any) -> None:
        for cb in self._listeners.get(event, []):
            try:
                result = cb(payload)
                if inspect.isawaitable(result):
                    task = asyncio.ensure_future(result)
                    self._tasks.add(task)
                    task.add_done_callback(self._tasks.discard)
            except Exception:
                log.exception("%s listener failed", event)


@dataclass
class PoolState:
    cfg: CorralConfig
    daemon_id: str = ""
    host: str = field(default_factory=socket.gethostname)
    pid: int = field(default_factory=os.getpid)
    started_at: float = field(default_factory=time.time)
    groups: dict[str, Group] = field(default_factory=dict)
    workers: dict[str, WorkerProcess] = field(default_factory=dict)
    counters: Counters = field(default_factory=Counters)
    failures: Failures = field(default_factory=Failures)
    peak_depth: int = 0  # the largest backlog probed since the last snapshot (a spike between snapshots shows)
    telemetry: TelemetryTotals = field(default_factory=TelemetryTotals)
    throughput: Throughput = field(default_factory=Throughput)
    backlog: dict[str, Backlog] = field(default_factory=dict)
    restarts: deque[Restart] = field(default_factory=lambda: deque(maxlen=200))
    restart_counts: Counter[str] = field(default_factory=Counter)
    scaling_log: deque[dict[str, Any]] = field(default_factory=lambda: deque(maxlen=200))
    scaling_counts: Counter[str] = field(default_factory=Counter)  # "up" / "down"
    capacity: dict[str, int] = field(default_factory=dict)  # queue -> jobs we can run at once at our largest
    fleet_shares: dict[str, float] = field(default_factory=dict)  # queue -> part of its backlog we scale for
    start_failures: int = 0
    last_start_error: str = ""
    last_step_at: float = field(default_factory=time.time)  # /healthz: the loop is turning
    stopping: bool = False
    checks: dict[str, CheckResult] = field(default_factory=dict)  # dependency checks of the job types
    tasks_down: dict[str, str] = field(default_factory=dict)  # background task -> why it is down (restarting)
    events: Events = field(default_factory=Events)
    last_snapshot: dict[str, Any] | None = None

    def __post_init__(self) -> None:
        if not self.daemon_id:
            self.daemon_id = f"{self.host}-{self.pid}-{uuid.uuid4().hex[:6]}"
        self.reconfigure(self.cfg)

    def reconfigure(self, cfg: CorralConfig) -> None:
        """At start, and after a reload: the groups and capacities the configuration implies."""
        self.cfg = cfg
        self.groups = groups_of(cfg)
        self.capacity = {q.name: g.max_workers * q.concurrency for g in self.groups.values() for q in g.queues}

    @property
    def queue_names(self) -> list[str]:
        return [q.name for q in self.cfg.queues]

    def note_backlog(self, backlog: dict[str, Backlog]) -> None:
        self.backlog = backlog
        self.peak_depth = max(self.peak_depth, sum(b.runnable for b in backlog.values()))

    def ready_workers(self) -> int:
        return sum(1 for w in self.workers.values() if w.ready and w.drain_requested_at is None)

    def snapshot(self, now: float | None = None) -> dict[str, Any]:
        """The pool as the `metrics` event, `corral status`, the dashboard and peers (fleet sharing) see it."""
        now = time.time() if now is None else now
        total = self.counters.totals()
        attempts = total.finished + total.retried
        rate = self.throughput.add(now, total.finished)
        depth = sum(b.runnable for b in self.backlog.values())
        peak, self.peak_depth = max(self.peak_depth, depth), depth
        workers = [self._worker(w, now) for w in self.workers.values()]
        states = [w["state"] for w in workers]
        p = self.cfg.pool
        shared = self.groups.get(SHARED)
        soft, hard = ((shared.limits.max_memory_bytes, shared.limits.hard_memory_bytes) if shared
                      else (p.max_memory_mb * policy.MB, p.hard_memory_bytes))
        snap = {
            "daemonId": self.daemon_id, "host": self.host, "pid": self.pid,
            "at": round(now, 3), "uptime": round(now - self.started_at, 1),
            "activeWorkers": states.count("busy"), "idleWorkers": states.count("idle"),
            "startingWorkers": states.count("starting"), "drainingWorkers": states.count("draining"),
            "totalWorkers": len(workers),
            # Jobs that ended completed, jobs that ended failed, and failed attempts that will be retried.
            "totalProcessed": total.completed, "totalFailed": total.failed, "totalRetried": total.retried,
            "averageProcessingTime": round(total.seconds / attempts * 1000, 3) if attempts else 0.0,  # ms
            "queueDepth": depth, "peakQueueDepth": peak,  # peak: the largest probed since the last snapshot
            "throughput": round(rate, 2),  # jobs ended per second over the last minute
            "failures": self.failures.as_dict(),
            "queues": {q: self._queue(q, b) for q, b in self.backlog.items()},
            "workers": workers,
            "groups": {g.name: {"queues": list(g.queue_names), "minWorkers": g.min_workers,
                                "maxWorkers": g.max_workers,
                                "maxMemoryMb": round(g.limits.max_memory_bytes / policy.MB),
                                "hardMemoryMb": round(g.limits.hard_memory_bytes / policy.MB)}
                       for g in self.groups.values()},
            "restarts": {"total": sum(self.restart_counts.values()), "byReason": dict(self.restart_counts),
                         "recent": [r.as_dict() for r in list(self.restarts)[-20:]]},
            "scaling": list(self.scaling_log)[-20:],
            "limits": {"minWorkers": p.min_workers, "maxWorkers": p.max_workers,
                       "maxMemoryMb": round(soft / policy.MB), "hardMemoryMb": round(hard / policy.MB),
                       "lastStartError": self.last_start_error or None},
            "checks": {name: {"ok": c.ok, "detail": c.detail} for name, c in self.checks.items()},
            "capacity": dict(self.capacity), "fleetShare": dict(self.fleet_shares),
            "metricsInterval": p.metrics_interval, "stopped": self.stopping and not self.workers,
        }
        self.last_snapshot = snap
        return snap

    def _worker(self, w: WorkerProcess, now: float) -> dict[str, Any]:
        hb = w.heartbeat
        return {
            "workerId": w.worker_id, "pid": w.pid, "state": w.state(), "group": w.group,
            "rssMb": round(w.rss_bytes / policy.MB, 1),
            "jobs": [{"queue": j.queue, "jobId": j.job_id} for j in hb.jobs] if hb else [],
            "completed": hb.tally.completed if hb else 0, "failed": hb.tally.failed if hb else 0,
            "retried": hb.tally.retried if hb else 0,
            "cpuPercent": hb.cpu_percent if hb else 0.0,
            "uptime": round(now - w.spawned_at, 1),
            "lastHeartbeatAgo": round(now - w.last_seen, 2),
            "drainReason": w.drain_reason or None,
        }

    def _queue(self, name: str, b: Backlog) -> dict[str, Any]:
        t = self.counters.queue_totals().get(name, Tally())
        return {"waiting": b.wait, "prioritized": b.prioritized, "delayedDue": b.delayed_due,
                "delayed": b.delayed_total, "active": b.active, "paused": b.paused,
                "globalConcurrency": b.global_concurrency, "runnable": b.runnable,
                "completed": t.completed, "failed": t.failed, "retried": t.retried}

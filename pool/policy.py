"""The supervisor's decisions, as pure functions of what it observed.

Nothing here touches a process, a socket or a clock: callers pass `now` and the observations, and
get back actions. The loop in `supervisor.py` only gathers observations and applies actions, so
every rule below (when to kill, drain, grow, shrink) is tested without starting anything.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from typing import Literal

MB = 1024 * 1024

ObservedState = Literal["starting", "idle", "busy", "draining"]
# Why a worker was replaced: the label of the restarts counter, carried by the action that decided it.
RestartCategory = Literal["start_failed", "hung", "memory", "drain_timeout", "recycled", "reloaded", "scale_down",
                          "shutdown", "crashed", "other"]


@dataclass(frozen=True)
class WorkerObs:
    """One worker as the supervisor sees it at one instant."""

    worker_id: str
    state: ObservedState
    started_at: float
    last_seen: float  # last message from the worker (its spawn time until the first one)
    rss_bytes: int  # measured by the supervisor over the worker's whole process tree
    jobs_held: int
    jobs_done: int  # completed + failed, as last reported
    recycle_after: float | None  # jobs after which to recycle it (max_jobs_per_worker with jitter)
    drain_requested_at: float | None
    idle_since: float | None
    replacing: bool = False  # a replacement for it is starting: it works on until that one is ready
    max_age: float | None = None  # seconds after which to recycle it (max_worker_age with jitter)


@dataclass(frozen=True)
class Limits:
    max_memory_bytes: int
    hard_memory_bytes: int
    heartbeat_timeout: float
    start_timeout: float
    drain_timeout: float


@dataclass(frozen=True)
class Kill:
    worker_id: str
    reason: str
    blame_jobs: bool  # count this death against the jobs it held (poison-job protection)
    category: RestartCategory = "other"

    @property
    def wants_stacks(self) -> bool:
        """A stuck worker: dump its Python stacks to the log before killing it (gunicorn's abort does the same)."""
        return self.category in ("hung", "drain_timeout")


@dataclass(frozen=True)
class Drain:
    worker_id: str
    reason: str
    category: RestartCategory = "other"


@dataclass(frozen=True)
class Replace:
    """Start a worker in its place first; drain this one once the new one is ready (gunicorn's max_requests
    overlap): recycling or a soft memory breach costs no capacity while it happens."""

    worker_id: str
    reason: str
    category: RestartCategory = "other"


HealthAction = Kill | Drain | Replace


def health_action(w: WorkerObs, now: float, limits: Limits) -> HealthAction | None:
    """What to do about one worker's health, most urgent rule first."""
    if w.state == "starting":
        if now - w.started_at > limits.start_timeout:
            return Kill(w.worker_id, f"did not start within {limits.start_timeout:g}s", blame_jobs=False,
                        category="start_failed")
        return None
    silent = now - w.last_seen
    if silent > limits.heartbeat_timeout:
        return Kill(w.worker_id, f"no heartbeat for {silent:.1f}s (timeout {limits.heartbeat_timeout:g}s): hung",
                    blame_jobs=True, category="hung")
    if w.rss_bytes > limits.hard_memory_bytes:
        return Kill(w.worker_id, f"RSS {w.rss_bytes / MB:.0f} MB over the hard ceiling "
                                 f"{limits.hard_memory_bytes / MB:.0f} MB", blame_jobs=True, category="memory")
    if w.state == "draining":
        if w.drain_requested_at is not None and now - w.drain_requested_at > limits.drain_timeout:
            return Kill(w.worker_id, f"did not finish draining within {limits.drain_timeout:g}s", blame_jobs=True,
                        category="drain_timeout")
        return None
    if w.replacing:
        return None  # its replacement is on the way
    if w.rss_bytes > limits.max_memory_bytes:
        return Replace(w.worker_id, f"RSS {w.rss_bytes / MB:.0f} MB over the limit "
                                    f"{limits.max_memory_bytes / MB:.0f} MB", "memory")
    if w.recycle_after is not None and w.jobs_done >= w.recycle_after:
        return Replace(w.worker_id, f"recycled after {w.jobs_done} jobs (max_jobs_per_worker)", "recycled")
    if w.max_age is not None and now - w.started_at >= w.max_age:
        return Replace(w.worker_id, f"recycled after {now - w.started_at:.0f}s (max_worker_age)", "recycled")
    return None


def health_actions(workers: Iterable[WorkerObs], now: float, limits: Limits) -> list[HealthAction]:
    return [a for w in workers if (a := health_action(w, now, limits)) is not None]


# -- scaling ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class QueueDemand:
    """One queue's backlog as read from Redis, and what this daemon holds of it."""

    queue: str
    runnable: int  # wait + prioritized + delayed jobs already due
    held: int  # jobs of this queue our workers hold now
    paused: bool
    global_concurrency: int | None  # BullMQ's queue-wide limit (meta.concurrency)
    fleet_active: int  # LLEN active: every daemon's jobs, for the global concurrency cap
    per_worker_concurrency: int
    fleet_share: float = 1.0  # the part of the backlog this daemon takes on (1/daemons serving it)


def workers_needed(d: QueueDemand) -> int:
    runnable = 0 if d.paused else d.runnable
    runnable = math.ceil(runnable * d.fleet_share)
    if d.global_concurrency is not None:
        # Jobs beyond the queue's global concurrency cannot run, however many workers wait for them.
        room = max(0, d.global_concurrency - d.fleet_active)
        runnable = min(runnable, room)
    return math.ceil((runnable + d.held) / max(1, d.per_worker_concurrency))


@dataclass(frozen=True)
class ScalerState:
    low_since: float | None = None  # since when demand has been below the pool's size


@dataclass(frozen=True)
class ScaleDecision:
    spawn: int
    drain: tuple[str, ...]
    reason: str
    state: ScalerState


def scale(
    now: float,
    demands: Sequence[QueueDemand],
    workers: Sequence[WorkerObs],
    state: ScalerState,
    *,
    min_workers: int,
    max_workers: int,
    scale_down_delay: float,
    autoscale: bool = True,
) -> ScaleDecision:
    """Grow at once to what the backlog needs; shrink only after demand stayed low for
    `scale_down_delay` seconds, and only by draining idle workers (never a busy one)."""
    serving = [w for w in workers if w.state != "draining"]
    current = len(serving)
    if autoscale:
        need = max((workers_needed(d) for d in demands), default=0)
        desired = max(min_workers, min(max_workers, need))
        why = _describe(demands, need)
        if need < min_workers:
            why = f"min_workers {min_workers}; {why}"
    else:
        desired, why = min_workers, "autoscaling off"
    if current < desired:
        return ScaleDecision(desired - current, (), f"scale up {current} -> {desired}: {why}", ScalerState(None))
    if current == desired:
        return ScaleDecision(0, (), "", ScalerState(None))
    if state.low_since is None:
        return ScaleDecision(0, (), "", ScalerState(low_since=now))
    if now - state.low_since < scale_down_delay:
        return ScaleDecision(0, (), "", state)
    idle = sorted((w for w in serving if w.state == "idle"), key=lambda w: w.idle_since or w.started_at)
    chosen = tuple(w.worker_id for w in idle[: current - desired])
    if not chosen:
        return ScaleDecision(0, (), "", state)
    reason = (f"scale down {current} -> {current - len(chosen)}: {why}, "
              f"below capacity for {now - state.low_since:.0f}s")
    return ScaleDecision(0, chosen, reason, replace(state, low_since=None))


def _describe(demands: Sequence[QueueDemand], need: int) -> str:
    parts = []
    for d in demands:
        s = f"{d.queue} runnable={d.runnable} held={d.held}"
        if d.paused:
            s += " (paused)"
        if d.global_concurrency is not None:
            s += f" global_concurrency={d.global_concurrency}"
        parts.append(s)
    return f"need {need} ({'; '.join(parts) or 'no queues'})"


# -- restarts -------------------------------------------------------------------------------------


def respawn_delay(consecutive_start_failures: int, *, base: float = 0.5, cap: float = 30.0) -> float:
    """Backoff before starting another worker after workers failed to start, so an import error
    is reported and retried calmly instead of respawned in a tight loop."""
    if consecutive_start_failures <= 0:
        return 0.0
    return float(min(cap, base * 2 ** (consecutive_start_failures - 1)))


def recycle_threshold(limit: float, jitter_fraction: float, unit_random: float) -> float | None:
    """A recycling limit (jobs or seconds) plus up to `jitter_fraction` more, so workers started together do not all
    recycle together; None when the limit is 0 (off)."""
    if limit <= 0:
        return None
    return limit + limit * jitter_fraction * unit_random


def poison_verdict(kills: int, max_kills: int) -> bool:
    """A job whose workers were killed `max_kills` times while holding it ends failed."""
    return kills >= max_kills

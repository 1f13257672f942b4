"""The pool's metrics snapshot: built from worker heartbeats and the backlog probe, each count once.

Workers report cumulative counters; the supervisor keeps each worker's last report (also after it
exits), so a lost or repeated heartbeat can neither lose nor double a completion, and a job counts
where it finished, nowhere else.
"""

from __future__ import annotations

import json
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from workers.bullmq_scripts import corral_key
from workers.protocol import Tally
from workers.redis_url import AsyncClient
from workers.state import MAX_JOB_NAMES
from workers.telemetry import GaugeData, HistogramData, Labels, TelemetrySnapshot

SNAPSHOT_TTL_SECONDS = 24 * 3600
STOPPED_TTL_SECONDS = 600


def daemons_key(prefix: str) -> str:
    return corral_key(prefix, "daemons")


def snapshot_key(prefix: str, daemon_id: str) -> str:
    return corral_key(prefix, "daemon", daemon_id)


@dataclass
class Restart:
    at: float
    worker_id: str
    pid: int | None
    reason: str

    def as_dict(self) -> dict[str, Any]:
        return {"at": round(self.at, 3), "workerId": self.worker_id, "pid": self.pid, "reason": self.reason}


@dataclass
class Counters:
    """Cumulative tallies (completed, failed for good, retried attempts, seconds), per worker id, kept after the
    worker is gone."""

    by_worker: dict[str, Tally] = field(default_factory=dict)
    by_queue: dict[str, dict[str, Tally]] = field(default_factory=dict)  # worker -> queue -> tally

    def update(self, worker_id: str, tally: Tally, per_queue: dict[str, Tally]) -> None:
        self.by_worker[worker_id] = tally
        self.by_queue[worker_id] = dict(per_queue)

    def totals(self) -> Tally:
        return sum(self.by_worker.values(), Tally())

    def queue_totals(self) -> dict[str, Tally]:
        out: dict[str, Tally] = {}
        for per in self.by_queue.values():
            for q, t in per.items():
                out[q] = out.get(q, Tally()) + t
        return out


HistogramKey = tuple[str, Labels]
JOB_NAME = "job_name"
OTHER_JOB_NAME = "_other"
_SHARED_JOB_NAMES = frozenset({OTHER_JOB_NAME, "_invalid"})  # what workers already fold names into


@dataclass
class TelemetryTotals:
    """Workers' telemetry summed: histograms over every worker that ever ran, gauges over live ones.

    A reaped worker's histograms are folded into `retired`, so a pool that recycles workers for months
    keeps one entry per series rather than one per worker. Each worker bounds its own job-name labels,
    but every replacement starts with an empty set: the daemon admits at most `max_job_names` distinct
    names in the order it first sees them and folds the rest into `_other`, for live and retired workers
    alike. A name keeps its fate for the daemon's life (the set only grows, and once full nothing joins),
    so no series ever moves and counters never go backwards."""

    live: dict[str, TelemetrySnapshot] = field(default_factory=dict)
    retired: dict[HistogramKey, tuple[list[int], float]] = field(default_factory=dict)
    max_job_names: int = MAX_JOB_NAMES
    job_names: set[str] = field(default_factory=set)

    def update(self, worker_id: str, snapshot: TelemetrySnapshot) -> None:
        self.live[worker_id] = self._bounded(snapshot)

    def retire(self, worker_id: str) -> None:
        snap = self.live.pop(worker_id, None)
        if snap is not None:
            _fold(self.retired, snap)

    def histograms(self) -> dict[HistogramKey, tuple[list[int], float]]:
        out = {k: (list(c), t) for k, (c, t) in self.retired.items()}
        for snap in self.live.values():
            _fold(out, snap)
        return out

    def gauges(self) -> dict[HistogramKey, float]:
        out: dict[HistogramKey, float] = {}
        for snap in self.live.values():
            for g in snap.gauges:
                out[(g.name, g.labels)] = out.get((g.name, g.labels), 0.0) + g.value
        return out

    def _job_name(self, name: str) -> str:
        if name in self.job_names or name in _SHARED_JOB_NAMES:
            return name
        if len(self.job_names) < self.max_job_names:
            self.job_names.add(name)
            return name
        return OTHER_JOB_NAME

    def _labels(self, labels: Labels) -> Labels:
        if not any(k == JOB_NAME for k, _ in labels):
            return labels
        return tuple((k, self._job_name(v) if k == JOB_NAME else v) for k, v in labels)

    def _bounded(self, snap: TelemetrySnapshot) -> TelemetrySnapshot:
        """The snapshot with its job names admitted or folded; series that fold together are summed."""
        hists = [(h, self._labels(h.labels)) for h in snap.histograms]
        gauges = [(g, self._labels(g.labels)) for g in snap.gauges]
        if all(lb == h.labels for h, lb in hists) and all(lb == g.labels for g, lb in gauges):
            return snap  # nothing folded: the usual case
        merged: dict[HistogramKey, tuple[list[int], float]] = {}
        for h, lb in hists:
            _add(merged, (h.name, lb), h.counts, h.total)
        values: dict[HistogramKey, float] = {}
        for g, lb in gauges:
            values[(g.name, lb)] = values.get((g.name, lb), 0.0) + g.value
        return TelemetrySnapshot(
            histograms=tuple(HistogramData(n, lb, tuple(c), t) for (n, lb), (c, t) in merged.items()),
            gauges=tuple(GaugeData(n, lb, v) for (n, lb), v in values.items()))


def _fold(into: dict[HistogramKey, tuple[list[int], float]], snap: TelemetrySnapshot) -> None:
    for h in snap.histograms:
        _add(into, (h.name, h.labels), h.counts, h.total)


def _add(into: dict[HistogramKey, tuple[list[int], float]], key: HistogramKey, counts: Sequence[int],
         total: float) -> None:
    have, sum_ = into.get(key, ([0] * len(counts), 0.0))
    into[key] = ([a + b for a, b in zip(have, counts, strict=True)], sum_ + total)


@dataclass
class Throughput:
    """Jobs finished per second over a sliding window of (time, total) samples."""

    window: float = 60.0
    samples: deque[tuple[float, int]] = field(default_factory=deque)

    def add(self, now: float, total: int) -> float:
        self.samples.append((now, total))
        while len(self.samples) > 2 and now - self.samples[0][0] > self.window:
            self.samples.popleft()
        t0, n0 = self.samples[0]
        return (total - n0) / (now - t0) if now > t0 else 0.0


async def publish(client: AsyncClient, prefix: str, snapshot: dict[str, Any]) -> None:
    """Latest snapshot per daemon, plus an index of daemons, for `corral status` from another shell. (No MULTI: on a
    Redis Cluster the two keys may be in different slots; a plain pipeline is split per node.)"""
    pipe = client.pipeline(transaction=False)
    # A stopped daemon's last report stays a while (status shows it stopped), not a day.
    ttl = STOPPED_TTL_SECONDS if snapshot.get("stopped") else SNAPSHOT_TTL_SECONDS
    pipe.set(snapshot_key(prefix, snapshot["daemonId"]), json.dumps(snapshot), ex=ttl)
    pipe.zadd(daemons_key(prefix), {snapshot["daemonId"]: snapshot["at"]})
    # Forget daemons silent for a day, so the index cannot grow without bound.
    pipe.zremrangebyscore(daemons_key(prefix), "-inf", snapshot["at"] - SNAPSHOT_TTL_SECONDS)
    await pipe.execute()


async def read_snapshots(client: AsyncClient, prefix: str) -> list[dict[str, Any]]:
    ids = await client.zrevrange(daemons_key(prefix), 0, -1)
    if not ids:
        return []
    # One GET each in a pipeline rather than one MGET: on a Redis Cluster whose prefix has no hash tag, the daemons'
    # keys hash to different slots, and a multi-key command across slots fails (a pipeline is split per node).
    pipe = client.pipeline(transaction=False)
    for i in ids:
        pipe.get(snapshot_key(prefix, i))
    return [json.loads(r) for r in await pipe.execute() if r]

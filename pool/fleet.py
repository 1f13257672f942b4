"""Several daemons on one Redis: each takes on its part of a shared backlog instead of all of it.

Every daemon registers in Redis through its metrics snapshot (`pool/metrics.py`), which carries its
capacity per queue (max workers x concurrency) and when it was written. A daemon scales for its share of
each queue's runnable jobs: its capacity over the capacity of the live daemons serving that queue. When
a peer stops (its last snapshot says so) or goes silent, the others' shares grow at the next reading.
Pure functions of the snapshots and a clock, like `policy`.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

# A peer silent for this many of its own metrics intervals (plus slack) no longer counts.
SILENT_INTERVALS = 3
SLACK_SECONDS = 2.0


def capacity(max_workers: int, concurrency_by_queue: Mapping[str, int]) -> dict[str, int]:
    """Jobs this daemon can run at once, per queue, at its largest size."""
    return {q: max_workers * c for q, c in concurrency_by_queue.items()}


def is_live(snapshot: Mapping[str, Any], now: float) -> bool:
    if snapshot.get("stopped"):
        return False
    interval = float(snapshot.get("metricsInterval") or 5.0)
    return now - float(snapshot.get("at", 0)) <= SILENT_INTERVALS * interval + SLACK_SECONDS


def shares(me: str, mine: Mapping[str, int], snapshots: Iterable[Mapping[str, Any]], now: float) -> dict[str, float]:
    """For each queue in `mine`: the part of its backlog daemon `me` scales for (1.0 when alone)."""
    total = dict(mine)
    for snap in snapshots:
        if snap.get("daemonId") == me or not is_live(snap, now):
            continue
        for q, cap in (snap.get("capacity") or {}).items():
            if q in total:
                total[q] += int(cap)
    return {q: (cap / total[q] if total[q] else 1.0) for q, cap in mine.items()}

"""Measurements a worker sends up with its heartbeats, for the supervisor's Prometheus endpoint.

Histograms are cumulative since the worker started (like the job counters), so a lost heartbeat loses
nothing and a repeated one counts nothing twice; the supervisor folds a dead worker's last histograms
into its totals so they never go backwards. Gauges are current values and die with the worker.

Job durations are recorded by the consumer. Processors record their own: `TELEMETRY.track("ollama",
model=...)` around a call counts it in flight and times it.
"""

from __future__ import annotations

import bisect
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

# Seconds: from a no-op job to a long MYST build.
BUCKETS: tuple[float, ...] = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0,
                              120.0, 300.0, 600.0, 1800.0)
Labels = tuple[tuple[str, str], ...]


@dataclass(frozen=True)
class HistogramData:
    name: str
    labels: Labels
    counts: tuple[int, ...]  # per bucket, not cumulative; one more than BUCKETS for +Inf
    total: float


@dataclass(frozen=True)
class GaugeData:
    name: str
    labels: Labels
    value: float


@dataclass(frozen=True)
class TelemetrySnapshot:
    histograms: tuple[HistogramData, ...] = ()
    gauges: tuple[GaugeData, ...] = ()


@dataclass
class _Histogram:
    counts: list[int] = field(default_factory=lambda: [0] * (len(BUCKETS) + 1))
    total: float = 0.0


@dataclass
class Call:
    outcome: str = "ok"


class Telemetry:
    """Thread-safe: synchronous processors run on threads of the worker's pool."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._histograms: dict[tuple[str, Labels], _Histogram] = {}
        self._gauges: dict[tuple[str, Labels], float] = {}

    def reset(self) -> None:
        """A forked worker must not report what its parent measured."""
        self._lock = threading.Lock()
        self._histograms = {}
        self._gauges = {}

    def observe(self, name: str, seconds: float, **labels: str) -> None:
        self.observe_labelled(name, tuple(sorted(labels.items())), seconds)

    def observe_labelled(self, name: str, labels: Labels, seconds: float) -> None:
        """`observe` with the labels already sorted: for the consumer, once per job."""
        key = (name, labels)
        with self._lock:
            h = self._histograms.get(key)
            if h is None:
                h = self._histograms[key] = _Histogram()
            h.counts[bisect.bisect_left(BUCKETS, seconds)] += 1
            h.total += seconds

    def add(self, name: str, delta: float, **labels: str) -> None:
        key = (name, tuple(sorted(labels.items())))
        with self._lock:
            self._gauges[key] = self._gauges.get(key, 0.0) + delta

    @contextmanager
    def track(self, what: str, **labels: str) -> Iterator[Call]:
        """Count a call in `<what>_requests_in_flight` while it runs; time it into
        `<what>_request_duration_seconds` with an `outcome` label: "ok", "error" when it raises, or what the caller
        sets on the yielded Call ("timeout", "invalid_answer")."""
        call = Call()
        self.add(f"{what}_requests_in_flight", 1, **labels)
        started = time.perf_counter()
        try:
            yield call
        except BaseException:
            if call.outcome == "ok":
                call.outcome = "error"
            raise
        finally:
            self.add(f"{what}_requests_in_flight", -1, **labels)
            self.observe(f"{what}_request_duration_seconds", time.perf_counter() - started, **labels,
                         outcome=call.outcome)

    def snapshot(self) -> TelemetrySnapshot:
        with self._lock:
            return TelemetrySnapshot(
                histograms=tuple(HistogramData(n, lb, tuple(h.counts), h.total)
                                 for (n, lb), h in self._histograms.items()),
                gauges=tuple(GaugeData(n, lb, v) for (n, lb), v in self._gauges.items()),
            )


TELEMETRY = Telemetry()  # the worker process's one; a forked worker starts from a fresh one (see main.py)

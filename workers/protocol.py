"""Messages between the supervisor and a worker process, over a multiprocessing Pipe.

Plain frozen dataclasses: they pickle cheaply and both sides can type-check them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

from workers.settings import Place
from workers.telemetry import TelemetrySnapshot
from workers.tracing import TracingSettings

WorkerState = Literal["starting", "idle", "busy", "draining"]


@dataclass(frozen=True)
class QueueSpec:
    name: str
    processor: str  # "module:attribute"
    concurrency: int = 1
    metrics_max_data_points: int = 10080  # a week of per-minute points, as BullMQ's MetricsTime.ONE_WEEK
    limiter: tuple[int, int] | None = None  # (max jobs, per duration ms): Node's Worker `limiter` option
    max_started_attempts: int | None = None  # Node's Worker `maxStartedAttempts`


@dataclass(frozen=True)
class WorkerSettings:
    """Everything a worker process needs; built by the supervisor, pickled into the child."""

    worker_id: str
    daemon_id: str
    redis_url: str
    prefix: str
    queues: tuple[QueueSpec, ...]
    lock_duration_ms: int = 30_000
    heartbeat_interval: float = 1.0
    log_level: str = "INFO"
    stack_file: str = ""  # where the worker writes its Python stacks on SIGUSR1 (faulthandler)
    number: int = 0  # the worker's number within its daemon: `ps` shows "corral: worker 3 [queue]"
    place: Place = field(default_factory=Place)  # where data and user files are
    jobtype_settings: dict[str, Any] = field(default_factory=dict)  # each enabled job type's validated settings
    tracing: TracingSettings | None = None  # [tracing]; None or not enabled: no tracing


@dataclass
class Tally:
    """Outcomes of job attempts, cumulative since a worker started (so a lost heartbeat loses nothing and nothing is
    counted twice): completed, failed for good, and failed attempts that will be retried. Mutable, counted in place
    on a worker's hot path; a heartbeat carries copies."""

    completed: int = 0
    failed: int = 0
    retried: int = 0
    seconds: float = 0.0  # time in processors

    def add(self, status: str, seconds: float) -> None:
        if status == "completed":
            self.completed += 1
        elif status == "failed":
            self.failed += 1
        else:
            self.retried += 1
        self.seconds += seconds

    def copy(self) -> Tally:
        return Tally(self.completed, self.failed, self.retried, self.seconds)

    def __add__(self, other: Tally) -> Tally:
        return Tally(self.completed + other.completed, self.failed + other.failed, self.retried + other.retried,
                     self.seconds + other.seconds)

    @property
    def finished(self) -> int:
        """Jobs that ended, either way."""
        return self.completed + self.failed


@dataclass(frozen=True)
class FailureNote:
    """A failed attempt, as a worker saw it: the supervisor groups them by reason for operators."""

    seq: int  # per worker: the supervisor keeps each note once, however many heartbeats carry it
    at: float
    queue: str
    job_id: str
    name: str
    reason: str
    final: bool  # the job ended failed (else the attempt will be retried)


@dataclass(frozen=True)
class ReasonCount:
    """A worker's failed attempts of one cause, cumulative since it started. Every heartbeat carries all of them, so
    a burst of failures larger than the notes a heartbeat holds is still counted in full (the supervisor sums the
    workers' counts, as it sums their tallies)."""

    final: bool  # jobs that ended failed (else attempts that will be retried)
    group: str  # workers.failures.reason_group of the reason: what failures of one cause share
    reason: str  # the first text seen
    count: int
    last_at: float
    queue: str  # of the latest
    job_id: str


@dataclass(frozen=True)
class HeldJob:
    queue: str
    job_id: str
    token: str
    started_at: float


# worker -> supervisor


@dataclass(frozen=True)
class Ready:
    worker_id: str
    pid: int


@dataclass(frozen=True)
class StartFailed:
    """The worker could not start (a processor failed to import, Redis refused): not worth a tight respawn."""

    worker_id: str
    reason: str


@dataclass(frozen=True)
class Heartbeat:
    worker_id: str
    pid: int
    state: WorkerState
    jobs: tuple[HeldJob, ...]
    tally: Tally
    rss_bytes: int
    cpu_percent: float
    sent_at: float
    lost_locks: int = 0
    drain_reason: str = ""
    per_queue: dict[str, Tally] = field(default_factory=dict)
    failures: tuple[FailureNote, ...] = ()  # the worker's most recent failed attempts
    failure_counts: tuple[ReasonCount, ...] = ()  # all its failed attempts, counted by cause
    telemetry: TelemetrySnapshot = field(default_factory=TelemetrySnapshot)


@dataclass(frozen=True)
class Pong:
    worker_id: str
    sent_at: float


WorkerMessage = Ready | StartFailed | Heartbeat | Pong

# supervisor -> worker


@dataclass(frozen=True)
class CancelJob:
    """Cancel a job this worker runs (Node's `worker.cancelJob`): its processor task is cancelled."""

    queue: str
    job_id: str
    reason: str


Command = Literal["drain", "ping"] | CancelJob

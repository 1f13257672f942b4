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
    max_jobs: int | None = None  # recycle: stop fetching after this many jobs, finish, exit
    stack_file: str = ""  # where the worker writes its Python stacks on SIGUSR1 (faulthandler)
    number: int = 0  # the worker's number within its daemon: `ps` shows "corral: worker 3 [queue]"
    place: Place = field(default_factory=Place)  # where data and user files are
    jobtype_settings: dict[str, Any] = field(default_factory=dict)  # each enabled job type's validated settings
    tracing: TracingSettings | None = None  # [tracing]; None or not enabled: no tracing


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
    # Cumulative since the worker started, so a lost heartbeat loses nothing and nothing is counted twice.
    completed: int
    failed: int
    processing_seconds: float
    rss_bytes: int
    cpu_percent: float
    sent_at: float
    lost_locks: int = 0
    drain_reason: str = ""
    drain_recycled: bool = False  # the worker drains because it reached max_jobs
    per_queue: dict[str, tuple[int, int]] = field(default_factory=dict)  # queue -> (completed, failed)
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

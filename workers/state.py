"""What a worker process knows about itself; read by the heartbeat and the lock keeper thread."""

from __future__ import annotations

import asyncio
import itertools
import threading
from collections.abc import Callable
from dataclasses import dataclass, field

from workers.failures import FailureLog
from workers.protocol import HeldJob, Tally, WorkerState
from workers.telemetry import TELEMETRY, Labels

MAX_JOB_NAMES = 100  # distinct job-name label values per worker


class Gate:
    """Lets one job run alone in its worker: a suspect from a worker that died with several jobs in hand
    (pool/handback.py). While a job waits for or holds the gate, no slot fetches; jobs already in hand finish.

    Ordinary jobs pass with a counter and no await, so the hot path pays nothing while no suspect is around."""

    def __init__(self) -> None:
        self.running = 0
        self.exclusive = False
        self._changed: asyncio.Event | None = None

    async def wait_open(self) -> None:
        while self.exclusive:
            await self._wait()

    def enter(self) -> None:
        """An ordinary job starts (call after `wait_open` when `exclusive`)."""
        self.running += 1

    def leave(self) -> None:
        self.running -= 1
        if self.exclusive:
            self._notify()

    async def enter_alone(self) -> None:
        await self.wait_open()
        self.exclusive = True
        while self.running:
            await self._wait()

    def leave_alone(self) -> None:
        self.exclusive = False
        self._notify()

    async def _wait(self) -> None:
        if self._changed is None:
            self._changed = asyncio.Event()
        await self._changed.wait()

    def _notify(self) -> None:
        if self._changed is not None:
            self._changed.set()
            self._changed = None


@dataclass
class WorkerContext:
    worker_id: str
    worker_name: str
    lock_duration_ms: int
    draining: bool = False
    drain_reason: str = ""
    on_drain: Callable[[str], None] | None = None
    started: bool = False
    taken: int = 0
    tally: Tally = field(default_factory=Tally)
    failures: FailureLog = field(default_factory=FailureLog)
    lost_locks: int = 0
    per_queue: dict[str, Tally] = field(default_factory=dict)
    _labels: dict[tuple[str, str, str], Labels] = field(default_factory=dict)
    _job_names: set[str] = field(default_factory=set)
    gate: Gate = field(default_factory=Gate)
    _held: dict[str, HeldJob] = field(default_factory=dict)
    _finishing: set[str] = field(default_factory=set)  # tokens whose finishing script is under way
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _tokens: itertools.count[int] = field(default_factory=itertools.count)

    def new_token(self) -> str:
        # "<worker id>:<n>": the supervisor finds a dead worker's locks by this prefix.
        return f"{self.worker_id}:{next(self._tokens)}"

    def hold(self, job: HeldJob) -> None:
        with self._lock:
            self._held[job.token] = job
        self.taken += 1

    def finishing(self, token: str) -> None:
        """The job's outcome is being written: from here its lock goes away on purpose."""
        with self._lock:
            if token in self._held:
                self._finishing.add(token)

    def release(self, token: str) -> None:
        with self._lock:
            self._held.pop(token, None)
            self._finishing.discard(token)

    def still_working_on(self, job: HeldJob) -> bool:
        """The job is still in hand under the same token and not being finished: if its lock is gone now,
        it was lost, not released."""
        with self._lock:
            return self._held.get(job.token) == job and job.token not in self._finishing

    def held(self) -> tuple[HeldJob, ...]:
        with self._lock:
            return tuple(self._held.values())

    def record(self, queue: str, name: str, *, status: str, seconds: float) -> None:
        """One attempt's outcome, once it is in Redis: "completed", "failed" (for good) or "retried"."""
        label = self._label_for(name)
        labels = self._labels.get((queue, label, status))
        if labels is None:
            labels = self._labels[(queue, label, status)] = (("job_name", label), ("queue", queue), ("status", status))
        TELEMETRY.observe_labelled("job_duration_seconds", labels, seconds)
        self.tally.add(status, seconds)
        per_queue = self.per_queue.get(queue)
        if per_queue is None:
            per_queue = self.per_queue[queue] = Tally()
        per_queue.add(status, seconds)

    def _label_for(self, name: str) -> str:
        """A job name as a metrics label: bounded in length and in distinct values (a producer that writes
        a new name per job must not flood Prometheus). Not printable includes lone surrogates (not UTF-8)."""
        if not name or len(name) > 64 or not name.isprintable():
            return "_invalid"
        if name not in self._job_names:
            if len(self._job_names) >= MAX_JOB_NAMES:
                return "_other"
            self._job_names.add(name)
        return name

    @property
    def state(self) -> WorkerState:
        if not self.started:
            return "starting"
        if self.draining:
            return "draining"
        return "busy" if self._held else "idle"

"""One worker process as the supervisor holds it: start, talk, measure, kill."""

from __future__ import annotations

import asyncio
import multiprocessing
import multiprocessing.context
import os
import signal
import time
from dataclasses import dataclass, field
from multiprocessing.connection import Connection
from multiprocessing.context import ForkContext
from pathlib import Path
from typing import Any

import psutil

from pool.policy import RestartCategory, WorkerObs
from workers.main import run_worker
from workers.protocol import Command, Heartbeat, WorkerSettings


def mp_context(fresh: bool = False) -> Any:
    """fork: a worker starts in milliseconds with the processors the supervisor already imported.

    `fresh` (after a reload: SIGHUP or `corral run --reload`): spawn instead, a new interpreter that imports the
    processors as they are on disk now, so new code serves the new jobs. Slower to start (imports), and each such
    worker is a direct child of the supervisor as a forked one is.

    Not forkserver: when a service manager signals the whole process group (systemd's default), the
    fork server dies too, and with it every worker's exit sentinel: the supervisor would think live
    workers dead and hand their jobs back while they still run them. `run_worker` resets what a
    forked child must not keep from the supervisor (its event loop, signal handlers, pipes).
    """
    if fresh:
        return multiprocessing.get_context("spawn")
    ctx = multiprocessing.get_context("fork")
    assert isinstance(ctx, ForkContext)
    return ctx


def process_tree() -> dict[int, list[int]]:
    """parent pid -> child pids, for the whole machine, read once."""
    tree: dict[int, list[int]] = {}
    for p in psutil.process_iter(["ppid"]):
        ppid = p.info.get("ppid")
        if ppid:
            tree.setdefault(int(ppid), []).append(p.pid)
    return tree


@dataclass
class WorkerProcess:
    settings: WorkerSettings
    process: Any  # multiprocessing.Process of the fork context
    conn: Connection
    spawned_at: float
    recycle_after: float | None  # jobs (max_jobs_per_worker with jitter)
    max_age: float | None = None  # seconds (max_worker_age with jitter)
    group: str = "pool"  # pool.state.Group: the queues it serves and the limits it lives by
    # An overlapping replacement (recycling, a soft memory breach, a reload): the new worker's id while it starts,
    # and why; this one drains once that one is ready.
    replaced_by: str | None = None
    replace_reason: str = ""
    replace_category: RestartCategory = "other"
    replaces: str | None = None  # on the new worker: the one it replaces
    last_seen: float = 0.0
    ready: bool = False
    heartbeat: Heartbeat | None = None
    rss_bytes: int = 0
    drain_requested_at: float | None = None
    drain_reason: str = ""
    drain_category: RestartCategory = "other"
    kill_reason: str = ""  # set when the supervisor kills it; "" for any other death
    kill_category: RestartCategory = "other"
    blame_jobs: bool = False
    start_error: str = ""
    # The processes under the worker at the last sample. A worker that dies on its own leaves its children
    # (a build) to init: the supervisor kills them from this list, since /proc no longer links them to it.
    descendants: list[psutil.Process] = field(default_factory=list)
    idle_since: float | None = None
    _ps: psutil.Process | None = field(default=None, repr=False)

    @property
    def worker_id(self) -> str:
        return self.settings.worker_id

    @property
    def pid(self) -> int | None:
        pid: int | None = self.process.pid
        return pid

    @classmethod
    def start(cls, settings: WorkerSettings, recycle_after: float | None, inherited_fds: tuple[int, ...] = (), *,
              group: str = "pool", max_age: float | None = None, fresh: bool = False) -> WorkerProcess:
        """`inherited_fds`: the supervisor's ends of other workers' pipes, which the child closes so
        that each worker alone holds its pipe open and sees EOF when the supervisor dies."""
        ctx = mp_context(fresh)
        parent, child = ctx.Pipe(duplex=True)
        proc = ctx.Process(target=run_worker, args=(settings, child, (*inherited_fds, parent.fileno())),
                           name=f"corral-worker-{settings.worker_id}", daemon=False)
        proc.start()
        child.close()  # the child has its own copy; closing ours lets us see EOF when it dies
        now = time.time()
        return cls(settings=settings, process=proc, conn=parent, spawned_at=now, recycle_after=recycle_after,
                   max_age=max_age, group=group, last_seen=now)

    def state(self) -> str:
        if self.drain_requested_at is not None:
            return "draining"
        if not self.ready or self.heartbeat is None:
            return "starting"
        return self.heartbeat.state

    def observe(self) -> WorkerObs:
        hb = self.heartbeat
        state = self.state()
        return WorkerObs(
            worker_id=self.worker_id,
            state=state,  # type: ignore[arg-type]
            started_at=self.spawned_at,
            last_seen=self.last_seen,
            rss_bytes=self.rss_bytes,
            jobs_held=len(hb.jobs) if hb else 0,
            jobs_done=(hb.tally.finished + hb.tally.retried) if hb else 0,
            recycle_after=self.recycle_after,
            drain_requested_at=self.drain_requested_at,
            idle_since=self.idle_since,
            replacing=self.replaced_by is not None,
            max_age=self.max_age,
        )

    def send(self, command: Command) -> bool:
        try:
            self.conn.send(command)
            return True
        except (BrokenPipeError, OSError):
            return False

    def measure_rss(self, children_of: dict[int, list[int]]) -> int:
        """RSS of the worker and every process under it (a build's child counts against its worker).

        `children_of` is one snapshot of the process table for all workers (see `process_tree`):
        walking /proc once per sample rather than once per worker keeps the supervisor cheap.
        """
        if self.pid is None:
            return 0
        try:
            if self._ps is None:
                self._ps = psutil.Process(self.pid)
            total = int(self._ps.memory_info().rss)
        except psutil.Error:
            return self.rss_bytes
        known = {p.pid: p for p in self.descendants}
        descendants: list[psutil.Process] = []
        stack = list(children_of.get(self.pid, ()))
        while stack:
            pid = stack.pop()
            stack.extend(children_of.get(pid, ()))
            try:
                proc = known.get(pid) or psutil.Process(pid)
                total += int(proc.memory_info().rss)
                descendants.append(proc)
            except psutil.Error:
                pass
        self.rss_bytes = total
        self.descendants = descendants
        return total

    def kill(self) -> None:
        """SIGKILL the worker and its whole process tree."""
        pid = self.pid
        if pid is None:
            return
        try:
            _kill_all(psutil.Process(pid).children(recursive=True))
        except psutil.Error:
            pass
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass

    def kill_orphans(self) -> int:
        """SIGKILL what the dead worker left running; returns how many. psutil refuses a reused pid."""
        killed = _kill_all(self.descendants)
        self.descendants = []
        return killed

    async def dump_stacks(self, wait: float) -> str:
        """Ask the worker for its Python stacks (SIGUSR1, see workers.main) and return them, or why there are none."""
        pid, path = self.pid, Path(self.settings.stack_file)
        if pid is None or not self.settings.stack_file:
            return "left no stacks (no stack file)"
        try:
            if psutil.Process(pid).status() == psutil.STATUS_STOPPED:
                return "is stopped (SIGSTOP or a debugger): it cannot write its stacks"
            os.kill(pid, signal.SIGUSR1)
        except (psutil.Error, ProcessLookupError):
            return "is gone: no stacks"
        deadline = time.monotonic() + wait
        size = -1
        while time.monotonic() < deadline:
            await asyncio.sleep(0.05)
            now_size = _size(path)
            if now_size and now_size == size:
                break  # written and no longer growing
            size = now_size
        text = _read(path)
        return f"hung; its Python stacks:\n{text}" if text else f"did not write its stacks within {wait:g}s"

    def remove_stack_file(self) -> None:
        if self.settings.stack_file:
            Path(self.settings.stack_file).unlink(missing_ok=True)

    def exit_description(self) -> str:
        code = self.process.exitcode
        if code is None:
            return "still running"
        if code < 0:
            try:
                return f"killed by {signal.Signals(-code).name}"
            except ValueError:
                return f"killed by signal {-code}"
        return f"exited with code {code}"


def _size(path: Path) -> int:
    try:
        return path.stat().st_size
    except OSError:
        return 0


def _read(path: Path) -> str:
    try:
        return path.read_text(errors="replace").strip()
    except OSError:
        return ""


def _kill_all(procs: list[psutil.Process]) -> int:
    """SIGKILL each; returns how many were still there to kill."""
    killed = 0
    for proc in procs:
        try:
            proc.kill()
            killed += 1
        except psutil.Error:
            pass
    return killed

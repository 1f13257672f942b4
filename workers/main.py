"""Entry point of a worker process: import processors, connect, consume, heartbeat, drain, exit.

The supervisor starts `run_worker` in a multiprocessing child. Everything Redis-related is built here,
inside the child's own event loop (a client built in the parent would share its sockets).
"""

from __future__ import annotations

import asyncio
import base64
import contextvars
import faulthandler
import logging
import os
import signal
import socket
import sys
import threading
import time
from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from multiprocessing.connection import Connection
from typing import Any

import psutil
import redis
import redis.asyncio
import setproctitle

from workers import runtime, tracing
from workers.bullmq_scripts import QueueKeys, SyncScripts
from workers.consumer import QueueConsumer
from workers.errors import ProcessorImportError
from workers.logs import configure_worker_logging
from workers.multiplex import ScriptConnection, script_connection
from workers.producers import Producers
from workers.protocol import CancelJob, Heartbeat, HeldJob, Pong, QueueSpec, Ready, StartFailed, WorkerSettings
from workers.redis_clients import blocking_client, sync_client
from workers.redis_url import AsyncClient
from workers.registry import QueueProcessors, resolve
from workers.state import WorkerContext
from workers.telemetry import TELEMETRY
from workers.urls import redact

log = logging.getLogger("corral.worker")

EXIT_START_FAILED = 3
SHUTDOWN_HOOK_SECONDS = 10.0


def worker_name(settings: WorkerSettings) -> str:
    return f"corral-{socket.gethostname()}-{settings.worker_id}"


def client_name(prefix: str, queue: str, name: str) -> str:
    """The name Node's `queue.getWorkers()` looks for: `<prefix>:<base64(queue)>:w:<worker name>`.

    (The stock Python worker uses the raw queue name, so Node and dashboards never see it.)
    """
    b64 = base64.b64encode(queue.encode()).decode()
    return f"{prefix}:{b64}:w:{name}"


def run_worker(settings: WorkerSettings, conn: Connection, close_fds: tuple[int, ...] = ()) -> None:
    """multiprocessing target, in a child forked from the supervisor."""
    _forget_parent(close_fds)
    setproctitle.setproctitle(f"corral: worker {settings.number} [{', '.join(q.name for q in settings.queues)}]")
    TELEMETRY.reset()
    # Ctrl-C and a terminal's hangup reach the whole process group; only the supervisor decides what a worker does.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGHUP, signal.SIG_IGN)
    configure_worker_logging(settings)
    _stacks_on_sigusr1(settings.stack_file)
    runtime.settings = settings
    tracing.setup(settings.tracing)  # nothing at all unless [tracing] enabled
    try:
        processors = {q.name: resolve(q.processor) for q in settings.queues}
    except ProcessorImportError as e:
        conn.send(StartFailed(settings.worker_id, str(e)))
        sys.exit(EXIT_START_FAILED)
    worker = Worker(settings, conn, processors)
    signal.signal(signal.SIGTERM, lambda *_: worker.request_drain("SIGTERM"))
    with asyncio.Runner() as runner:
        code = runner.run(worker.run())
    tracing.shutdown()  # export the last spans: os._exit below skips the SDK's atexit hook
    logging.shutdown()
    # Leave now: a processor's library may have left a non-daemon thread behind (aiosqlite does), and
    # multiprocessing would join it forever. Our own work is done and flushed.
    os._exit(code)


def _stacks_on_sigusr1(path: str) -> None:
    """On SIGUSR1, write every thread's Python stack to `path`: the supervisor asks before it kills a worker that
    stopped answering, and logs where it hung. faulthandler writes from a C signal handler, so it works even while
    a thread holds the GIL in a stuck C extension."""
    if not path:
        return
    stack_file = open(path, "w")  # stays open for the process's life, as faulthandler needs
    faulthandler.register(signal.SIGUSR1, file=stack_file, all_threads=True)


def _forget_parent(close_fds: tuple[int, ...]) -> None:
    """Drop what a forked child inherits from the supervisor's running event loop."""
    asyncio.events._set_running_loop(None)  # we were forked from inside the parent's loop
    try:
        signal.set_wakeup_fd(-1)
    except ValueError:
        pass
    for sig in (signal.SIGTERM, signal.SIGCHLD, signal.SIGHUP):
        signal.signal(sig, signal.SIG_DFL)
    for fd in close_fds:
        try:
            os.close(fd)
        except OSError:
            pass


class Worker:
    def __init__(self, settings: WorkerSettings, conn: Connection, processors: dict[str, QueueProcessors]) -> None:
        self.settings = settings
        self.conn = conn
        self.processors = processors
        self.ctx = WorkerContext(settings.worker_id, worker_name(settings), settings.lock_duration_ms)
        self.ctx.on_drain = self._drain
        self.consumers: list[QueueConsumer] = []
        self.proc = psutil.Process()
        self.proc.cpu_percent(None)
        self._loop: asyncio.AbstractEventLoop | None = None
        self._keeper_stop = threading.Event()
        self._send_lock = threading.Lock()
        sync_slots = sum(q.concurrency for q in settings.queues if self._has_sync(q))
        self._executor = ThreadPoolExecutor(max_workers=max(1, sync_slots), thread_name_prefix="processor")

    def _has_sync(self, q: QueueSpec) -> bool:
        p = self.processors[q.name]
        procs = [p.default] if p.default else list(p.by_name.values())
        return any(not x.is_async for x in procs if x is not None)

    def send(self, msg: Any) -> None:
        with self._send_lock:
            try:
                self.conn.send(msg)
            except (BrokenPipeError, OSError):
                self.request_drain("supervisor went away")

    def request_drain(self, why: str) -> None:
        loop = self._loop
        if loop is None or self.ctx.draining:
            return
        loop.call_soon_threadsafe(self._drain, why)

    def _drain(self, why: str) -> None:
        if self.ctx.draining:
            return
        log.info("worker %s draining: %s", self.settings.worker_id, why)
        self.ctx.draining = True
        self.ctx.drain_reason = why
        for c in self.consumers:
            c.stop_fetching()

    def _run_sync(self, func: Any, job: Any) -> asyncio.Future[Any]:
        loop = asyncio.get_running_loop()
        # In the job's context, as asyncio.to_thread does: a `def` processor's spans are children of the job's.
        return loop.run_in_executor(self._executor, contextvars.copy_context().run, func, job)

    async def run(self) -> int:
        self._loop = asyncio.get_running_loop()
        s = self.settings
        clients: list[AsyncClient | ScriptConnection | Producers] = []
        producers = Producers(s.redis_url, s.prefix)  # connects on first use: most workers never add a job
        clients.append(producers)
        try:
            # The script calls of every queue share one connection, where a reply later than 30 s means a lost
            # one. The blocking BZPOPMIN connections must have no timeout, or redis-py turns every long block
            # into a hidden timeout-and-retry.
            conn = script_connection(s.redis_url, reply_timeout=30, connect_timeout=5)
            clients.append(conn)
            await conn.call("PING")
            for q in s.queues:
                blocking = blocking_client(
                    s.redis_url, decode_responses=True, socket_timeout=None, socket_connect_timeout=5,
                    single_connection_client=True,
                    client_name=client_name(s.prefix, q.name, self.ctx.worker_name),
                )
                clients.append(blocking)
                await blocking.ping()
                self.consumers.append(QueueConsumer(q, self.processors[q.name], conn, blocking, self.ctx,
                                                    s.prefix, self._run_sync, producers))
        except (redis.exceptions.RedisError, OSError) as e:
            self.send(StartFailed(s.worker_id, f"cannot reach Redis at {redact(s.redis_url)}: {e}"))
            await _close_all(clients)
            return EXIT_START_FAILED

        self._loop.add_reader(self.conn.fileno(), self._on_command)
        keeper = threading.Thread(target=self._keep_locks, name="lock-keeper", daemon=True)
        keeper.start()
        self.ctx.started = True
        self.send(Ready(s.worker_id, os.getpid()))
        heartbeats = asyncio.create_task(self._heartbeat_loop())
        try:
            await asyncio.gather(*(c.run() for c in self.consumers))
        finally:
            heartbeats.cancel()
            await asyncio.gather(heartbeats, return_exceptions=True)
            self._send_heartbeat()  # the last word: final counts, no jobs in hand
            self._keeper_stop.set()
            self._loop.remove_reader(self.conn.fileno())
            self._executor.shutdown(wait=False, cancel_futures=True)
            await _run_shutdown_hooks()
            await _close_all(clients)
        return 0

    def _on_command(self) -> None:
        try:
            cmd = self.conn.recv()
        except (EOFError, OSError):
            # The supervisor is gone: finish what we hold and leave rather than run unsupervised.
            assert self._loop is not None
            self._loop.remove_reader(self.conn.fileno())
            self._drain("supervisor went away")
            return
        if cmd == "drain":
            self._drain("asked by the supervisor")
        elif cmd == "ping":
            self.send(Pong(self.settings.worker_id, time.time()))
        elif isinstance(cmd, CancelJob):
            for c in self.consumers:
                if c.spec.name == cmd.queue and c.cancel(cmd.job_id, cmd.reason):
                    log.info("job %s on %s cancelled: %s", cmd.job_id, cmd.queue, cmd.reason,
                             extra={"queue": cmd.queue, "job_id": cmd.job_id})

    async def _heartbeat_loop(self) -> None:
        # Sent from the event loop on purpose: if a processor blocks the loop, heartbeats stop and
        # the supervisor treats the worker as hung. Lock renewal runs on its own thread instead.
        parent = os.getppid()
        while True:
            self._send_heartbeat()
            if os.getppid() != parent:
                self._drain("supervisor went away")
            await asyncio.sleep(self.settings.heartbeat_interval)

    def _send_heartbeat(self) -> None:
        try:
            rss = self.proc.memory_info().rss
            cpu = self.proc.cpu_percent(None)
        except psutil.Error:
            rss, cpu = 0, 0.0
        c = self.ctx
        c.failures.flush()  # a reason that repeated: say how often, once its window is over
        self.send(Heartbeat(
            worker_id=c.worker_id, pid=os.getpid(), state=c.state, jobs=c.held(), tally=c.tally.copy(),
            rss_bytes=rss, cpu_percent=cpu,
            sent_at=time.time(), lost_locks=c.lost_locks, drain_reason=c.drain_reason,
            per_queue={q: t.copy() for q, t in c.per_queue.items()}, failures=tuple(c.failures.recent),
            failure_counts=tuple(c.failures.counts.values()),
            telemetry=TELEMETRY.snapshot(),
        ))

    def _keep_locks(self) -> None:
        """Renew the locks of jobs in hand every lockDuration/2, on a thread and connection of its own."""
        s = self.settings
        client = sync_client(s.redis_url, socket_timeout=10, socket_connect_timeout=5)
        scripts = {q.name: SyncScripts(client, QueueKeys(s.prefix, q.name)) for q in s.queues}
        interval = s.lock_duration_ms / 2000
        try:
            while not self._keeper_stop.wait(interval):
                renew_locks(self.ctx, scripts, self.ctx.held(), s.lock_duration_ms)
        finally:
            client.close()


def renew_locks(ctx: WorkerContext, scripts: Mapping[str, SyncScripts], held: Sequence[HeldJob],
                duration_ms: int) -> list[HeldJob]:
    """Renew the locks of `held` (the jobs in hand a moment ago); warn about, and return, those really lost.

    A job that finished since `held` was read has no lock any more, and that is no loss: extendLocks
    reports it all the same. Only a job still in hand under the same token, and not being finished, lost
    its lock. (A finish that finds its lock gone reports it itself.)"""
    by_queue: dict[str, list[HeldJob]] = {}
    for h in held:
        by_queue.setdefault(h.queue, []).append(h)
    lost: list[HeldJob] = []
    for qname, jobs in by_queue.items():
        try:
            failed = set(scripts[qname].extend_locks([j.job_id for j in jobs], [j.token for j in jobs], duration_ms))
        except redis.exceptions.RedisError as e:
            log.warning("lock renewal on %s failed: %s", qname, e)
            continue
        for h in jobs:
            if h.job_id in failed and ctx.still_working_on(h):
                # Node emits 'lockRenewalFailed' and carries on; so do we. Finishing the job will then
                # fail cleanly, and the stalled check gives it to someone else.
                log.warning("lost the lock of job %s on %s", h.job_id, qname,
                            extra={"queue": qname, "job_id": h.job_id})
                lost.append(h)
    return lost


async def _run_shutdown_hooks() -> None:
    for hook in runtime.shutdown_hooks:
        try:
            await asyncio.wait_for(hook(), SHUTDOWN_HOOK_SECONDS)
        except Exception:
            log.exception("a processor's shutdown hook failed")


async def _close_all(clients: list[AsyncClient | ScriptConnection | Producers]) -> None:
    for c in clients:
        try:
            await c.aclose()
        except Exception:
            pass

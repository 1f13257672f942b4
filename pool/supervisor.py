"""The supervisor: one asyncio loop that owns the worker processes.

It observes (heartbeats over pipes, process exits through their sentinels, RSS through psutil, the
backlog through Redis), asks `policy` what to do, and does it (spawn, drain, kill, hand back). All
judgement lives in `policy`; this file is plumbing, kept thin on purpose.
"""

from __future__ import annotations

import asyncio
import inspect
import logging
import os
import random
import shutil
import signal
import socket
import tempfile
import threading
import time
import uuid
from collections import Counter, deque
from collections.abc import Callable
from pathlib import Path
from typing import Any

import redis.asyncio
import redis.exceptions

from pool import cancel, fleet, policy
from pool.backlog import Backlog, EventWatcher, probe
from pool.config import CorralConfig
from pool.handback import hand_back_jobs
from pool.http import HttpServer
from pool.metrics import Counters, Restart, TelemetryTotals, Throughput, build_snapshot, publish, read_snapshots
from pool.web import WebApp
from pool.worker_process import WorkerProcess, process_tree
from workers.bullmq_scripts import AsyncScripts, QueueKeys
from workers.main import worker_name
from workers.protocol import CancelJob, Heartbeat, Pong, QueueSpec, Ready, StartFailed, WorkerSettings
from workers.redis_clients import async_client
from workers.urls import redact

log = logging.getLogger("corral.supervisor")

TICK_SECONDS = 0.25  # health checks; backlog changes and worker exits wake the loop sooner
RSS_SAMPLE_SECONDS = 0.5
MIN_PROBE_GAP_SECONDS = 0.05
STACK_DUMP_WAIT_SECONDS = 1.0  # how long a stuck worker gets to write its stacks before it is killed


class Supervisor:
    def __init__(self, config: CorralConfig, redis_url: str, *, daemon_id: str | None = None) -> None:
        self.cfg = config
        self.redis_url = redis_url
        self.host = socket.gethostname()
        self.daemon_id = daemon_id or f"{self.host}-{os.getpid()}-{uuid.uuid4().hex[:6]}"
        self.prefix = config.redis.prefix
        self.queue_names = [q.name for q in config.queues]
        self.limits = policy.Limits(
            max_memory_bytes=config.pool.max_memory_mb * policy.MB,
            hard_memory_bytes=config.pool.hard_memory_bytes,
            heartbeat_timeout=config.pool.heartbeat_timeout,
            start_timeout=config.pool.start_timeout,
            drain_timeout=config.pool.drain_timeout,
        )
        self.workers: dict[str, WorkerProcess] = {}
        self.counters = Counters()
        self.telemetry = TelemetryTotals()
        self.capacity = fleet.capacity(config.pool.max_workers, {q.name: q.concurrency for q in config.queues})
        self.fleet_shares: dict[str, float] = {}  # queue -> part of its backlog we scale for (fleet.py)
        self.scaling_counts: Counter[str] = Counter()  # "up" / "down"
        self.last_step_at = time.time()
        self.throughput = Throughput()
        self.backlog: dict[str, Backlog] = {}
        self.restarts: deque[Restart] = deque(maxlen=200)
        self.restart_counts: Counter[str] = Counter()
        self.scaling_log: deque[dict[str, Any]] = deque(maxlen=200)
        self.scaler_state = policy.ScalerState()
        self.start_failures = 0
        self.next_spawn_at = 0.0
        self.last_start_error = ""
        self.started_at = time.time()
        self.last_snapshot: dict[str, Any] | None = None
        self._listeners: dict[str, list[Callable[[Any], Any]]] = {}
        self._wake = asyncio.Event()
        self._backlog_dirty = True
        self._last_probe = 0.0
        self._last_rss_sample = 0.0
        self._stopping = False
        self._stop_now = False
        self._reaping: set[asyncio.Task[None]] = set()
        self._listener_tasks: set[asyncio.Future[Any]] = set()
        self._tasks: list[asyncio.Task[None]] = []
        self._background_stop = False  # the background loops' exit, should a cancellation be swallowed
        self.client: redis.asyncio.Redis | None = None
        self.scripts: dict[str, AsyncScripts] = {}
        self.http: HttpServer | None = None
        self.web: WebApp | None = None
        # Workers write their stacks here when asked before a kill (0700: stacks can show data).
        self.stack_dir = Path(tempfile.mkdtemp(prefix="corral-stacks-"))

    # -- public API ----------------------------------------------------------------------------------

    def on(self, event: str, callback: Callable[[Any], Any]) -> None:
        """Subscribe to "metrics" (a snapshot dict), "scale" (a decision dict), "restart" (a dict)."""
        self._listeners.setdefault(event, []).append(callback)

    def request_stop(self) -> None:
        """First call: graceful shutdown. Second call: stop at once (jobs in hand are still handed back)."""
        if self._stopping:
            if not self._stop_now:
                log.warning("second stop signal: killing workers now")
            self._stop_now = True
        else:
            log.info("stop requested: no new jobs; finishing jobs in hand within %gs", self.cfg.pool.shutdown_timeout)
            self._stopping = True
        self._wake.set()

    def cancel_job(self, request: cancel.CancelRequest) -> bool:
        """Ask the worker holding the job to cancel it; False when none of ours holds it."""
        for w in self.workers.values():
            if w.heartbeat and any(j.queue == request.queue and j.job_id == request.job_id for j in w.heartbeat.jobs):
                log.info("cancelling job %s on %s (worker %s): %s", request.job_id, request.queue, w.worker_id,
                         request.reason, extra={"queue": request.queue, "job_id": request.job_id})
                return w.send(CancelJob(request.queue, request.job_id, request.reason))
        return False

    @property
    def stopping(self) -> bool:
        return self._stopping

    def snapshot(self) -> dict[str, Any]:
        now = time.time()
        completed, failed, _ = self.counters.totals()
        rate = self.throughput.add(now, completed + failed)
        workers = []
        for w in self.workers.values():
            hb = w.heartbeat
            workers.append({
                "workerId": w.worker_id, "pid": w.pid, "state": w.state(),
                "rssMb": round(w.rss_bytes / policy.MB, 1),
                "jobs": [{"queue": j.queue, "jobId": j.job_id} for j in hb.jobs] if hb else [],
                "completed": hb.completed if hb else 0, "failed": hb.failed if hb else 0,
                "cpuPercent": hb.cpu_percent if hb else 0.0,
                "uptime": round(now - w.spawned_at, 1),
                "lastHeartbeatAgo": round(now - w.last_seen, 2),
                "drainReason": w.drain_reason or None,
            })
        snap = build_snapshot(
            daemon_id=self.daemon_id, host=self.host, pid=os.getpid(), started_at=self.started_at,
            workers=workers, counters=self.counters, backlog=self.backlog, throughput=rate,
            restarts=list(self.restarts), restart_counts=dict(self.restart_counts),
            scaling=list(self.scaling_log),
            limits={"minWorkers": self.cfg.pool.min_workers, "maxWorkers": self.cfg.pool.max_workers,
                    "maxMemoryMb": self.cfg.pool.max_memory_mb,
                    "hardMemoryMb": round(self.limits.hard_memory_bytes / policy.MB),
                    "lastStartError": self.last_start_error or None},
            now=now,
        )
        snap.update(capacity=self.capacity, fleetShare=dict(self.fleet_shares),
                    metricsInterval=self.cfg.pool.metrics_interval, stopped=self._stopping and not self.workers)
        self.last_snapshot = snap
        return snap

    # -- the loop ------------------------------------------------------------------------------------

    async def run(self) -> int:
        loop = asyncio.get_running_loop()
        self.client = async_client(self.redis_url, decode_responses=True, socket_timeout=10, socket_connect_timeout=5)
        await self.client.ping()
        self.scripts = {
            q: AsyncScripts(self.client, QueueKeys(self.prefix, q), f"corral-supervisor-{self.daemon_id}",
                            self.cfg.pool.lock_duration_ms)
            for q in self.queue_names
        }
        if threading.current_thread() is threading.main_thread():
            for sig in (signal.SIGTERM, signal.SIGINT):
                loop.add_signal_handler(sig, self.request_stop)
        log.info("supervisor %s up: redis %s, queues %s, workers %d..%d, memory limit %d MB",
                 self.daemon_id, redact(self.redis_url), ", ".join(self.queue_names),
                 self.cfg.pool.min_workers, self.cfg.pool.max_workers, self.cfg.pool.max_memory_mb)
        if self.cfg.http.enabled:
            self.web = WebApp(self)
            self.http = HttpServer(self.cfg.http, self.web.app)
            try:
                await self.http.start()
            except BaseException:
                await self.web.close()
                await self.client.aclose()
                raise
        watcher = EventWatcher(self.redis_url, self.prefix, self.queue_names, self._on_backlog_event)
        self._tasks = [
            asyncio.create_task(self._guard(watcher.run(), "event watcher"), name="event watcher"),
            asyncio.create_task(self._guard(self._stalled_loop(), "stalled check"), name="stalled check"),
            asyncio.create_task(self._guard(self._metrics_loop(), "metrics"), name="metrics"),
            asyncio.create_task(self._guard(cancel.listen(self.redis_url, self.prefix, self.cancel_job), "cancel"),
                                name="cancel channel"),
        ]
        try:
            while not self._stopping:
                await self._step()
                try:
                    await asyncio.wait_for(self._wake.wait(), TICK_SECONDS)
                except TimeoutError:
                    pass
                self._wake.clear()
            await self._shutdown()
        finally:
            self._background_stop = True
            for t in self._tasks:
                t.cancel()
            # Bounded: a cancellation that lands inside a Redis call can be swallowed by the client, and the
            # daemon must stop anyway.
            _, stuck = await asyncio.wait(self._tasks, timeout=5)
            for t in stuck:
                log.warning("background task %s did not stop within 5s; leaving it", t.get_name())
            if threading.current_thread() is threading.main_thread():
                for sig in (signal.SIGTERM, signal.SIGINT):
                    loop.remove_signal_handler(sig)
            await self._publish_final()
            if self.web is not None:
                await self.web.close()  # first: ends the dashboard's streams, which would hold the server open
            if self.http is not None:
                await self.http.stop()
            await self.client.aclose()
            shutil.rmtree(self.stack_dir, ignore_errors=True)
        return 0

    async def _guard(self, coro: Any, what: str) -> None:
        try:
            await coro
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("%s task crashed; the pool keeps running without it", what)

    def _on_backlog_event(self, queue: str) -> None:
        self._backlog_dirty = True
        self._wake.set()

    async def _step(self) -> None:
        now = time.time()
        self.last_step_at = now  # /healthz: the loop is turning
        if now - self._last_rss_sample >= RSS_SAMPLE_SECONDS:
            self._last_rss_sample = now
            tree = process_tree()
            for w in list(self.workers.values()):
                if w.process.exitcode is None:
                    w.measure_rss(tree)
        for action in policy.health_actions([w.observe() for w in self.workers.values()], now, self.limits):
            target = self.workers.get(action.worker_id)
            if target is None:
                continue
            if isinstance(action, policy.Kill):
                self._kill(target, action.reason, blame=action.blame_jobs, category=action.category,
                           dump_stacks=action.wants_stacks)
            else:
                self._drain(target, action.reason, action.category)
        since = now - self._last_probe
        # Events wake us at once, but a busy producer emits thousands a second: one probe per 50 ms is plenty.
        if (self._backlog_dirty and since >= MIN_PROBE_GAP_SECONDS) or since >= self.cfg.pool.poll_interval:
            await self._probe()
        self._scale(now)

    async def _probe(self) -> None:
        assert self.client is not None
        self._backlog_dirty = False
        self._last_probe = time.time()
        try:
            self.backlog = await probe(self.client, self.prefix, self.queue_names)
        except (redis.exceptions.RedisError, OSError) as e:
            log.warning("backlog probe failed: %s (scaling on the last reading)", e)

    def _demands(self) -> list[policy.QueueDemand]:
        held: Counter[str] = Counter()
        for w in self.workers.values():
            if w.heartbeat:
                held.update(j.queue for j in w.heartbeat.jobs)
        out = []
        for q in self.cfg.queues:
            b = self.backlog.get(q.name)
            if b is None:
                continue
            out.append(policy.QueueDemand(
                queue=q.name, runnable=b.runnable, held=held[q.name], paused=b.paused,
                global_concurrency=b.global_concurrency, fleet_active=b.active,
                per_worker_concurrency=q.concurrency, fleet_share=self.fleet_shares.get(q.name, 1.0),
            ))
        return out

    def _scale(self, now: float) -> None:
        p = self.cfg.pool
        decision = policy.scale(
            now, self._demands(), [w.observe() for w in self.workers.values()], self.scaler_state,
            min_workers=p.min_workers, max_workers=p.max_workers, scale_down_delay=p.scale_down_delay,
            autoscale=p.autoscale,
        )
        self.scaler_state = decision.state
        spawn = decision.spawn
        if spawn and now < self.next_spawn_at:
            return  # workers are failing to start: the backoff holds
        if spawn or decision.drain:
            self._record_scaling(now, decision)
        for _ in range(spawn):
            self._spawn()
        for wid in decision.drain:
            w = self.workers.get(wid)
            if w is not None:
                self._drain(w, "scale down", "scale_down")

    def _record_scaling(self, now: float, decision: policy.ScaleDecision) -> None:
        entry = {"at": round(now, 3), "spawn": decision.spawn, "drain": list(decision.drain),
                 "reason": decision.reason, "workers": len(self.workers)}
        self.scaling_log.append(entry)
        self.scaling_counts["up" if decision.spawn else "down"] += 1
        log.info(decision.reason, extra={"event": "scale", "spawn": decision.spawn, "drain": len(decision.drain),
                                         "reason": decision.reason, "workers": len(self.workers)})
        self._emit("scale", entry)

    # -- worker lifecycle ---------------------------------------------------------------------------

    def _spawn(self) -> WorkerProcess:
        p = self.cfg.pool
        worker_id = uuid.uuid4().hex[:10]
        settings = WorkerSettings(
            worker_id=worker_id, daemon_id=self.daemon_id, redis_url=self.redis_url,
            prefix=self.prefix,
            queues=tuple(QueueSpec(q.name, q.processor, q.concurrency, q.metrics_max_data_points,
                                   (q.limiter.max, q.limiter.duration) if q.limiter else None,
                                   q.max_started_attempts)
                         for q in self.cfg.queues),
            lock_duration_ms=p.lock_duration_ms, heartbeat_interval=p.heartbeat_interval,
            log_level=self.cfg.log_level,
            max_jobs=policy.recycle_threshold(p.max_jobs_per_worker, p.max_jobs_jitter, random.random()),
            stack_file=str(self.stack_dir / f"{worker_id}.stacks"),
        )
        recycle = settings.max_jobs
        others = tuple(o.conn.fileno() for o in self.workers.values() if not o.conn.closed)
        if self.http is not None:
            others += self.http.filenos()  # a worker must not keep the daemon's port open
        w = WorkerProcess.start(settings, recycle, others)
        self.workers[w.worker_id] = w
        loop = asyncio.get_running_loop()
        loop.add_reader(w.conn.fileno(), self._on_message, w)
        loop.add_reader(w.process.sentinel, self._on_exit, w)
        log.debug("spawned worker %s pid %s", w.worker_id, w.pid, extra={"worker_id": w.worker_id})
        return w

    def _drain(self, w: WorkerProcess, reason: str, category: policy.RestartCategory) -> None:
        if w.drain_requested_at is not None:
            return
        w.drain_requested_at = time.time()
        w.drain_reason, w.drain_category = reason, category
        if category not in ("scale_down", "shutdown"):
            log.info("draining worker %s: %s", w.worker_id, reason,
                     extra={"worker_id": w.worker_id, "worker_pid": w.pid, "reason": reason})
        if not w.send("drain"):
            self._kill(w, f"{reason}; its pipe is closed", blame=False, category=category)

    def _kill(self, w: WorkerProcess, reason: str, *, blame: bool, category: policy.RestartCategory,
              dump_stacks: bool = False) -> None:
        if w.kill_reason:
            return
        w.kill_reason, w.kill_category = reason, category
        w.blame_jobs = blame
        log.warning("killing worker %s (pid %s): %s", w.worker_id, w.pid, reason,
                    extra={"worker_id": w.worker_id, "worker_pid": w.pid, "reason": reason})
        if dump_stacks:
            task = asyncio.create_task(self._dump_then_kill(w))
            self._reaping.add(task)
            task.add_done_callback(self._reaping.discard)
        else:
            w.kill()

    async def _dump_then_kill(self, w: WorkerProcess) -> None:
        """Ask a stuck worker for its Python stacks (faulthandler, on SIGUSR1), log them, then kill it."""
        try:
            stacks = await w.dump_stacks(STACK_DUMP_WAIT_SECONDS)
            log.error("worker %s (pid %s) %s", w.worker_id, w.pid, stacks,
                      extra={"worker_id": w.worker_id, "worker_pid": w.pid, "event": "stacks"})
        finally:
            w.kill()

    def _on_message(self, w: WorkerProcess) -> None:
        try:
            while w.conn.poll():
                self._handle(w, w.conn.recv())
        except (EOFError, OSError):
            asyncio.get_running_loop().remove_reader(w.conn.fileno())

    def _handle(self, w: WorkerProcess, msg: Any) -> None:
        now = time.time()
        w.last_seen = now
        if isinstance(msg, Heartbeat):
            w.heartbeat = msg
            if msg.state == "draining" and w.drain_requested_at is None:
                # The worker drains on its own (it reached max_jobs, or got SIGTERM directly).
                w.drain_requested_at = now
                w.drain_reason = msg.drain_reason
                w.drain_category = "recycled" if msg.drain_recycled else "other"
            self.counters.update(w.worker_id, msg.completed, msg.failed, msg.processing_seconds, msg.per_queue)
            self.telemetry.update(w.worker_id, msg.telemetry)
            if msg.state == "idle":
                w.idle_since = w.idle_since or now
            else:
                w.idle_since = None
        elif isinstance(msg, Ready):
            w.ready = True
            if self.start_failures:
                log.info("worker %s started; start failures cleared", w.worker_id)
            self.start_failures = 0
            self.last_start_error = ""
        elif isinstance(msg, StartFailed):
            w.start_error = msg.reason
        elif isinstance(msg, Pong):
            pass

    def _on_exit(self, w: WorkerProcess) -> None:
        loop = asyncio.get_running_loop()
        loop.remove_reader(w.process.sentinel)
        self._on_message(w)  # read its last words (final heartbeat, start error) before the pipe goes
        try:
            loop.remove_reader(w.conn.fileno())
        except (ValueError, OSError):
            pass
        task = asyncio.create_task(self._reap(w))
        self._reaping.add(task)
        task.add_done_callback(self._reaping.discard)

    async def _reap(self, w: WorkerProcess) -> None:
        w.process.join(timeout=1)
        w.conn.close()
        w.remove_stack_file()
        self.workers.pop(w.worker_id, None)
        self.telemetry.retire(w.worker_id)
        exit_desc = w.exit_description()
        if orphans := w.kill_orphans():
            log.warning("worker %s (pid %s) left %d child process(es) running; killed them", w.worker_id, w.pid,
                        orphans, extra={"worker_id": w.worker_id})
        clean = w.drain_requested_at is not None and w.process.exitcode == 0 and not w.kill_reason
        never_started = not w.ready and not self._stopping and (
            not w.kill_reason or w.kill_category == "start_failed")
        if w.start_error or never_started:
            reason = w.start_error or f"died before it was ready ({exit_desc})"
            self.start_failures += 1
            delay = policy.respawn_delay(self.start_failures)
            self.next_spawn_at = time.time() + delay
            self.last_start_error = reason
            log.error("worker %s failed to start: %s; next start in %.1fs (failure %d in a row)",
                      w.worker_id, reason, delay, self.start_failures,
                      extra={"worker_id": w.worker_id, "reason": reason})
            category: policy.RestartCategory = "start_failed"
        elif w.kill_reason:
            reason, category = w.kill_reason, w.kill_category
        elif clean:
            reason, category = w.drain_reason, w.drain_category
        else:
            reason, category = f"died unexpectedly: {exit_desc}", "crashed"
            log.error("worker %s (pid %s) %s", w.worker_id, w.pid, reason,
                      extra={"worker_id": w.worker_id, "reason": reason})
        # A death we did not ask for counts against the jobs it held, like a kill for cause.
        blame = w.blame_jobs or (category == "crashed" and not self._stopping)
        await self._hand_back(w, blame=blame, reason=reason)
        if category not in ("scale_down", "shutdown"):
            self.restarts.append(Restart(time.time(), w.worker_id, w.pid, reason))
            self.restart_counts[category] += 1
            self._emit("restart", {"workerId": w.worker_id, "pid": w.pid, "reason": reason, "category": category})
        self._wake.set()  # replace it now, not at the next tick

    async def _hand_back(self, w: WorkerProcess, *, blame: bool, reason: str) -> None:
        assert self.client is not None
        held = w.heartbeat.jobs if w.heartbeat else ()
        for q, scripts in self.scripts.items():
            recorded = [(j.job_id, j.token) for j in held if j.queue == q]
            for attempt in range(5):
                try:
                    done = await hand_back_jobs(self.client, scripts, w.worker_id, worker_name(w.settings), recorded,
                                                blame=blame, reason=reason, max_kills=self.cfg.pool.max_kills)
                    break
                except (redis.exceptions.RedisError, OSError) as e:
                    if attempt == 4:
                        log.error("could not hand back jobs of worker %s on %s: %s; BullMQ's stalled check "
                                  "will recover them", w.worker_id, q, e)
                        done = []
                    else:
                        await asyncio.sleep(0.2 * (attempt + 1))
            for h in done:
                what = {"waiting": "back in the queue", "failed": "failed as poison",
                        "gone": "already elsewhere"}[h.outcome]
                if h.suspect:
                    what += ", a suspect to run alone next"
                log.info("job %s of worker %s %s (kills %d)", h.job_id, w.worker_id, what, h.kills,
                         extra={"queue": h.queue, "job_id": h.job_id, "worker_id": w.worker_id})

    # -- background loops ---------------------------------------------------------------------------

    async def _stalled_loop(self) -> None:
        """BullMQ's stalled-job check; its `stalled-check` key makes it run once per interval fleet-wide."""
        p = self.cfg.pool
        while not self._background_stop:
            await asyncio.sleep(p.stalled_interval_ms / 1000)
            for q, scripts in self.scripts.items():
                try:
                    moved = await scripts.move_stalled_to_wait(p.max_stalled_count, p.stalled_interval_ms)
                    if moved:
                        log.warning("stalled jobs on %s moved back to wait: %s", q, ", ".join(moved))
                except (redis.exceptions.RedisError, OSError) as e:
                    log.warning("stalled check on %s failed: %s", q, e)

    async def _metrics_loop(self) -> None:
        """Publish a snapshot (our registration in the fleet), then read the peers' for our shares."""
        assert self.client is not None
        while not self._background_stop:
            snap = self.snapshot()
            self._emit("metrics", snap)
            try:
                await publish(self.client, self.prefix, snap)
                peers = await read_snapshots(self.client, self.prefix)
                shares = fleet.shares(self.daemon_id, self.capacity, peers, time.time())
                if shares != self.fleet_shares and (self.fleet_shares or min(shares.values(), default=1) < 1):
                    log.info("fleet shares now %s", ", ".join(f"{q} {v:.2f}" for q, v in shares.items()),
                             extra={"event": "fleet", "peers": sum(fleet.is_live(p, time.time()) for p in peers)})
                    self.fleet_shares = shares
                    self._backlog_dirty = True
            except (redis.exceptions.RedisError, OSError) as e:
                log.warning("could not publish metrics: %s", e)
            await asyncio.sleep(self.cfg.pool.metrics_interval)

    async def _publish_final(self) -> None:
        assert self.client is not None
        snap = self.snapshot()
        self._emit("metrics", snap)
        try:
            await publish(self.client, self.prefix, snap)
        except (redis.exceptions.RedisError, OSError):
            pass

    def _emit(self, event: str, payload: Any) -> None:
        for cb in self._listeners.get(event, []):
            try:
                result = cb(payload)
                if inspect.isawaitable(result):
                    task = asyncio.ensure_future(result)
                    self._listener_tasks.add(task)
                    task.add_done_callback(self._listener_tasks.discard)
            except Exception:
                log.exception("%s listener failed", event)

    # -- shutdown -------------------------------------------------------------------------------------

    async def _shutdown(self) -> None:
        timeout = self.cfg.pool.shutdown_timeout
        busy = sum(1 for w in self.workers.values() if w.heartbeat and w.heartbeat.jobs)
        log.info("shutting down %d workers (%d busy), up to %gs", len(self.workers), busy, timeout)
        for w in list(self.workers.values()):
            self._drain(w, "shutdown", "shutdown")
        deadline = time.monotonic() + timeout
        while self.workers and time.monotonic() < deadline and not self._stop_now:
            self._wake.clear()
            try:
                await asyncio.wait_for(self._wake.wait(), 0.1)
            except TimeoutError:
                pass
        for w in list(self.workers.values()):
            self._kill(w, "shutdown timeout" if not self._stop_now else "stopped at once", blame=False,
                       category="shutdown")
        end = time.monotonic() + 10
        while (self.workers or self._reaping) and time.monotonic() < end:  # noqa: ASYNC110 - reaping is callback-driven
            await asyncio.sleep(0.05)
        if self._reaping:
            await asyncio.gather(*self._reaping, return_exceptions=True)
        log.info("all workers stopped")


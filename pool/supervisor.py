"""The supervisor: one asyncio loop that owns the worker processes.

It observes (heartbeats over pipes, process exits through their sentinels, RSS through psutil, the
backlog through Redis), asks `policy` what to do, and does it (spawn, drain, kill, hand back). All
judgement lives in `policy`; this file is plumbing, kept thin on purpose. What it observes and decides is
kept in `PoolState` (pool/state.py), which the HTTP side and `corral status` read.

`run()` is `start()` (connections, signals, the HTTP server, background loops: each registered on one
AsyncExitStack with its cleanup), `loop()` (observe, decide, act, until a stop is asked), then the shutdown and
the stack's cleanups in reverse order.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import itertools
import logging
import random
import shutil
import signal
import tempfile
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

import redis.asyncio
import redis.exceptions
import setproctitle
import watchfiles

from pool import cancel, fleet, policy, reload
from pool.backlog import EventWatcher, probe
from pool.config import ConfigError, CorralConfig
from pool.handback import hand_back_jobs
from pool.http import HttpServer
from pool.metrics import Restart, publish, read_snapshots
from pool.state import Group, PoolState
from pool.tasks import Background
from pool.web import WebApp, jobtype_routes
from pool.worker_process import WorkerProcess, process_tree
from workers import tracing
from workers.bullmq_scripts import AsyncScripts, QueueKeys
from workers.jobtype import CheckResult
from workers.main import worker_name
from workers.protocol import CancelJob, Heartbeat, Pong, QueueSpec, Ready, StartFailed, WorkerSettings
from workers.redis_clients import async_client
from workers.retry import HAND_BACK, retry
from workers.urls import redact

log = logging.getLogger("corral.supervisor")

TICK_SECONDS = 0.25  # health checks; backlog changes and worker exits wake the loop sooner
RSS_SAMPLE_SECONDS = 0.5
MIN_PROBE_GAP_SECONDS = 0.05
STACK_DUMP_WAIT_SECONDS = 1.0  # how long a stuck worker gets to write its stacks before it is killed
CHECK_TIMEOUT_SECONDS = 15.0  # a dependency check that takes longer counts as failed (interval: [pool])


class Supervisor:
    def __init__(self, config: CorralConfig, redis_url: str, *, daemon_id: str | None = None,
                 reload_config: Callable[[], CorralConfig] | None = None, watch_code: bool = False) -> None:
        """`reload_config`: how to read the configuration again on SIGHUP (the CLI's file and flags); `watch_code`:
        roll the workers when a processor's source changes (`corral run --reload`, for development)."""
        self.cfg = config
        self.redis_url = redis_url
        self.prefix = config.redis.prefix
        self.state = PoolState(config, daemon_id=daemon_id or "")
        self.scaler_states = {g: policy.ScalerState() for g in self.state.groups}
        self.background = Background(self.state)
        self.next_spawn_at = 0.0
        self.client: redis.asyncio.Redis | None = None
        self.scripts: dict[str, AsyncScripts] = {}
        self.http: HttpServer | None = None
        self.web: WebApp | None = None
        self.stack_dir = Path()  # made at start: workers write their stacks here when asked before a kill
        self._wake = asyncio.Event()
        self._backlog_dirty = True
        self._last_probe = 0.0
        self._last_rss_sample = 0.0
        self._stop_now = False
        self._reaping: set[asyncio.Task[None]] = set()
        self._numbers = itertools.count(1)
        self.reload_config = reload_config
        self.watch_code = watch_code
        self.fresh_code = False  # after a reload, workers start from a fresh interpreter (spawn): the code on disk
        self._reload_why = ""
        self._watch_stop = asyncio.Event()

    # -- public API ----------------------------------------------------------------------------------

    @property
    def daemon_id(self) -> str:
        return self.state.daemon_id

    @property
    def stopping(self) -> bool:
        return self.state.stopping

    def on(self, event: str, callback: Callable[[Any], Any]) -> None:
        """Subscribe to "metrics" (a snapshot dict), "scale" (a decision dict), "restart" (a dict)."""
        self.state.events.on(event, callback)

    def snapshot(self) -> dict[str, Any]:
        return self.state.snapshot()

    def request_stop(self) -> None:
        """First call: graceful shutdown. Second call: stop at once (jobs in hand are still handed back)."""
        if self.state.stopping:
            if not self._stop_now:
                log.warning("second stop signal: killing workers now")
            self._stop_now = True
        else:
            log.info("stop requested: no new jobs; finishing jobs in hand within %gs", self.cfg.pool.shutdown_timeout)
            self.state.stopping = True
        self._wake.set()

    def request_reload(self, why: str) -> None:
        """Read the configuration again and roll every worker: each replacement ready before the old one drains."""
        log.info("reload requested (%s)", why)
        self._reload_why = why
        self._wake.set()

    def cancel_job(self, request: cancel.CancelRequest) -> bool:
        """Ask the workers that may hold the job to cancel it; False when none of ours serves its queue.

        Every ready worker serving the queue is asked, not only the one whose last heartbeat listed the job: a job
        taken since that heartbeat would be missed. A worker that does not hold the job ignores the request."""
        asked = [w for w in self.state.workers.values()
                 if w.ready and any(q.name == request.queue for q in w.settings.queues)]
        sent = sum(w.send(CancelJob(request.queue, request.job_id, request.reason)) for w in asked)
        if sent:
            log.info("cancelling job %s on %s (asked %d workers): %s", request.job_id, request.queue, sent,
                     request.reason, extra={"queue": request.queue, "job_id": request.job_id})
        return bool(sent)

    # -- start, loop, close -------------------------------------------------------------------------

    async def run(self) -> int:
        async with contextlib.AsyncExitStack() as stack:
            await self.start(stack)
            await self.loop()
        return 0

    async def start(self, stack: contextlib.AsyncExitStack) -> None:
        """Open what the loop needs; each piece registers its cleanup (run in reverse order at exit)."""
        setproctitle.setproctitle("corral: supervisor")
        tracing.preload(self.cfg.tracing)  # only with [tracing] enabled: workers fork with its modules loaded
        self.client = async_client(self.redis_url, decode_responses=True, socket_timeout=10, socket_connect_timeout=5)
        stack.push_async_callback(self.client.aclose)
        self._handle_signals(stack)  # from the start to the end of the cleanups: a Ctrl-C is never a traceback
        await self.client.ping()
        self.scripts = {q: AsyncScripts(self.client, QueueKeys(self.prefix, q), f"corral-supervisor-{self.daemon_id}",
                                        self.cfg.pool.lock_duration_ms)
                        for q in self.state.queue_names}
        self.stack_dir = Path(tempfile.mkdtemp(prefix="corral-stacks-"))  # 0700: stacks can show data
        stack.callback(shutil.rmtree, self.stack_dir, True)
        if self.cfg.http.enabled:
            await self._start_http(stack)
        stack.push_async_callback(self._publish_final)
        stack.push_async_callback(self.background.stop)
        stack.callback(self._watch_stop.set)
        self._start_background()
        p = self.cfg.pool
        log.info("supervisor %s up: redis %s, queues %s, workers %d..%d, memory limit %d MB", self.daemon_id,
                 redact(self.redis_url), ", ".join(self.state.queue_names), p.min_workers, p.max_workers,
                 p.max_memory_mb)

    async def _start_http(self, stack: contextlib.AsyncExitStack) -> None:
        client = self.client
        assert client is not None
        self.web = WebApp(self.state, client.ping, self.cfg, jobtype_routes(self.cfg, self.redis_url))
        self.http = HttpServer(self.cfg.http, self.web.app)
        stack.push_async_callback(self.http.stop)
        stack.push_async_callback(self.web.close)  # before the server stops: ends the dashboard's streams
        await self.http.start()

    def _handle_signals(self, stack: contextlib.AsyncExitStack) -> None:
        if threading.current_thread() is not threading.main_thread():
            return
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, self.request_stop)
            stack.callback(loop.remove_signal_handler, sig)
        loop.add_signal_handler(signal.SIGHUP, self.request_reload, "SIGHUP")
        stack.callback(loop.remove_signal_handler, signal.SIGHUP)

    def _start_background(self) -> None:
        watcher = EventWatcher(self.redis_url, self.prefix, self.state.queue_names, self._on_backlog_event)
        self.background.start("event watcher", watcher.run)
        self.background.start("stalled check", self._stalled_loop)
        self.background.start("metrics", self._metrics_loop)
        self.background.start("cancel channel", lambda: cancel.listen(self.redis_url, self.prefix, self.cancel_job))
        if any(jt.checks for jt in self.cfg.served_jobtypes().values()):
            self.background.start("dependency checks", self._checks_loop)
        if self.watch_code:
            self.background.start("code watcher", self._watch_code_loop)

    async def loop(self) -> None:
        while not self.state.stopping:
            if self._reload_why:
                await self._reload()
            await self._step()
            try:
                await asyncio.wait_for(self._wake.wait(), TICK_SECONDS)
            except TimeoutError:
                pass
            self._wake.clear()
        await self._shutdown()

    def _on_backlog_event(self, queue: str) -> None:
        self._backlog_dirty = True
        self._wake.set()

    # -- one step: observe, decide, act ------------------------------------------------------------

    async def _step(self) -> None:
        now = time.time()
        self.state.last_step_at = now
        workers = self.state.workers
        if now - self._last_rss_sample >= RSS_SAMPLE_SECONDS:
            self._last_rss_sample = now
            tree = process_tree()
            for w in list(workers.values()):
                if w.process.exitcode is None:
                    w.measure_rss(tree)
        for group in self.state.groups.values():
            members = [w.observe() for w in workers.values() if w.group == group.name]
            for action in policy.health_actions(members, now, group.limits):
                target = workers.get(action.worker_id)
                if target is None:
                    continue
                if isinstance(action, policy.Kill):
                    self._kill(target, action.reason, blame=action.blame_jobs, category=action.category,
                               dump_stacks=action.wants_stacks)
                elif isinstance(action, policy.Replace):
                    self._replace(target, action.reason, action.category, now)
                else:
                    self._drain(target, action.reason, action.category)
        since = now - self._last_probe
        # Events wake us at once, but a busy producer emits thousands a second: one probe per 50 ms is plenty.
        if (self._backlog_dirty and since >= MIN_PROBE_GAP_SECONDS) or since >= self.cfg.pool.poll_interval:
            await self._probe()
        for group in self.state.groups.values():
            self._scale(group, now)

    async def _probe(self) -> None:
        assert self.client is not None
        self._backlog_dirty = False
        self._last_probe = time.time()
        try:
            self.state.note_backlog(await probe(self.client, self.prefix, self.state.queue_names))
        except (redis.exceptions.RedisError, OSError) as e:
            log.warning("backlog probe failed: %s (scaling on the last reading)", e)

    def _demands(self, group: Group) -> list[policy.QueueDemand]:
        held: Counter[str] = Counter()
        for w in self.state.workers.values():
            if w.heartbeat:
                held.update(j.queue for j in w.heartbeat.jobs)
        out = []
        for q in group.queues:
            b = self.state.backlog.get(q.name)
            if b is None:
                continue
            out.append(policy.QueueDemand(
                queue=q.name, runnable=b.runnable, held=held[q.name], paused=b.paused,
                global_concurrency=b.global_concurrency, fleet_active=b.active,
                per_worker_concurrency=q.concurrency, fleet_share=self.state.fleet_shares.get(q.name, 1.0),
            ))
        return out

    def _scale(self, group: Group, now: float) -> None:
        members = [w.observe() for w in self.state.workers.values() if w.group == group.name]
        decision = policy.scale(
            now, self._demands(group), members, self.scaler_states[group.name],
            min_workers=group.min_workers, max_workers=group.max_workers,
            scale_down_delay=self.cfg.pool.scale_down_delay, autoscale=self.cfg.pool.autoscale,
        )
        self.scaler_states[group.name] = decision.state
        if decision.spawn and now < self.next_spawn_at:
            return  # workers are failing to start: the backoff holds
        if decision.spawn or decision.drain:
            self._record_scaling(group, now, decision)
        for _ in range(decision.spawn):
            self._spawn(group)
        for wid in decision.drain:
            w = self.state.workers.get(wid)
            if w is not None:
                self._drain(w, "scale down", "scale_down")

    def _record_scaling(self, group: Group, now: float, decision: policy.ScaleDecision) -> None:
        members = sum(1 for w in self.state.workers.values() if w.group == group.name)
        reason = decision.reason if len(self.state.groups) == 1 else f"[{group.name}] {decision.reason}"
        entry = {"at": round(now, 3), "spawn": decision.spawn, "drain": list(decision.drain), "reason": reason,
                 "workers": members, "group": group.name}
        self.state.scaling_log.append(entry)
        self.state.scaling_counts["up" if decision.spawn else "down"] += 1
        log.info(reason, extra={"event": "scale", "spawn": decision.spawn, "drain": len(decision.drain),
                                "reason": reason, "workers": members})
        self.state.events.emit("scale", entry)

    # -- worker lifecycle ---------------------------------------------------------------------------

    def _spawn(self, group: Group) -> WorkerProcess:
        p = self.cfg.pool
        worker_id = uuid.uuid4().hex[:10]
        settings = WorkerSettings(
            worker_id=worker_id, daemon_id=self.daemon_id, redis_url=self.redis_url, prefix=self.prefix,
            queues=tuple(QueueSpec(q.name, q.processor, q.concurrency, q.metrics_max_data_points,
                                   (q.limiter.max, q.limiter.duration) if q.limiter else None,
                                   q.max_started_attempts)
                         for q in group.queues),
            lock_duration_ms=p.lock_duration_ms, heartbeat_interval=p.heartbeat_interval,
            log_level=self.cfg.log_level,
            stack_file=str(self.stack_dir / f"{worker_id}.stacks"), number=next(self._numbers),
            place=self.cfg.place, jobtype_settings=dict(self.cfg.jobtype_settings), tracing=self.cfg.tracing,
        )
        others = tuple(o.conn.fileno() for o in self.state.workers.values() if not o.conn.closed)
        if self.http is not None:
            others += self.http.filenos()  # a worker must not keep the daemon's port open
        w = WorkerProcess.start(
            settings, policy.recycle_threshold(p.max_jobs_per_worker, p.recycle_jitter, random.random()), others,
            group=group.name, max_age=policy.recycle_threshold(p.max_worker_age, p.recycle_jitter, random.random()),
            fresh=self.fresh_code)
        self.state.workers[w.worker_id] = w
        loop = asyncio.get_running_loop()
        loop.add_reader(w.conn.fileno(), self._on_message, w)
        loop.add_reader(w.process.sentinel, self._on_exit, w)
        log.debug("spawned worker %s pid %s", w.worker_id, w.pid, extra={"worker_id": w.worker_id})
        return w

    def _replace(self, old: WorkerProcess, reason: str, category: policy.RestartCategory, now: float) -> None:
        """Start a worker in `old`'s place; `old` works on and drains once the new one is ready (_handle: Ready)."""
        if old.replaced_by is not None or old.drain_requested_at is not None or now < self.next_spawn_at:
            return
        group = self.state.groups.get(old.group)
        if group is None:  # a reload removed its queues: nothing to replace it with
            self._drain(old, reason, category)
            return
        new = self._spawn(group)
        new.replaces = old.worker_id
        old.replaced_by, old.replace_reason, old.replace_category = new.worker_id, reason, category
        log.info("replacing worker %s (%s): %s starts first", old.worker_id, reason, new.worker_id,
                 extra={"worker_id": old.worker_id, "reason": reason})

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
            self._track(self._dump_then_kill(w))
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

    def _track(self, coro: Any) -> None:
        task = asyncio.create_task(coro)
        self._reaping.add(task)
        task.add_done_callback(self._reaping.discard)

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
                # The worker drains on its own (SIGTERM sent to it directly, or its supervisor pipe broke).
                w.drain_requested_at = now
                w.drain_reason = msg.drain_reason
            self.state.counters.update(w.worker_id, msg.tally, msg.per_queue)
            self.state.failures.take(w.worker_id, msg.failures, msg.failure_counts)
            self.state.telemetry.update(w.worker_id, msg.telemetry)
            w.idle_since = (w.idle_since or now) if msg.state == "idle" else None
        elif isinstance(msg, Ready):
            w.ready = True
            old = self.state.workers.get(w.replaces or "")
            if old is not None:  # the replacement is ready: the worker it replaces goes now
                self._drain(old, old.replace_reason, old.replace_category)
            if self.state.start_failures:
                log.info("worker %s started; start failures cleared", w.worker_id)
            self.state.start_failures = 0
            self.state.last_start_error = ""
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
        self._track(self._reap(w))

    async def _reap(self, w: WorkerProcess) -> None:
        w.process.join(timeout=1)
        w.conn.close()
        w.remove_stack_file()
        self.state.workers.pop(w.worker_id, None)
        self.state.telemetry.retire(w.worker_id)
        self.state.failures.forget(w.worker_id)
        if orphans := w.kill_orphans():
            log.warning("worker %s (pid %s) left %d child process(es) running; killed them", w.worker_id, w.pid,
                        orphans, extra={"worker_id": w.worker_id})
        if (old := self.state.workers.get(w.replaces or "")) is not None and old.replaced_by == w.worker_id:
            old.replaced_by = None  # its replacement died starting: it may be replaced again (after the backoff)
        reason, category = self._why_gone(w)
        # A death we did not ask for counts against the jobs it held, like a kill for cause.
        blame = w.blame_jobs or (category == "crashed" and not self.state.stopping)
        await self._hand_back(w, blame=blame, reason=reason)
        if category not in ("scale_down", "shutdown"):
            self.state.restarts.append(Restart(time.time(), w.worker_id, w.pid, reason))
            self.state.restart_counts[category] += 1
            self.state.events.emit("restart", {"workerId": w.worker_id, "pid": w.pid, "reason": reason,
                                               "category": category})
        self._wake.set()  # replace it now, not at the next tick

    def _why_gone(self, w: WorkerProcess) -> tuple[str, policy.RestartCategory]:
        exit_desc = w.exit_description()
        clean = w.drain_requested_at is not None and w.process.exitcode == 0 and not w.kill_reason
        never_started = not w.ready and not self.state.stopping and (
            not w.kill_reason or w.kill_category == "start_failed")
        if w.start_error or never_started:
            reason = w.start_error or f"died before it was ready ({exit_desc})"
            self.state.start_failures += 1
            delay = policy.respawn_delay(self.state.start_failures)
            self.next_spawn_at = time.time() + delay
            self.state.last_start_error = reason
            log.error("worker %s failed to start: %s; next start in %.1fs (failure %d in a row)",
                      w.worker_id, reason, delay, self.state.start_failures,
                      extra={"worker_id": w.worker_id, "reason": reason})
            return reason, "start_failed"
        if w.kill_reason:
            return w.kill_reason, w.kill_category
        if clean:
            return w.drain_reason, w.drain_category
        reason = f"died unexpectedly: {exit_desc}"
        log.error("worker %s (pid %s) %s", w.worker_id, w.pid, reason,
                  extra={"worker_id": w.worker_id, "reason": reason})
        return reason, "crashed"

    async def _hand_back(self, w: WorkerProcess, *, blame: bool, reason: str) -> None:
        client = self.client
        assert client is not None
        held = w.heartbeat.jobs if w.heartbeat else ()
        for q in w.settings.queues:
            scripts = self.scripts[q.name]
            recorded = [(j.job_id, j.token) for j in held if j.queue == q.name]
            once = functools.partial(hand_back_jobs, client, scripts, w.worker_id, worker_name(w.settings), recorded,
                                     blame=blame, reason=reason, max_kills=self.cfg.pool.max_kills)
            try:
                done = await retry(once, on=(redis.exceptions.RedisError, OSError), backoff=HAND_BACK)
            except (redis.exceptions.RedisError, OSError) as e:
                log.error("could not hand back jobs of worker %s on %s: %s; BullMQ's stalled check will recover "
                          "them", w.worker_id, q.name, e)
                continue
            for h in done:
                what = {"waiting": "back in the queue", "failed": "failed as poison",
                        "gone": "already elsewhere"}[h.outcome]
                if h.suspect:
                    what += ", a suspect to run alone next"
                log.info("job %s of worker %s %s (kills %d)", h.job_id, w.worker_id, what, h.kills,
                         extra={"queue": h.queue, "job_id": h.job_id, "worker_id": w.worker_id})

    # -- reload: SIGHUP, `corral run --reload` --------------------------------------------------------

    async def _reload(self) -> None:
        why, self._reload_why = self._reload_why, ""
        try:
            new = self.reload_config() if self.reload_config is not None else self.cfg
            problem = await asyncio.to_thread(reload.import_problem, [q.processor for q in new.queues])
        except ConfigError as e:
            problem = str(e)
        if problem:
            log.error("reload (%s) refused, the workers keep running: %s", why, problem)
            return
        for what in reload.unapplied(self.cfg, new):
            log.warning("reload (%s): %s", why, what)
        self.cfg = new
        self.state.reconfigure(new)
        self.scaler_states = {g: self.scaler_states.get(g, policy.ScalerState()) for g in self.state.groups}
        assert self.client is not None
        self.scripts = {q: self.scripts.get(q) or AsyncScripts(self.client, QueueKeys(self.prefix, q),
                                                                f"corral-supervisor-{self.daemon_id}",
                                                                new.pool.lock_duration_ms)
                        for q in self.state.queue_names}
        self.fresh_code = True
        now = time.time()
        rolled = [w for w in self.state.workers.values() if w.drain_requested_at is None]
        for w in rolled:
            self._replace(w, f"reloaded ({why})", "reloaded", now)
        log.info("reload (%s): rolling %d worker(s), each replacement ready before the old one drains", why,
                 len(rolled))

    async def _watch_code_loop(self) -> None:
        async for changed in watchfiles.awatch(*reload.source_folders(self.cfg), watch_filter=watchfiles.PythonFilter(),
                                               stop_event=self._watch_stop):
            names = sorted({Path(path).name for _, path in changed})
            self.request_reload(f"{', '.join(names[:5])}{' ...' if len(names) > 5 else ''} changed")

    # -- background loops ---------------------------------------------------------------------------

    async def _stalled_loop(self) -> None:
        """BullMQ's stalled-job check; its `stalled-check` key makes it run once per interval fleet-wide."""
        p = self.cfg.pool
        while not self.background.stopping:
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
        client = self.client
        assert client is not None
        while not self.background.stopping:
            snap = self.state.snapshot()
            self.state.events.emit("metrics", snap)
            try:
                await publish(client, self.prefix, snap)
                peers = await read_snapshots(client, self.prefix)
                self._note_shares(fleet.shares(self.daemon_id, self.state.capacity, peers, time.time()), peers)
            except (redis.exceptions.RedisError, OSError) as e:
                log.warning("could not publish metrics: %s", e)
            await asyncio.sleep(self.cfg.pool.metrics_interval)

    def _note_shares(self, shares: dict[str, float], peers: list[dict[str, Any]]) -> None:
        old = self.state.fleet_shares
        if shares != old and (old or min(shares.values(), default=1) < 1):
            log.info("fleet shares now %s", ", ".join(f"{q} {v:.2f}" for q, v in shares.items()),
                     extra={"event": "fleet", "peers": sum(fleet.is_live(p, time.time()) for p in peers)})
            self.state.fleet_shares = shares
            self._backlog_dirty = True

    async def _checks_loop(self) -> None:
        """The job types' dependency checks (Ollama, desci-server, build tools): kept in the state, logged when
        they change."""
        checks = [c for name, jt in self.cfg.served_jobtypes().items() if jt.checks
                  for c in jt.checks(self.cfg.jobtype_settings.get(name))]
        while not self.background.stopping:
            for check in checks:
                try:
                    result = await asyncio.wait_for(check.run(), CHECK_TIMEOUT_SECONDS)
                except Exception as e:  # a check that breaks says so, it does not stop the others
                    result = CheckResult(False, f"the check failed: {type(e).__name__}: {e}")
                before = self.state.checks.get(check.name)
                self.state.checks[check.name] = result
                if before is None or before.ok != result.ok:
                    (log.info if result.ok else log.warning)("dependency %s: %s", check.name, result.detail,
                                                            extra={"event": "check", "check": check.name,
                                                                   "ok": result.ok})
            await asyncio.sleep(self.cfg.pool.check_interval)

    async def _publish_final(self) -> None:
        assert self.client is not None
        snap = self.state.snapshot()
        self.state.events.emit("metrics", snap)
        with contextlib.suppress(redis.exceptions.RedisError, OSError):
            await publish(self.client, self.prefix, snap)

    # -- shutdown -------------------------------------------------------------------------------------

    async def _shutdown(self) -> None:
        workers = self.state.workers
        timeout = self.cfg.pool.shutdown_timeout
        busy = sum(1 for w in workers.values() if w.heartbeat and w.heartbeat.jobs)
        log.info("shutting down %d workers (%d busy), up to %gs", len(workers), busy, timeout)
        for w in list(workers.values()):
            self._drain(w, "shutdown", "shutdown")
        deadline = time.monotonic() + timeout
        while workers and time.monotonic() < deadline and not self._stop_now:
            self._wake.clear()
            try:
                await asyncio.wait_for(self._wake.wait(), 0.1)
            except TimeoutError:
                pass
        for w in list(workers.values()):
            self._kill(w, "shutdown timeout" if not self._stop_now else "stopped at once", blame=False,
                       category="shutdown")
        end = time.monotonic() + 10
        while (workers or self._reaping) and time.monotonic() < end:  # noqa: ASYNC110 - reaping is callback-driven
            await asyncio.sleep(0.05)
        if self._reaping:
            await asyncio.gather(*self._reaping, return_exceptions=True)
        log.info("all workers stopped")

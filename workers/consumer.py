"""A BullMQ consumer for one queue inside a worker process.

`concurrency` slots each loop: fetch a job (moveToActive), run its processor, finish it with
moveToFinished *with fetch-next*, so a busy slot costs one round trip per job. Idle slots park on a
shared waiter that blocks on the queue's marker (BZPOPMIN), as Node's worker does; a slot that
wakes and finds a job wakes the next one, so a burst fans out without a thundering herd.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
import traceback
from collections import deque
from collections.abc import Callable
from typing import Any

import redis.exceptions
from pydantic import BaseModel, ValidationError
from redis.asyncio import Redis as AsyncRedis

from workers.backoff import UnknownBackoffError, backoff_delay_ms
from workers.bullmq_scripts import AsyncScripts, FetchResult, QueueKeys, ScriptError, keep_jobs
from workers.errors import InvalidJobError, UnrecoverableError
from workers.job import Job, drain_posted, parse_job_hash
from workers.multiplex import MultiplexedConnection
from workers.protocol import HeldJob, QueueSpec
from workers.registry import Processor, QueueProcessors
from workers.state import WorkerContext

log = logging.getLogger("corral.worker")

MAX_BLOCK_SECONDS = 5.0  # cap on one BZPOPMIN, so a drain or a delayed job is never waited on long
REDIS_RETRY_SECONDS = (0.1, 0.25, 0.5, 1.0, 2.0)  # backoff while Redis is unreachable
FINISH_RETRY_SECONDS = 30.0  # keep trying to record a result this long (one lock duration)
NO_JOB = FetchResult(None, None, 0, 0)


def describe_validation_error(err: ValidationError) -> str:
    parts = []
    for e in err.errors()[:5]:
        where = ".".join(str(p) for p in e["loc"]) or "(root)"
        parts.append(f"field '{where}': {e['msg']}")
    more = f" (+{err.error_count() - 5} more)" if err.error_count() > 5 else ""
    return "invalid job data: " + "; ".join(parts) + more


def validate_data(proc: Processor, data: Any) -> Any:
    model = proc.data_model
    if model is None:
        return data
    try:
        if isinstance(model, type) and issubclass(model, BaseModel):
            return model.model_validate(data)
        raise TypeError(f"data_model of a processor must be a pydantic model, got {model!r}")
    except ValidationError as e:
        raise InvalidJobError(describe_validation_error(e)) from None


class QueueConsumer:
    def __init__(
        self,
        spec: QueueSpec,
        processors: QueueProcessors,
        conn: MultiplexedConnection,
        blocking: AsyncRedis,
        ctx: WorkerContext,
        prefix: str,
        run_sync: Callable[[Callable[..., Any], Any], asyncio.Future[Any]],
    ) -> None:
        self.spec = spec
        self.processors = processors
        self.blocking = blocking
        self.ctx = ctx
        self.keys = QueueKeys(prefix, spec.name)
        self.scripts = AsyncScripts(conn, self.keys, ctx.worker_name, ctx.lock_duration_ms)
        self.run_sync = run_sync
        self._parked: deque[asyncio.Future[None]] = deque()
        self._want_marker = asyncio.Event()
        self._next_delayed_ms = 0
        self._rate_limited_until = 0.0

    # -- the slots -------------------------------------------------------------------------------

    async def run(self) -> None:
        waiter = asyncio.create_task(self._marker_loop(), name=f"marker:{self.spec.name}")
        try:
            await asyncio.gather(*(self._slot() for _ in range(self.spec.concurrency)))
        finally:
            waiter.cancel()
            await asyncio.gather(waiter, return_exceptions=True)

    def stop_fetching(self) -> None:
        """Called on drain: parked slots leave; busy ones finish their job without fetching another."""
        while self._parked:
            fut = self._parked.popleft()
            if not fut.done():
                fut.set_result(None)
        self._want_marker.set()

    async def _slot(self) -> None:
        while not self.ctx.draining:
            try:
                await self._serve()
            except Exception:
                # A bug or an unexpected Redis answer must not take the worker down with the job it
                # holds: log it, breathe, carry on. A job left active is recovered by its lock expiry.
                log.exception("queue %s: slot error; continuing", self.spec.name, extra={"queue": self.spec.name})
                await asyncio.sleep(1.0)

    async def _serve(self) -> None:
        token = self.ctx.new_token()
        res = await self._fetch(token)
        if res.job_id is None:
            await self._park()
            return
        self._wake_one()  # there may be more where this came from
        while res.job_id is not None:
            res = await self._process(res, token)

    async def _fetch(self, token: str) -> FetchResult:
        wait = self._rate_limited_until - time.monotonic()
        if wait > 0:
            await asyncio.sleep(wait)
        for attempt in range(len(REDIS_RETRY_SECONDS) + 1):
            try:
                res = await self.scripts.move_to_active(token)
                break
            except (redis.exceptions.ConnectionError, redis.exceptions.TimeoutError) as e:
                if attempt == len(REDIS_RETRY_SECONDS):
                    log.warning("queue %s: Redis unreachable while fetching: %s", self.spec.name, e)
                    return NO_JOB
                await asyncio.sleep(REDIS_RETRY_SECONDS[attempt])
        self._note_limits(res)
        return res

    def _note_limits(self, res: FetchResult) -> None:
        if res.rate_limit_ms > 0:
            # The stock Python worker records this and never waits on it, then spins: we wait.
            self._rate_limited_until = time.monotonic() + res.rate_limit_ms / 1000
        if res.next_delayed_ms > 0:
            self._next_delayed_ms = res.next_delayed_ms

    async def _park(self) -> None:
        if self.ctx.draining:
            return
        fut: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._parked.append(fut)
        self._want_marker.set()
        await fut

    def _wake_one(self) -> None:
        while self._parked:
            fut = self._parked.popleft()
            if not fut.done():
                fut.set_result(None)
                return

    async def _marker_loop(self) -> None:
        """One blocking BZPOPMIN per queue per worker, on a connection with no socket timeout."""
        marker = self.keys.key("marker")
        failures = 0
        while not self.ctx.draining:
            if not self._parked:
                self._want_marker.clear()
                await self._want_marker.wait()
                continue
            timeout = MAX_BLOCK_SECONDS
            if self._next_delayed_ms:
                timeout = min(timeout, max(0.001, (self._next_delayed_ms - time.time() * 1000) / 1000))
            rate_wait = self._rate_limited_until - time.monotonic()
            try:
                if rate_wait > 0:
                    await asyncio.sleep(rate_wait)
                else:
                    await self.blocking.bzpopmin(marker, timeout=timeout)
                failures = 0
            except (redis.exceptions.ConnectionError, redis.exceptions.TimeoutError) as e:
                delay = REDIS_RETRY_SECONDS[min(failures, len(REDIS_RETRY_SECONDS) - 1)]
                failures += 1
                if failures == 3:
                    log.warning("queue %s: Redis unreachable (%s); retrying", self.spec.name, e)
                await asyncio.sleep(delay)
            self._next_delayed_ms = 0
            self._wake_one()

    # -- one job ---------------------------------------------------------------------------------

    async def _process(self, res: FetchResult, token: str) -> FetchResult:
        assert res.job_id is not None
        job_id = res.job_id
        raw = res.job or {}
        held = HeldJob(self.spec.name, job_id, token, time.time())
        self.ctx.hold(held)
        started = time.perf_counter()
        opts: dict[str, Any] = {}
        attempts_made = 0
        pending: list[asyncio.Future[None]] = []
        try:
            name, data, opts, attempts_made, timestamp = parse_job_hash(raw)
            proc = self.processors.for_name(self.spec.name, name)
            job = self._job(job_id, name, validate_data(proc, data), opts, attempts_made, timestamp, token, pending)
            if proc.is_async:
                result = await proc.func(job)
            else:
                result = await self.run_sync(proc.func, job)
            await drain_posted(pending)
            try:
                value = json.dumps(result, separators=(",", ":"), allow_nan=False)
            except (TypeError, ValueError) as e:
                raise UnrecoverableError(f"processor returned a value that is not JSON-serialisable: {e}") from None
        except Exception as err:
            await drain_posted(pending)
            self.ctx.record(self.spec.name, raw.get("name", ""), ok=False, seconds=time.perf_counter() - started)
            nxt = await self._fail(job_id, token, raw, opts, attempts_made, err)
        else:
            self.ctx.record(self.spec.name, raw.get("name", ""), ok=True, seconds=time.perf_counter() - started)
            nxt = await self._finish(
                job_id, token, target="completed", value=value,
                keep=keep_jobs(opts.get("removeOnComplete")), opts=opts, attempts_made=attempts_made,
            )
        finally:
            self.ctx.release(token)
        return nxt

    def _job(self, job_id: str, name: str, data: Any, opts: dict[str, Any], attempts_made: int,
             timestamp: int, token: str, pending: list[asyncio.Future[None]]) -> Job:
        loop = asyncio.get_running_loop()
        keep_logs = opts.get("keepLogs", opts.get("kl"))

        def post(make: Callable[[], Any]) -> None:
            def start() -> None:
                # The write is queued on the worker's one script connection as the task starts, before the
                # next posted one: progress 50 then 100 reaches Redis in that order and ends at 100.
                pending.append(asyncio.ensure_future(make()))
            if _in_loop_thread(loop):
                start()
            else:
                # From a `def` processor's thread: hand the write to the loop, and wait for it to be
                # queued, so its future is in `pending` before the processor can return.
                asyncio.run_coroutine_threadsafe(_call(start), loop).result()

        return Job(
            queue=self.spec.name, id=job_id, name=name, data=data, opts=opts,
            attempts_made=attempts_made, timestamp=timestamp, token=token, _post=post,
            _progress_write=lambda v: self.scripts.update_progress(job_id, v),
            _log_write=lambda line: self.scripts.add_log(job_id, line, keep_logs),
        )

    async def _fail(self, job_id: str, token: str, raw: dict[str, str], opts: dict[str, Any],
                    attempts_made: int, err: BaseException) -> FetchResult:
        self.ctx.finishing(token)
        reason = str(err) or type(err).__name__
        stack = _stacktrace(raw, opts, err)
        fields = {"failedReason": reason, "stacktrace": json.dumps(stack, separators=(",", ":"))}
        attempts = int(opts.get("attempts") or 1)
        retry = not isinstance(err, UnrecoverableError) and attempts_made + 1 < attempts
        if isinstance(err, UnrecoverableError):
            log.warning("job %s on %s failed without retries: %s", job_id, self.spec.name, reason,
                        extra={"queue": self.spec.name, "job_id": job_id})
        if retry:
            try:
                delay = backoff_delay_ms(opts.get("backoff"), attempts_made + 1)
            except UnknownBackoffError as e:
                reason = f"{reason} (not retried: {e})"
                fields["failedReason"] = reason
                delay = -1
            if delay >= 0:
                return await self._retry(job_id, token, delay, fields, bool(opts.get("lifo")))
        return await self._finish(
            job_id, token, target="failed", value=reason, keep=keep_jobs(opts.get("removeOnFail")),
            opts=opts, attempts_made=attempts_made, fields=fields,
        )

    async def _retry(self, job_id: str, token: str, delay: int, fields: dict[str, str], lifo: bool) -> FetchResult:
        async def once() -> FetchResult:
            if delay > 0:
                await self.scripts.move_to_delayed(job_id, token, delay_ms=delay, fields=fields)
            else:
                await self.scripts.retry_job(job_id, token, lifo=lifo, fields=fields)
            return NO_JOB
        return await self._with_redis_retry(job_id, once)

    async def _finish(self, job_id: str, token: str, *, target: str, value: str, keep: dict[str, Any],
                      opts: dict[str, Any], attempts_made: int,
                      fields: dict[str, str] | None = None) -> FetchResult:
        self.ctx.finishing(token)

        async def once() -> FetchResult:
            res = await self.scripts.move_to_finished(
                job_id, token, target=target, value=value, keep=keep,
                attempts=int(opts.get("attempts") or 1), attempts_made=attempts_made,
                max_metrics_size=self.spec.metrics_max_data_points or "",
                fetch_next=not self.ctx.draining, job_opts=opts, fields=fields,
            )
            self._note_limits(res)
            return res
        return await self._with_redis_retry(job_id, once)

    async def _with_redis_retry(self, job_id: str, once: Callable[[], Any]) -> FetchResult:
        """Record a job's outcome, riding out a Redis blip; a lost lock means the job is someone else's."""
        deadline = time.monotonic() + FINISH_RETRY_SECONDS
        attempt = 0
        while True:
            try:
                result: FetchResult = await once()
                return result
            except ScriptError as e:
                # -2/-6: our lock expired and the job was (or will be) recovered elsewhere; -1/-3:
                # it is gone or no longer active (for instance an earlier try of this very call did
                # land before the connection dropped). Either way there is nothing left to record.
                self.ctx.lost_locks += 1
                log.warning("queue %s: could not record job %s: %s", self.spec.name, job_id, e,
                            extra={"queue": self.spec.name, "job_id": job_id})
                return NO_JOB
            except (redis.exceptions.ConnectionError, redis.exceptions.TimeoutError) as e:
                if time.monotonic() > deadline:
                    log.error("queue %s: gave up recording job %s after Redis stayed unreachable: %s; "
                              "its lock will expire and BullMQ's stalled check will run it again",
                              self.spec.name, job_id, e, extra={"queue": self.spec.name, "job_id": job_id})
                    return NO_JOB
                await asyncio.sleep(REDIS_RETRY_SECONDS[min(attempt, len(REDIS_RETRY_SECONDS) - 1)])
                attempt += 1


def _stacktrace(raw: dict[str, str], opts: dict[str, Any], err: BaseException) -> list[str]:
    try:
        stack = json.loads(raw.get("stacktrace") or "[]")
        if not isinstance(stack, list):
            stack = []
    except ValueError:
        stack = []
    stack.append("".join(traceback.format_exception(err)).rstrip())
    limit = opts.get("stackTraceLimit")
    if isinstance(limit, int) and limit >= 0:
        stack = stack[-limit:] if limit else []
    return stack


async def _call(fn: Callable[[], None]) -> None:
    fn()


def _in_loop_thread(loop: asyncio.AbstractEventLoop) -> bool:
    try:
        return asyncio.get_running_loop() is loop
    except RuntimeError:
        return False

"""A BullMQ consumer for one queue inside a worker process.

`concurrency` slots each loop: fetch a job (moveToActive), run its processor, finish it with
moveToFinished *with fetch-next*, so a busy slot costs one round trip per job. Idle slots park on a
shared waiter that blocks on the queue's marker (BZPOPMIN), as Node's worker does; a slot that
wakes and finds a job wakes the next one, so a burst fans out without a thundering herd.

What Node's `Worker` and `Job` classes do outside Lua is done here too: a job BullMQ has marked for a deferred
failure (`defa`: a failed child with failParentOnFailure, or stalled past maxStalledCount) fails without running;
a job made by a job scheduler adds the scheduler's next iteration when it is taken; a processor may move its own
job (delayed, waiting-children, wait) or rate-limit the queue; and every code a finishing script can answer with
has its outcome (`finish_outcome`), so no job is left active with nobody to finish it.

Jobs written by other clients can carry anything: a hash whose fields BullMQ's scripts cannot handle is repaired
just enough for those scripts to run (see `_repair`) and failed at once with a reason naming the field.
"""

from __future__ import annotations

import asyncio
import enum
import json
import logging
import time
import traceback
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import redis.exceptions
from pydantic import BaseModel, ValidationError
from redis.asyncio import Redis as AsyncRedis

from workers.backoff import InvalidBackoffError, UnknownBackoffError, backoff_delay_ms
from workers.bullmq_scripts import (
    FAILED_CHILDREN,
    JOB_NOT_EXIST,
    LOCK_MISMATCH,
    LOCK_MISSING,
    NOT_IN_STATE,
    PENDING_CHILDREN,
    AsyncScripts,
    FetchResult,
    QueueKeys,
    ScriptError,
    keep_jobs,
)
from workers.errors import (
    DelayedError,
    InvalidJobError,
    JobMovedError,
    RateLimitError,
    UnrecoverableError,
    WaitingChildrenError,
    WaitingError,
)
from workers.job import (
    ALONE_FIELD,
    SUSPECT_FIELD,
    Job,
    JobHash,
    attempts_of,
    corrupt_counters,
    drain_posted,
    parse_job_hash,
    valid_parent,
    valid_parent_key,
)
from workers.multiplex import ScriptConnection
from workers.producers import Producers
from workers.protocol import HeldJob, QueueSpec
from workers.registry import Processor, QueueProcessors
from workers.retry import REDIS, Backoff, retry
from workers.state import WorkerContext
from workers.tracing import job_span
from workers.validation import describe

log = logging.getLogger("corral.worker")

MAX_BLOCK_SECONDS = 5.0  # cap on one BZPOPMIN, so a drain or a delayed job is never waited on long
FINISH_RETRY_SECONDS = 30.0  # keep trying to record a result this long (one lock duration)
HALF_FETCHED_SCAN = 1000  # how deep into `active` to look for a job a failed script left locked with our token
NO_JOB = FetchResult(None, None, 0, 0)
REDIS_DOWN = (redis.exceptions.ConnectionError, redis.exceptions.TimeoutError)
FETCH = Backoff(first=0.1, factor=2.0, cap=2.0, attempts=6)  # then the slot parks and tries again later
STARTED_TOO_OFTEN = "job started more than allowable limit"  # Node's reason for maxStartedAttempts


def describe_validation_error(err: ValidationError) -> str:
    return describe(err, lead="invalid job data")


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


# -- what a finishing script's answer means ------------------------------------------------------------------


class Outcome(enum.Enum):
    RECORDED = "recorded"  # the script did its job
    FAIL_ATTEMPT = "fail attempt"  # completion refused (pending children): fail this attempt, retries as usual
    FAIL_FOR_GOOD = "fail for good"  # completion refused (a child failed): fail without retries
    GONE = "gone"  # the job's hash no longer exists: take its id out of `active`, nothing to record
    NOT_OURS = "not ours"  # lock expired or taken, or job already moved: BullMQ's stalled check owns it


def finish_outcome(code: int, target: str) -> Outcome:
    """What to do when moveToFinished (target "completed"/"failed"), retryJob or moveToDelayed answers `code`.

    -4 and -9 only come back when completing; the lock codes (-2, -6) and -3 mean the job is someone else's: a
    job whose lock expired is moved by BullMQ's stalled check within two stalled intervals, never left active.
    Codes no finishing script returns (-5, -7, -8, -10, -11, or new ones) are treated as the job not being ours,
    logged as an error so they are seen."""
    if code == PENDING_CHILDREN and target == "completed":
        return Outcome.FAIL_ATTEMPT
    if code == FAILED_CHILDREN and target == "completed":
        return Outcome.FAIL_FOR_GOOD
    if code == JOB_NOT_EXIST:
        return Outcome.GONE
    return Outcome.NOT_OURS


@dataclass
class _Attempt:
    """One job in a slot's hands."""

    job_id: str
    token: str
    raw: dict[str, str]
    opts: dict[str, Any]
    attempts_made: int
    started: float  # perf_counter when taken
    attempts: int = 0  # opts.attempts once read; 0 while unread or unreadable
    job: Job | None = None
    seconds: float = 0.0  # how long the processor took
    outcome: str = ""  # what was recorded (completed, failed, retried, moved), for the job's span
    detail: str = ""  # the result as stored, or the failure reason

    @property
    def name(self) -> str:
        return self.raw.get("name", "")


class QueueConsumer:
    def __init__(
        self,
        spec: QueueSpec,
        processors: QueueProcessors,
        conn: ScriptConnection,
        blocking: AsyncRedis,
        ctx: WorkerContext,
        prefix: str,
        run_sync: Callable[[Callable[..., Any], Any], asyncio.Future[Any]],
        producers: Producers | None = None,
    ) -> None:
        self.spec = spec
        self.processors = processors
        self.blocking = blocking
        self.ctx = ctx
        self.keys = QueueKeys(prefix, spec.name)
        limiter = {"max": spec.limiter[0], "duration": spec.limiter[1]} if spec.limiter else None
        self.scripts = AsyncScripts(conn, self.keys, ctx.worker_name, ctx.lock_duration_ms, limiter)
        self.run_sync = run_sync
        self.producers = producers
        self._parked: deque[asyncio.Future[None]] = deque()
        self._want_marker = asyncio.Event()
        self._next_delayed_ms = 0
        self._rate_limited_until = 0.0
        self._running: dict[str, tuple[Job, asyncio.Task[Any]]] = {}  # jobs whose processor runs

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

    def cancel(self, job_id: str, reason: str) -> bool:
        """Cancel a running job (Node's `worker.cancelJob`): its processor task gets CancelledError (a `def`
        processor sees `job.cancelled`), and the attempt fails with the reason. False if we do not hold it."""
        running = self._running.get(job_id)
        if running is None or running[0].cancel_reason is not None:
            return running is not None
        job, task = running
        job.cancel_reason = reason or "cancelled"
        task.cancel()
        return True

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
        if self.ctx.gate.exclusive:
            await self.ctx.gate.wait_open()  # a suspect runs alone in this worker: fetch nothing meanwhile
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
        try:
            res = await retry(lambda: self.scripts.move_to_active(token), on=REDIS_DOWN, backoff=FETCH)
        except REDIS_DOWN as e:
            log.warning("queue %s: Redis unreachable while fetching: %s", self.spec.name, e)
            return NO_JOB
        except redis.exceptions.ResponseError as e:
            # The script stopped half-way on a job whose counters are not integers: it is locked with our
            # token in `active`. Find it and hand it to _process, which repairs and fails it by name.
            return await self._half_fetched(token, e)
        self._note_limits(res)
        return res

    async def _half_fetched(self, token: str, err: Exception) -> FetchResult:
        job_id = await self._find_locked_by(token)
        if job_id is None:
            log.error("queue %s: fetching failed inside BullMQ's script: %s", self.spec.name, err)
            await asyncio.sleep(1.0)
            return NO_JOB
        raw = await self.scripts._hash(self.keys.job(job_id))
        log.warning("queue %s: job %s stopped BullMQ's script half-way (%s); failing it", self.spec.name, job_id,
                    err, extra={"queue": self.spec.name, "job_id": job_id})
        return FetchResult(raw, job_id, 0, 0)

    async def _find_locked_by(self, token: str) -> str | None:
        ids = await self.scripts._command("LRANGE", self.keys.key("active"), 0, HALF_FETCHED_SCAN - 1)
        for job_id in ids:
            if await self.scripts._command("GET", self.keys.job(job_id) + ":lock") == token:
                return str(job_id)
        return None

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
            except REDIS_DOWN as e:
                failures += 1
                delay = REDIS.delay(failures)
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
        self.ctx.hold(HeldJob(self.spec.name, job_id, token, time.time()))
        attempt = _Attempt(job_id, token, raw, {}, 0, time.perf_counter())
        pending: list[asyncio.Future[None]] = []
        try:
            try:
                parsed = parse_job_hash(raw)
                attempt.opts, attempt.attempts_made = parsed.opts, parsed.attempts_made
                attempt.attempts = attempts_of(parsed.opts)  # a corrupt `attempts` fails the job before it runs
            except InvalidJobError as err:
                await self._repair(job_id, raw)
                return await self._failed(attempt, err)
            if parsed.repeat_job_key:
                await self._schedule_next(job_id, raw)
            refusal = self._refusal(parsed)
            if refusal:
                # BullMQ decided this job fails (or it started too often): fail it without running it, as Node does.
                return await self._failed(attempt, UnrecoverableError(refusal))
            if SUSPECT_FIELD in raw:
                return await self._run_alone(attempt, parsed, pending)
            return await self._run_and_record(attempt, parsed, pending)
        except (redis.exceptions.ConnectionError, redis.exceptions.TimeoutError):
            raise  # the slot waits for Redis; the job's lock expires and the stalled check recovers it
        except Exception as err:
            # Something in the hash that no rule above foresaw made recording the job fail: fail it with what is
            # known to be safe, rather than leave it to stall and break the same way again.
            log.exception("queue %s: job %s could not be handled; failing it", self.spec.name, job_id,
                          extra={"queue": self.spec.name, "job_id": job_id})
            return await self._last_resort(attempt, err)
        finally:
            self.ctx.release(token)

    async def _run_and_record(self, attempt: _Attempt, parsed: JobHash, pending: list[asyncio.Future[None]]
                              ) -> FetchResult:
        gate = self.ctx.gate
        if gate.exclusive:
            await gate.wait_open()
        gate.enter()
        try:
            return await self._attempt(attempt, parsed, pending)
        finally:
            gate.leave()

    async def _run_alone(self, attempt: _Attempt, parsed: JobHash, pending: list[asyncio.Future[None]]
                         ) -> FetchResult:
        """A suspect (it shared a worker that was killed) runs with no other job in this worker, so that if it is
        the culprit, the next kill names it alone (pool/handback.py)."""
        gate = self.ctx.gate
        log.info("queue %s: job %s shared a killed worker; running it alone", self.spec.name, attempt.job_id,
                 extra={"queue": self.spec.name, "job_id": attempt.job_id})
        await gate.enter_alone()
        try:
            # Other jobs this worker fetched meanwhile wait for the gate, held but not started: if this one kills
            # the worker, the mark names it as the one that ran.
            await self.scripts._command("HSET", self.keys.job(attempt.job_id), ALONE_FIELD, self.ctx.worker_id)
            return await self._attempt(attempt, parsed, pending)
        finally:
            # It ran alone and its worker lived: not the culprit.
            await self.scripts._command("HDEL", self.keys.job(attempt.job_id), SUSPECT_FIELD, ALONE_FIELD)
            gate.leave_alone()

    async def _attempt(self, attempt: _Attempt, parsed: JobHash, pending: list[asyncio.Future[None]]
                       ) -> FetchResult:
        with job_span(self.spec.name, self.ctx, attempt, parsed):  # tracing: a no-op unless [tracing] enabled
            try:
                value = await self._run_processor(attempt, parsed, pending)
            except JobMovedError as moved:
                await drain_posted(pending)
                return await self._moved(attempt, moved)
            except Exception as err:
                await drain_posted(pending)
                return await self._failed(attempt, err)
            return await self._finish(attempt, target="completed", value=value)

    def _refusal(self, parsed: JobHash) -> str | None:
        if parsed.deferred_failure:
            return parsed.deferred_failure
        limit = self.spec.max_started_attempts
        if limit and limit < parsed.attempts_started:
            return STARTED_TOO_OFTEN
        return None

    async def _run_processor(self, attempt: _Attempt, parsed: JobHash, pending: list[asyncio.Future[None]]) -> str:
        proc = self.processors.for_name(self.spec.name, parsed.name)
        job = self._job(attempt, parsed, validate_data(proc, parsed.data), pending)
        attempt.job = job
        # Awaited in the slot's own task, not a task per job (one per job cost ~10 us of CPU, a third of a no-op
        # job's): cancelling a job cancels the slot's task while, and only while, its processor runs.
        task = asyncio.current_task()
        assert task is not None
        self._running[attempt.job_id] = (job, task)
        try:
            result = await (proc.func(job) if proc.is_async else self.run_sync(proc.func, job))
        except asyncio.CancelledError:
            if job.cancel_reason is None:
                raise  # the worker itself is being cancelled
            task.uncancel()
            raise RuntimeError(f"cancelled: {job.cancel_reason}") from None
        finally:
            del self._running[attempt.job_id]
            attempt.seconds = time.perf_counter() - attempt.started
        await drain_posted(pending)
        try:
            return json.dumps(result, separators=(",", ":"), allow_nan=False)
        except (TypeError, ValueError) as e:
            raise UnrecoverableError(f"processor returned a value that is not JSON-serialisable: {e}") from None

    def _job(self, attempt: _Attempt, parsed: JobHash, data: Any, pending: list[asyncio.Future[None]]) -> Job:
        loop = asyncio.get_running_loop()

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
            queue=self.spec.name, id=attempt.job_id, name=parsed.name, data=data, opts=parsed.opts,
            attempts_made=parsed.attempts_made, timestamp=parsed.timestamp, token=attempt.token, _post=post,
            _scripts=self.scripts, _producers=self.producers, _loop=loop, attempts_started=parsed.attempts_started,
            stalled_counter=parsed.stalled_counter, parent_key=parsed.parent_key,
            repeat_job_key=parsed.repeat_job_key,
        )

    async def _schedule_next(self, job_id: str, raw: dict[str, str]) -> None:
        """Node's Worker adds a job scheduler's next iteration when it takes the current one; so do we. A failure is
        logged and the job still runs (Node would leave it unprocessed until it stalls)."""
        if self.producers is None:
            return
        try:
            nxt = await self.producers.next_iteration(self.spec.name, job_id, raw)
        except Exception as e:
            log.error("queue %s: failed to add the next iteration of the job scheduler of job %s: %s",
                      self.spec.name, job_id, e, extra={"queue": self.spec.name, "job_id": job_id})
            return
        if nxt:
            log.debug("queue %s: job scheduler %s: next iteration %s", self.spec.name, raw.get("rjk"), nxt)

    # -- recording what happened -----------------------------------------------------------------

    async def _moved(self, attempt: _Attempt, moved: JobMovedError) -> FetchResult:
        """The processor moved its own job (or rate-limited the queue): nothing to complete or fail."""
        attempt.outcome = "moved"
        if isinstance(moved, RateLimitError):
            try:
                ttl = await self.scripts.move_to_wait(attempt.job_id, attempt.token)
            except ScriptError as e:
                return self._refused(attempt, e, "failed")
            if ttl > 0:
                self._rate_limited_until = time.monotonic() + ttl / 1000
            return NO_JOB
        if await self._still_ours(attempt):
            # DelayedError & co. without the move: a processor bug. Failing the attempt beats leaving the job
            # active until its lock expires (which is what Node does).
            what = {DelayedError: "move_to_delayed", WaitingChildrenError: "move_to_waiting_children",
                    WaitingError: "move_to_wait"}.get(type(moved), "a move")
            return await self._failed(attempt, RuntimeError(
                f"processor raised {type(moved).__name__} without calling job.{what}() first"))
        return NO_JOB

    async def _still_ours(self, attempt: _Attempt) -> bool:
        lock = await self.scripts._command("GET", self.keys.job(attempt.job_id) + ":lock")
        return bool(lock == attempt.token)

    async def _failed(self, attempt: _Attempt, err: BaseException) -> FetchResult:
        self.ctx.finishing(attempt.token)
        reason = str(err) or type(err).__name__
        fields = {"failedReason": reason,
                  "stacktrace": json.dumps(_stacktrace(attempt.raw, attempt.opts, err), separators=(",", ":"))}
        delay, note = self._retry_delay(attempt, err)
        if note:
            reason = fields["failedReason"] = f"{reason} (not retried: {note})"
        attempt.detail = reason
        if delay is not None:
            return await self._retry(attempt, delay, fields)
        return await self._finish(attempt, target="failed", value=reason, fields=fields)

    def _retry_delay(self, attempt: _Attempt, err: BaseException) -> tuple[int | None, str]:
        """(delay in ms before the retry or None for no retry, why a retry that was due is not made)."""
        if isinstance(err, UnrecoverableError):
            return None, ""
        try:
            attempts = attempt.attempts or attempts_of(attempt.opts)
        except InvalidJobError as e:
            return None, str(e)
        if attempt.attempts_made + 1 >= attempts:
            return None, ""
        if attempt.job is not None and attempt.job.discarded:
            return None, "the processor discarded the job"
        try:
            return backoff_delay_ms(attempt.opts.get("backoff"), attempt.attempts_made + 1), ""
        except (UnknownBackoffError, InvalidBackoffError) as e:
            return None, str(e)

    async def _retry(self, attempt: _Attempt, delay: int, fields: dict[str, str]) -> FetchResult:
        async def once() -> FetchResult:
            if delay > 0:
                await self.scripts.move_to_delayed(attempt.job_id, attempt.token, delay_ms=delay, fields=fields)
            else:
                await self.scripts.retry_job(attempt.job_id, attempt.token, lifo=bool(attempt.opts.get("lifo")),
                                             fields=fields)
            self._count(attempt, "retried", fields["failedReason"])
            return NO_JOB
        return await self._record(attempt, "failed", once)

    def _count(self, attempt: _Attempt, status: str, reason: str = "") -> None:
        """Telemetry and counters, once the outcome is in Redis; a failed attempt is also logged and noted."""
        attempt.outcome = status
        self.ctx.record(self.spec.name, attempt.name, status=status, seconds=attempt.seconds)
        if status != "completed":
            self.ctx.failures.note(self.spec.name, attempt.job_id, attempt.name, reason, final=status == "failed")

    async def _finish(self, attempt: _Attempt, *, target: str, value: str,
                      fields: dict[str, str] | None = None) -> FetchResult:
        self.ctx.finishing(attempt.token)
        attempt.detail = value
        opts = attempt.opts
        attempts = attempt.attempts or attempt.attempts_made + 1  # unreadable `attempts`: this failure is the last

        async def once() -> FetchResult:
            res = await self.scripts.move_to_finished(
                attempt.job_id, attempt.token, target=target, value=value,
                keep=keep_jobs(opts.get("removeOnComplete" if target == "completed" else "removeOnFail")),
                attempts=attempts, attempts_made=attempt.attempts_made,
                max_metrics_size=self.spec.metrics_max_data_points or "",
                fetch_next=not (self.ctx.draining or self.ctx.gate.exclusive), job_opts=opts, fields=fields,
            )
            self._count(attempt, target, value if target == "failed" else "")
            self._note_limits(res)
            return res

        try:
            return await self._record(attempt, target, once)
        except _Refused as r:
            outcome = finish_outcome(r.error.code, target)
            if outcome is Outcome.FAIL_ATTEMPT:
                return await self._failed(attempt, RuntimeError(str(r.error)))
            return await self._failed(attempt, UnrecoverableError(str(r.error)))

    async def _record(self, attempt: _Attempt, target: str, once: Callable[[], Awaitable[FetchResult]]
                      ) -> FetchResult:
        """Record a job's outcome, riding out a Redis blip; each refusal code gets its outcome (`finish_outcome`)."""
        deadline = time.monotonic() + FINISH_RETRY_SECONDS
        tries = 0
        while True:
            try:
                return await once()
            except ScriptError as e:
                if finish_outcome(e.code, target) in (Outcome.FAIL_ATTEMPT, Outcome.FAIL_FOR_GOOD):
                    raise _Refused(e) from None
                if finish_outcome(e.code, target) is Outcome.GONE:
                    await self._forget(attempt)
                    return NO_JOB
                return self._refused(attempt, e, target)
            except redis.exceptions.ResponseError as e:
                # A Lua error: a hash holds something BullMQ's script cannot handle.
                locked = await self._find_locked_by(attempt.token)
                if locked is not None and locked != attempt.job_id:
                    # Ours is recorded; the job fetched next stopped the script half-way: fail it by name next.
                    return await self._half_fetched(attempt.token, e)
                if tries or not await self._repair(attempt.job_id, attempt.raw, force=True):
                    log.error("queue %s: BullMQ refused to record job %s: %s; it stays active until the stalled "
                              "check moves it", self.spec.name, attempt.job_id, e,
                              extra={"queue": self.spec.name, "job_id": attempt.job_id})
                    return NO_JOB
            except (redis.exceptions.ConnectionError, redis.exceptions.TimeoutError) as e:
                if time.monotonic() > deadline:
                    log.error("queue %s: gave up recording job %s after Redis stayed unreachable: %s; "
                              "its lock will expire and BullMQ's stalled check will run it again",
                              self.spec.name, attempt.job_id, e,
                              extra={"queue": self.spec.name, "job_id": attempt.job_id})
                    return NO_JOB
                await asyncio.sleep(REDIS.delay(tries + 1))
            tries += 1

    def _refused(self, attempt: _Attempt, e: ScriptError, target: str) -> FetchResult:
        """-2/-6: our lock expired or another worker holds it; -3: the job already left `active` (the stalled
        check moved it, or an earlier try of this very call landed before a connection dropped). The job is
        someone else's: BullMQ's stalled check recovers one whose lock expired."""
        if e.code in (LOCK_MISSING, LOCK_MISMATCH):
            self.ctx.lost_locks += 1
            log.warning("queue %s: could not record job %s as %s: %s; BullMQ's stalled check owns it now",
                        self.spec.name, attempt.job_id, target, e,
                        extra={"queue": self.spec.name, "job_id": attempt.job_id})
        elif e.code == NOT_IN_STATE:
            log.info("queue %s: job %s was no longer active when recorded as %s", self.spec.name, attempt.job_id,
                     target, extra={"queue": self.spec.name, "job_id": attempt.job_id})
        else:
            log.error("queue %s: BullMQ answered code %s recording job %s: %s", self.spec.name, e.code,
                      attempt.job_id, e, extra={"queue": self.spec.name, "job_id": attempt.job_id})
        return NO_JOB

    async def _forget(self, attempt: _Attempt) -> None:
        """The job's hash was deleted while it ran: nothing can be recorded, and BullMQ's stalled check would turn
        the bare id back into a job. Take the id out of `active` and `stalled`, and drop our lock."""
        k = self.keys
        log.warning("queue %s: job %s was deleted while it ran; nothing recorded", self.spec.name, attempt.job_id,
                    extra={"queue": self.spec.name, "job_id": attempt.job_id})
        await self.scripts._command("LREM", k.key("active"), 0, attempt.job_id)
        await self.scripts._command("SREM", k.key("stalled"), attempt.job_id)
        await self.scripts._command("DEL", k.job(attempt.job_id) + ":lock")

    async def _last_resort(self, attempt: _Attempt, err: Exception) -> FetchResult:
        await self._repair(attempt.job_id, attempt.raw, force=True)
        reason = f"corral could not handle this job: {type(err).__name__}: {err}"[:1000]
        try:
            await self.scripts.move_to_finished(
                attempt.job_id, attempt.token, target="failed", value=reason, keep={"count": -1},
                attempts=attempt.attempts_made + 1, attempts_made=attempt.attempts_made, max_metrics_size="",
                fetch_next=False, job_opts={}, fields={"failedReason": reason})
        except Exception as e:
            log.error("queue %s: job %s could not be failed either: %s", self.spec.name, attempt.job_id, e,
                      extra={"queue": self.spec.name, "job_id": attempt.job_id})
        return NO_JOB

    async def _repair(self, job_id: str, raw: dict[str, str], *, force: bool = False) -> bool:
        """Make a corrupt job hash one BullMQ's scripts can finish: counters that are not integers are set to 0 and
        a `parent` that is not JSON is removed (after logging them). True if anything was repaired."""
        key = self.keys.job(job_id)
        if force:
            raw = await self.scripts._hash(key)
        bad = corrupt_counters(raw)
        for name in bad:
            await self.scripts._command("HSET", key, name, "0")
        # moveToFinished decodes `parent` with cjson and reads its fields, and splits `parentKey`: a value it cannot
        # use stops it half-way, after it took the job off `active`.
        for name, valid in (("parent", valid_parent), ("parentKey", valid_parent_key)):
            if raw.get(name) and not valid(raw[name]):
                bad.append(name)
                await self.scripts._command("HDEL", key, name)
        if bad:
            log.warning("queue %s: job %s had corrupt fields %s (%s); reset so it can be failed", self.spec.name,
                        job_id, ", ".join(bad), ", ".join(f"{b}={raw.get(b, '')[:40]!r}" for b in bad),
                        extra={"queue": self.spec.name, "job_id": job_id})
        return bool(bad)


class _Refused(Exception):
    def __init__(self, error: ScriptError) -> None:
        super().__init__(str(error))
        self.error = error


def _stacktrace(raw: dict[str, str], opts: dict[str, Any], err: BaseException) -> list[str]:
    try:
        stack = json.loads(raw.get("stacktrace") or "[]")
        if not isinstance(stack, list):
            stack = []
    except (ValueError, RecursionError):
        stack = []
    stack.append("".join(traceback.format_exception(err)).rstrip())
    limit = opts.get("stackTraceLimit")
    if isinstance(limit, int) and not isinstance(limit, bool) and limit >= 0:
        stack = stack[-limit:] if limit else []
    return stack


async def _call(fn: Callable[[], None]) -> None:
    fn()


def _in_loop_thread(loop: asyncio.AbstractEventLoop) -> bool:
    try:
        return asyncio.get_running_loop() is loop
    except RuntimeError:
        return False

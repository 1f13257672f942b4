"""The job as a processor sees it, and the parsing of a BullMQ job hash into it.

A processor gets a `Job`: its fields (id, name, data, opts, attempts) and the calls a BullMQ 6 processor has on
Node's `Job`, with Python names: progress and logs, `update_data`, the children's values of a flow's parent,
`move_to_delayed` / `move_to_waiting_children` / `move_to_wait` (each followed by raising the matching error from
`workers.errors`), `extend_lock`, `rate_limit`, `discard`, and adding jobs, child jobs and whole flows.

The calls are coroutines run on the worker's event loop. A `def` processor (running in a thread) calls them
through `job.wait(...)`, e.g. `job.wait(job.update_data({...}))`; `progress()` and `log()` work from either.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Awaitable, Callable, Coroutine
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, TypeVar

from pydantic import BaseModel

from workers.errors import InvalidJobError

if TYPE_CHECKING:
    from workers.bullmq_scripts import AsyncScripts
    from workers.producers import Producers

T = TypeVar("T")


# -- the job hash -----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class JobHash:
    """What a worker needs of a BullMQ job hash, checked field by field."""

    name: str
    data: Any
    opts: dict[str, Any]
    attempts_made: int
    attempts_started: int
    stalled_counter: int
    timestamp: int
    parent_key: str | None
    parent: dict[str, Any] | None
    repeat_job_key: str | None
    deferred_failure: str | None  # `defa`: BullMQ decided this job fails, without running it


# Fields BullMQ's own scripts do arithmetic on (HINCRBY): a value that is not an integer makes the script stop
# half-way. The consumer repairs them before any script touches the job (see QueueConsumer._repair).
COUNTER_FIELDS = ("atm", "ats", "stc")
# corral's own fields on a job hash (they go away with the job). Kills for cause counted against the job, the mark
# of a job that shared a killed worker with others, to be run alone next, and the id of the worker running such a job
# alone now: other jobs that worker holds meanwhile only wait (pool/handback.py).
KILLS_FIELD = "corral:kills"
SUSPECT_FIELD = "corral:suspect"
ALONE_FIELD = "corral:alone"


def _decode_json(raw: str | None, what: str, default: Any) -> Any:
    if raw is None or raw == "":
        return default
    try:
        return _DECODER.decode(raw)
    except RecursionError:
        raise InvalidJobError(f"job {what} is nested too deeply to decode") from None
    except (ValueError, TypeError) as e:
        raise InvalidJobError(f"job {what} is not valid JSON: {e}") from None


def _refuse_constant(name: str) -> Any:
    # NaN and Infinity are not JSON (Node's JSON.parse refuses them); Python's json would take them.
    raise ValueError(f"{name} is not a JSON value")


# One decoder for every job (json.loads with an option builds a new one per call: ~2 us a job).
_DECODER = json.JSONDecoder(parse_constant=_refuse_constant)


def _integer(raw: dict[str, str], field_name: str, *, default: int = 0) -> int:
    value = raw.get(field_name)
    if value is None:
        return default
    try:
        return int(value)
    except ValueError:
        raise InvalidJobError(f"job field {field_name!r} is not an integer: {value[:40]!r}") from None


def corrupt_counters(raw: dict[str, str]) -> list[str]:
    """The counter fields of a job hash that BullMQ's scripts could not increment."""
    bad = []
    for name in COUNTER_FIELDS:
        value = raw.get(name)
        if value is not None:
            try:
                int(value)  # what Redis's HINCRBY takes: not "", not "1.5"
            except ValueError:
                bad.append(name)
    return bad


def parse_job_hash(raw: dict[str, str]) -> JobHash:
    """A BullMQ job hash as a JobHash; anything a producer could have written wrong is an InvalidJobError that
    names the field.

    Redis replies are decoded with `surrogateescape`, so bytes that are not UTF-8 arrive as lone surrogates: such
    a job is refused here by name instead of crashing the reply parser.
    """
    if "name" not in raw and "data" not in raw and "timestamp" not in raw:
        # moveToActive recreates a deleted hash with only processedOn/pb/ats: the job's content is gone.
        raise InvalidJobError("job hash is missing (deleted while the job was queued): nothing to run")
    for field_name in ("name", "data", "opts", "parentKey", "parent", "rjk", "defa"):
        value = raw.get(field_name)
        if value is not None and not value.isascii() and not _is_utf8(value):  # (isascii: a flag, no copy)
            raise InvalidJobError(f"job {field_name} is not valid UTF-8 text")
    opts = _decode_json(raw.get("opts"), "opts", {})
    if not isinstance(opts, dict):
        raise InvalidJobError("job opts is not a JSON object")
    data = _decode_json(raw.get("data"), "data", {})
    parent = _decode_json(raw.get("parent"), "parent", None)
    if raw.get("parent") and not valid_parent(raw["parent"]):
        raise InvalidJobError("job parent is not a JSON object with a string id and queueKey")
    if raw.get("parentKey") and not valid_parent_key(raw["parentKey"]):
        raise InvalidJobError("job parentKey is not a job key ('<prefix>:<queue>:<id>')")
    timestamp = raw.get("timestamp")
    try:
        ts = int(float(timestamp)) if timestamp not in (None, "") else 0
    except (ValueError, OverflowError):
        raise InvalidJobError(f"job field 'timestamp' is not a number: {str(timestamp)[:40]!r}") from None
    return JobHash(
        name=raw.get("name", ""),
        data=data,
        opts=opts,
        attempts_made=_integer(raw, "atm", default=_integer(raw, "attemptsMade")),
        attempts_started=_integer(raw, "ats"),
        stalled_counter=_integer(raw, "stc"),
        timestamp=ts,
        parent_key=raw.get("parentKey") or None,
        parent=parent,
        repeat_job_key=raw.get("rjk") or None,
        deferred_failure=raw.get("defa") or None,
    )


def _is_utf8(text: str) -> bool:
    try:
        text.encode("utf-8")
        return True
    except UnicodeEncodeError:
        return False


MAX_ATTEMPTS = 2**31 - 1  # beyond it a value is a producer's bug (and would not pack into a script's arguments)


def attempts_of(opts: dict[str, Any]) -> int:
    """`opts.attempts` as BullMQ uses it (absent or 0: one attempt); anything but a whole number up to MAX_ATTEMPTS
    is refused."""
    value = opts.get("attempts")
    if value is None:
        return 1
    if isinstance(value, str) and value.strip().lstrip("-").isdigit():
        value = int(value)  # Node compares a numeric string as a number
    if isinstance(value, bool) or not isinstance(value, int | float) or value != value or abs(value) == float("inf") \
            or int(value) != value or value > MAX_ATTEMPTS:
        raise InvalidJobError(f"job option 'attempts' must be a whole number up to {MAX_ATTEMPTS}, "
                              f"got {json.dumps(value)[:40]}")
    return max(1, int(value))


def valid_parent_key(raw: str) -> bool:
    """moveToFinished takes the parent's id from after the last ':' of `parentKey`; without one it stops half-way."""
    return ":" in raw


def valid_parent(raw: str) -> bool:
    """True if `raw` is a `parent` field moveToFinished can use: a JSON object (within cjson's depth limit of 1000)
    whose `id` and `queueKey` are strings. Anything else stops the script after it took the job off `active`."""
    if raw.count("{") + raw.count("[") >= 1000:
        return False
    try:
        parent = _decode_json(raw, "parent", None)
    except InvalidJobError:
        return False
    return isinstance(parent, dict) and isinstance(parent.get("id"), str) and isinstance(parent.get("queueKey"), str)


# -- the job in a processor's hands --------------------------------------------------------------------


@dataclass
class Job:
    """One BullMQ job in hand.

    `progress()` and `log()` may be called from a `def` processor running in a thread as well as from an
    `async def` one: they are queued to the event loop, and all of them reach Redis before the job is finished, in
    order. The coroutines below run on the worker's loop (from a thread: `job.wait(coro)`).
    """

    queue: str
    id: str
    name: str
    data: Any
    opts: dict[str, Any]
    attempts_made: int
    timestamp: int
    token: str
    _post: Callable[[Callable[[], Coroutine[Any, Any, None]]], None] = field(repr=False)
    _scripts: AsyncScripts = field(repr=False)
    _producers: Producers | None = field(default=None, repr=False)
    _loop: asyncio.AbstractEventLoop | None = field(default=None, repr=False)
    attempts_started: int = 0
    stalled_counter: int = 0
    parent_key: str | None = None  # "<prefix>:<queue>:<id>" of the flow's parent, if this job is a child
    repeat_job_key: str | None = None  # the job scheduler that produced this job
    last_progress: Any = 0
    discarded: bool = False
    cancel_reason: str | None = None  # set when the job was cancelled (the processor's task is cancelled too)

    @property
    def attempts(self) -> int:
        return attempts_of(self.opts)

    @property
    def cancelled(self) -> bool:
        """True once the job was cancelled: an `async def` processor also gets CancelledError; a `def` processor
        running in a thread should poll this and return."""
        return self.cancel_reason is not None

    # progress and logs ---------------------------------------------------------------------------------

    def progress(self, value: Any) -> None:
        """Report progress (a number or a JSON object): stored on the job, emitted as a `progress` event."""
        self.last_progress = value
        self._post(lambda: self._scripts.update_progress(self.id, value))

    def log(self, line: str) -> None:
        """Append a line to the job's BullMQ log (`Job.getLogs` / dashboards)."""
        keep_logs = self.opts.get("keepLogs", self.opts.get("kl"))
        self._post(lambda: self._scripts.add_log(self.id, str(line), keep_logs))

    async def update_progress(self, value: Any) -> None:
        self.last_progress = value
        await self._scripts.update_progress(self.id, value)

    # data and children ---------------------------------------------------------------------------------

    async def update_data(self, data: Any) -> None:
        """Replace the job's data in Redis (Node's `job.updateData`); `job.data` becomes the new value."""
        raw = data.model_dump(mode="json") if isinstance(data, BaseModel) else data
        await self._scripts.update_data(self.id, raw)
        self.data = data

    async def get_children_values(self) -> dict[str, Any]:
        """Return values of this parent's completed children, by child job key (Node's `getChildrenValues`)."""
        return await self._scripts.children_values(self.id)

    async def get_ignored_children_failures(self) -> dict[str, str]:
        """Failure reasons of children that failed with `ignoreDependencyOnFailure`, by child job key."""
        return await self._scripts.ignored_children_failures(self.id)

    async def get_failed_children_values(self) -> dict[str, str]:
        """The older name of `get_ignored_children_failures` (deprecated in BullMQ 6, kept as Node keeps it)."""
        return await self.get_ignored_children_failures()

    async def get_dependencies(self) -> dict[str, Any]:
        """`{processed: {key: value}, unprocessed: [keys], ignored: {key: reason}, failed: [keys]}`."""
        return await self._scripts.dependencies(self.id)

    # moving the job ------------------------------------------------------------------------------------

    async def move_to_delayed(self, timestamp_ms: int) -> None:
        """Put the job back in `delayed` until `timestamp_ms` (epoch ms) without counting an attempt; then
        `raise DelayedError()`."""
        delay = max(0, int(timestamp_ms) - int(time.time() * 1000))
        await self._scripts.move_to_delayed(self.id, self.token, delay_ms=delay, skip_attempt=True)

    async def move_to_waiting_children(self, child_key: str | None = None) -> bool:
        """Park the job until its children are done (all of them, or the one `child_key`). True: it waits (then
        `raise WaitingChildrenError()`); False: nothing is pending, the job stays in your hands."""
        return await self._scripts.move_to_waiting_children(self.id, self.token, child_key or "")

    async def move_to_wait(self) -> None:
        """Put the job back in `wait` to be taken again; then `raise WaitingError()`."""
        await self._scripts.move_to_wait(self.id, self.token)

    async def extend_lock(self, duration_ms: int | None = None) -> bool:
        """Renew the job's lock now (corral renews it every half lock duration anyway); False if it was lost."""
        duration = duration_ms if duration_ms is not None else self._scripts.lock_duration_ms
        return await self._scripts.extend_lock(self.id, self.token, duration)

    async def rate_limit(self, ms: int) -> None:
        """Stop every worker of this queue from taking jobs for `ms` (Node's `worker.rateLimit`); then
        `raise RateLimitError()` and this job goes back to `wait`."""
        await self._scripts.set_rate_limit(ms)

    def discard(self) -> None:
        """If this attempt fails, fail the job for good: no retries left or not (BullMQ 5's `job.discard`)."""
        self.discarded = True

    # adding jobs ---------------------------------------------------------------------------------------

    async def add_job(self, name: str, data: Any, opts: dict[str, Any] | None = None,
                      queue: str | None = None) -> str:
        """Add a job to `queue` (default: this job's queue) with bullmq's own Queue.add; its id."""
        return await self._need_producers().add(queue or self.queue, name, data, opts or {})

    async def add_child(self, name: str, data: Any, opts: dict[str, Any] | None = None,
                        queue: str | None = None) -> str:
        """Add a job whose parent is this job (as a flow's child): this job can then `move_to_waiting_children`."""
        producers = self._need_producers()
        parent = {"id": self.id, "queue": f"{producers.prefix}:{self.queue}"}
        return await producers.add(queue or self.queue, name, data, {**(opts or {}), "parent": parent})

    async def add_flow(self, flow: dict[str, Any]) -> dict[str, Any]:
        """Add a whole flow (`{name, queueName, data, opts, children: [...]}`) with bullmq's FlowProducer; the
        tree of added job ids."""
        return await self._need_producers().add_flow(flow)

    def _need_producers(self) -> Producers:
        if self._producers is None:
            raise RuntimeError("this job was not given a connection to add jobs with")
        return self._producers

    # from a thread ------------------------------------------------------------------------------------

    def wait(self, call: Awaitable[T]) -> T:
        """From a `def` processor's thread: run one of the coroutines above on the worker's loop and wait for it."""
        if self._loop is None:
            raise RuntimeError("job.wait() needs the worker's event loop")
        return asyncio.run_coroutine_threadsafe(_as_coroutine(call), self._loop).result()


async def _as_coroutine(call: Awaitable[T]) -> T:
    return await call


async def drain_posted(pending: list[asyncio.Future[None]]) -> None:
    """Wait for a job's queued progress/log writes before it is finished, so none lands after."""
    if pending:
        await asyncio.gather(*pending, return_exceptions=True)
        pending.clear()

"""BullMQ's own Lua scripts, run on a worker's multiplexed connection or a redis-py client.

The scripts are the wire protocol: we load them from the `bullmq` package (byte-identical to Node
BullMQ 6's) and only pack their arguments here, the way Node's `scripts.ts` does. Packing them
ourselves, rather than going through bullmq's Python `Scripts` class, lets us pass what that class
forgets (the worker name for `processedBy` on a fetched-next job) and skip its per-call allocations.
"""

from __future__ import annotations

import functools
import hashlib
import json
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import bullmq
import msgpack
from redis.commands.core import AsyncScript, Script

from workers.multiplex import ClusterMultiplexedConnection, MultiplexedConnection, ScriptConnection
from workers.redis_url import AsyncClient

SCRIPT_DIR = Path(bullmq.__file__).parent / "commands"

# name -> file; the number is the script's key count, part of BullMQ's naming.
SCRIPT_FILES = {
    "moveToActive": "moveToActive-11.lua",
    "moveToFinished": "moveToFinished-14.lua",
    "moveToDelayed": "moveToDelayed-11.lua",
    "retryJob": "retryJob-11.lua",
    "extendLocks": "extendLocks-1.lua",
    "moveStalledJobsToWait": "moveStalledJobsToWait-9.lua",
    "moveJobFromActiveToWait": "moveJobFromActiveToWait-9.lua",
    "updateProgress": "updateProgress-3.lua",
    "addLog": "addLog-2.lua",
    "moveToWaitingChildren": "moveToWaitingChildren-7.lua",
    "updateData": "updateData-1.lua",
    "extendLock": "extendLock-2.lua",
}

# BullMQ 6's error codes (src/enums/error-code.ts) and the messages Node's `finishedErrors` builds from them: a job
# failed because of one carries the same failedReason under corral as under a Node worker.
ERROR_CODES = {
    -1: "Missing key for job {job_id}. {command}",
    -2: "Missing lock for job {job_id}. {command}",
    -3: "Job {job_id} is not in the {state} state. {command}",
    -4: "Job {job_id} has pending dependencies. {command}",
    -5: "Missing key for parent job {parent_key}. {command}",
    -6: "Lock mismatch for job {job_id}. Cmd {command} from {state}",
    -7: "The parent job {parent_key} cannot be replaced. {command}",
    -8: "Job {job_id} belongs to a job scheduler and cannot be removed directly. {command}",
    -9: "Cannot complete job {job_id} because it has at least one failed child. {command}",
    -10: "Cannot create job scheduler iteration - job ID already exists. {command}",
    -11: "Cannot create job scheduler iteration - current and next time slots already have jobs. {command}",
}
JOB_NOT_EXIST, LOCK_MISSING, NOT_IN_STATE, PENDING_CHILDREN = -1, -2, -3, -4
LOCK_MISMATCH, FAILED_CHILDREN = -6, -9


class ScriptError(RuntimeError):
    """A BullMQ script answered with one of its negative error codes; the message is Node's for that code."""

    def __init__(self, command: str, job_id: str, code: int, *, state: str = "active", parent_key: str = "") -> None:
        self.code = code
        self.command = command
        self.job_id = job_id
        template = ERROR_CODES.get(code, "Unknown code {code} error for {job_id}. {command}")
        super().__init__(template.format(job_id=job_id, command=command, state=state, parent_key=parent_key,
                                         code=code))


def load_source(name: str) -> str:
    return (SCRIPT_DIR / SCRIPT_FILES[name]).read_text()


@functools.cache
def source_and_sha(name: str) -> tuple[str, str]:
    source = load_source(name)
    return source, hashlib.sha1(source.encode()).hexdigest()


@dataclass(frozen=True)
class QueueKeys:
    """Key names of one queue, as BullMQ lays them out."""

    prefix: str
    queue: str

    @property
    def base(self) -> str:
        return f"{self.prefix}:{self.queue}:"

    def key(self, name: str) -> str:
        return f"{self.prefix}:{self.queue}:{name}"

    def job(self, job_id: str) -> str:
        return f"{self.prefix}:{self.queue}:{job_id}"


MAX_SAFE_INTEGER = 2**53 - 1  # Node's Number.MAX_SAFE_INTEGER, the value it writes into the limiter key


def corral_key(prefix: str, *parts: str) -> str:
    """corral's own keys (fleet snapshots, the cancel channel, lease semaphores) live beside BullMQ's, not inside
    its key space, where a queue named `corral` would keep its jobs: `corral:<prefix>:<parts>`. A prefix's Redis
    Cluster hash tag (`{bq}`) still puts them in that prefix's slot."""
    return ":".join(("corral", prefix, *parts))


def keep_jobs(remove_opt: Any) -> dict[str, Any]:
    """Translate a job's removeOnComplete/removeOnFail option as Node's `getKeepJobs` does.

    moveToFinished does arithmetic on count, age and limit after it has taken the job off `active`: a value that
    is not a number would stop the script there and lose the job. Only finite numbers are passed on."""
    if remove_opt is None:
        return {"count": -1}
    if isinstance(remove_opt, Mapping):
        return {k: _bounded(v) for k, v in remove_opt.items()
                if k in ("count", "age", "limit") and _finite_number(v)}
    if _finite_number(remove_opt):
        return {"count": _bounded(remove_opt)}
    return {"count": 0} if remove_opt else {"count": -1}


def _finite_number(v: Any) -> bool:
    return isinstance(v, int | float) and not isinstance(v, bool) and v == v and abs(v) != float("inf")


def _bounded(v: float) -> int:
    """Within what a Lua number holds exactly (and msgpack packs): a larger count or age means "all"."""
    return max(-MAX_SAFE_INTEGER, min(MAX_SAFE_INTEGER, int(v)))


def flat_fields(fields: Mapping[str, str]) -> bytes:
    flat: list[str] = []
    for k, v in fields.items():
        flat += [k, v]
    return bytes(msgpack.packb(flat, use_bin_type=True))


def now_ms() -> int:
    return int(time.time() * 1000)


@dataclass
class FetchResult:
    """What moveToActive (or a fetch-next) handed us."""

    job: dict[str, str] | None
    job_id: str | None
    rate_limit_ms: int
    next_delayed_ms: int


def parse_fetch(raw: Any) -> FetchResult:
    if not raw:
        return FetchResult(None, None, 0, 0)
    fields = raw[0]
    job = dict(zip(fields[::2], fields[1::2], strict=True)) if fields else None
    job_id = raw[1] if raw[1] not in (0, "0", None) else None
    limit = int(raw[2] or 0) if len(raw) > 2 else 0
    delay_until = int(raw[3] or 0) if len(raw) > 3 else 0
    return FetchResult(job if job_id else None, job_id, limit, delay_until)


def _json_or_text(value: str) -> Any:
    try:
        return json.loads(value)
    except ValueError:
        return value


FINISH_JOB_KEY = 11  # the job hash's place in moveToFinished's KEYS


class AsyncScripts:
    """The scripts a consumer (or the supervisor) runs.

    A worker passes its multiplexed connection: the calls of one loop turn share one write (see
    workers/multiplex.py). The supervisor passes a redis-py client (Redis or RedisCluster): its few calls go one
    by one.
    """

    def __init__(self, client: AsyncClient | ScriptConnection, keys: QueueKeys, worker_name: str,
                 lock_duration_ms: int, limiter: Mapping[str, int] | None = None) -> None:
        self.client = client
        self.keys = keys
        self.worker_name = worker_name
        self.lock_duration_ms = lock_duration_ms
        # The worker's own rate limit ({max, duration}), as Node's Worker `limiter` option: moveToActive counts jobs
        # in the queue's limiter key and stops handing out jobs past `max` per `duration` ms.
        self.limiter = dict(limiter) if limiter else None
        self._s: dict[str, AsyncScript] = {}
        self._conn: ScriptConnection | None = None
        self._redis: AsyncClient | None = None
        if isinstance(client, MultiplexedConnection | ClusterMultiplexedConnection):
            self._conn = client
        else:
            self._redis = client
            self._s = {n: client.register_script(source_and_sha(n)[0]) for n in SCRIPT_FILES}
        k = keys.key
        # moveToFinished's keys per target, built once: only the job's own key changes from job to job.
        self._finish_keys = {
            t: (k("wait"), k("active"), k("prioritized"), k("events"), k("stalled"), k("limiter"), k("delayed"),
                k("paused"), k("meta"), k("pc"), k(t), "", k(f"metrics:{t}"), k("marker"))
            for t in ("completed", "failed")
        }
        self._active_keys = [k("wait"), k("active"), k("prioritized"), k("events"), k("stalled"),
                             k("limiter"), k("delayed"), k("paused"), k("meta"), k("pc"), k("marker")]

    def _fetch_opts(self, token: str) -> bytes:
        return bytes(msgpack.packb(
            {"token": token, "lockDuration": self.lock_duration_ms, "limiter": self.limiter, "name": self.worker_name},
            use_bin_type=True,
        ))

    async def _run(self, name: str, keys: Sequence[Any], args: Sequence[Any]) -> Any:
        if self._conn is not None:
            source, sha = source_and_sha(name)
            return await self._conn.run_script(sha, source, keys, args)
        return await self._s[name](keys=list(keys), args=list(args))

    async def _command(self, *args: Any) -> Any:
        """A plain Redis command on either transport (replies as the multiplexed connection gives them)."""
        if self._conn is not None:
            return await self._conn.call(*args)
        assert self._redis is not None
        return await self._redis.execute_command(*args)

    async def _hash(self, key: str) -> dict[str, str]:
        raw = await self._command("HGETALL", key)
        if isinstance(raw, dict):
            return {str(k): str(v) for k, v in raw.items()}
        return dict(zip(raw[::2], raw[1::2], strict=True))

    async def move_to_active(self, token: str) -> FetchResult:
        raw = await self._run("moveToActive", self._active_keys, [self.keys.base, now_ms(), self._fetch_opts(token)])
        return parse_fetch(raw)

    async def move_to_finished(
        self,
        job_id: str,
        token: str,
        *,
        target: str,  # "completed" or "failed"
        value: str,
        keep: dict[str, Any],
        attempts: int,
        attempts_made: int,
        max_metrics_size: int | str,
        fetch_next: bool,
        job_opts: Mapping[str, Any],
        fields: Mapping[str, str] | None = None,
        next_token: str = "",
    ) -> FetchResult:
        keys = list(self._finish_keys[target])
        keys[FINISH_JOB_KEY] = self.keys.job(job_id)
        opts = msgpack.packb({
            # The token of the finished job removes its lock; the same token is then set on the
            # fetched-next job, as Node does.
            "token": token,
            "keepJobs": keep,
            "limiter": self.limiter,
            "lockDuration": self.lock_duration_ms,
            "attempts": attempts,
            "attemptsMade": attempts_made,
            "maxMetricsSize": max_metrics_size,
            "fpof": bool(job_opts.get("fpof") or job_opts.get("failParentOnFailure")),
            "cpof": bool(job_opts.get("cpof") or job_opts.get("continueParentOnFailure")),
            "idof": bool(job_opts.get("idof") or job_opts.get("ignoreDependencyOnFailure")),
            "rdof": bool(job_opts.get("rdof") or job_opts.get("removeDependencyOnFailure")),
            "name": self.worker_name,
        }, use_bin_type=True)
        prop = "returnvalue" if target == "completed" else "failedReason"
        args: list[Any] = [job_id, now_ms(), prop, value, target, "1" if fetch_next else "",
                           self.keys.base, opts]
        if fields:
            args.append(flat_fields(fields))
        raw = await self._run("moveToFinished", keys, args)
        if isinstance(raw, int) and raw < 0:
            raise ScriptError("moveToFinished", job_id, raw)
        return parse_fetch(raw)

    async def retry_job(self, job_id: str, token: str, *, lifo: bool, fields: Mapping[str, str]) -> None:
        k = self.keys.key
        keys = [k("active"), k("wait"), k("paused"), self.keys.job(job_id), k("meta"), k("events"),
                k("delayed"), k("prioritized"), k("pc"), k("marker"), k("stalled")]
        args = [self.keys.base, now_ms(), "RPUSH" if lifo else "LPUSH", job_id, token, flat_fields(fields)]
        raw = await self._run("retryJob", keys, args)
        if isinstance(raw, int) and raw < 0:
            raise ScriptError("retryJob", job_id, raw)

    async def move_to_delayed(self, job_id: str, token: str, *, delay_ms: int, fields: Mapping[str, str] | None = None,
                              skip_attempt: bool = False) -> None:
        """A retry after a backoff (`fields`: the failure), or the processor's own `job.move_to_delayed`
        (`skip_attempt`: the attempt is not counted, as Node's Job.moveToDelayed)."""
        k = self.keys.key
        keys = [k("marker"), k("active"), k("prioritized"), k("delayed"), self.keys.job(job_id), k("events"),
                k("meta"), k("stalled"), k("wait"), k("limiter"), k("pc")]
        args = [self.keys.base, str(now_ms()), job_id, token, delay_ms, "1" if skip_attempt else "0",
                flat_fields(fields) if fields else "", "0"]
        raw = await self._run("moveToDelayed", keys, args)
        if isinstance(raw, int) and raw < 0:
            raise ScriptError("moveToDelayed", job_id, raw)

    async def update_progress(self, job_id: str, progress: Any) -> None:
        k = self.keys.key
        raw = await self._run("updateProgress", [self.keys.job(job_id), k("events"), k("meta")],
                              [job_id, json.dumps(progress, separators=(",", ":"), allow_nan=False)])
        if isinstance(raw, int) and raw < 0:
            raise ScriptError("updateProgress", job_id, raw)

    async def add_log(self, job_id: str, line: str, keep_logs: int | None) -> None:
        await self._run("addLog", [self.keys.job(job_id), self.keys.job(job_id) + ":logs"],
                        [job_id, line, "" if keep_logs is None else keep_logs])

    async def move_to_waiting_children(self, job_id: str, token: str, child_key: str = "") -> bool:
        """True when the job now waits for its children; False when it has none pending (it stays active)."""
        k = self.keys.key
        job_key = self.keys.job(job_id)
        keys = [k("active"), k("waiting-children"), job_key, job_key + ":dependencies", job_key + ":unsuccessful",
                k("stalled"), k("events")]
        raw = await self._run("moveToWaitingChildren", keys, [token, child_key, str(now_ms()), job_id, self.keys.base])
        if raw == 0:
            return True
        if raw == 1:
            return False
        raise ScriptError("moveToWaitingChildren", job_id, int(raw))

    async def update_data(self, job_id: str, data: Any) -> None:
        raw = await self._run("updateData", [self.keys.job(job_id)],
                              [json.dumps(data, separators=(",", ":"), allow_nan=False)])
        if isinstance(raw, int) and raw < 0:
            raise ScriptError("updateData", job_id, raw)

    async def extend_lock(self, job_id: str, token: str, duration_ms: int) -> bool:
        raw = await self._run("extendLock", [self.keys.job(job_id) + ":lock", self.keys.key("stalled")],
                              [token, duration_ms, job_id])
        return bool(raw == 1)

    async def children_values(self, job_id: str) -> dict[str, Any]:
        """The return values of a parent's processed children, by child job key, JSON-decoded (Node's
        `getChildrenValues`)."""
        return {k: _json_or_text(v) for k, v in (await self._hash(self.keys.job(job_id) + ":processed")).items()}

    async def ignored_children_failures(self, job_id: str) -> dict[str, str]:
        """The failure reasons of children whose failure the parent ignores (`ignoreDependencyOnFailure`), by key."""
        return await self._hash(self.keys.job(job_id) + ":failed")

    async def dependencies(self, job_id: str) -> dict[str, Any]:
        """processed (key -> value), unprocessed (keys), ignored (key -> reason), failed (keys): Node's
        `getDependencies()` without paging."""
        base = self.keys.job(job_id)
        processed = await self.children_values(job_id)
        unprocessed = await self._command("SMEMBERS", base + ":dependencies")
        ignored = await self._hash(base + ":failed")
        failed = await self._command("ZRANGE", base + ":unsuccessful", 0, -1)
        return {"processed": processed, "unprocessed": sorted(unprocessed), "ignored": ignored,
                "failed": list(failed)}

    async def set_rate_limit(self, ms: int) -> None:
        """Node's `queue.rateLimit(ms)`: every worker of the queue stops fetching for `ms`."""
        await self._command("SET", self.keys.key("limiter"), MAX_SAFE_INTEGER, "PX", int(ms))


    async def move_to_wait(self, job_id: str, token: str) -> int:
        """moveJobFromActiveToWait: an active job whose lock `token` we hold goes back to wait (or prioritized).

        Returns the queue's rate-limit TTL in ms (0 when not limited); raises ScriptError with BullMQ's code
        (-1 no job, -2 lock expired, -6 another worker's lock)."""
        k = self.keys.key
        keys = [k("active"), k("wait"), k("stalled"), k("paused"), k("meta"), k("limiter"),
                k("prioritized"), k("marker"), k("events")]
        raw = await self._run("moveJobFromActiveToWait", keys, [job_id, token, self.keys.job(job_id)])
        if isinstance(raw, int) and raw < 0:
            raise ScriptError("moveJobFromActiveToWait", job_id, raw)
        return max(0, int(raw or 0))

    async def hand_back(self, job_id: str, token: str) -> int:
        """A dead worker's job back to wait at once: 0, or BullMQ's negative code (-2: the lock already
        expired, -6: another worker holds it now), which callers treat as "not ours to hand back"."""
        try:
            await self.move_to_wait(job_id, token)
        except ScriptError as e:
            return e.code
        return 0

    async def move_stalled_to_wait(self, max_stalled_count: int, stalled_interval_ms: int) -> list[str]:
        k = self.keys.key
        keys = [k("stalled"), k("wait"), k("active"), k("stalled-check"), k("meta"), k("paused"),
                k("marker"), k("events"), k("repeat")]
        raw = await self._run("moveStalledJobsToWait", keys,
                              [max_stalled_count, self.keys.base, now_ms(), stalled_interval_ms])
        return [str(x) for x in (raw or [])]


class SyncScripts:
    """The lock-renewal script on a blocking connection of its own, run from the keeper thread so
    that a processor hogging the event loop cannot starve it."""

    def __init__(self, client: Any, keys: QueueKeys) -> None:
        self.client = client
        self.keys = keys
        self._s: dict[str, Script] = {"extendLocks": client.register_script(load_source("extendLocks"))}

    def extend_locks(self, job_ids: Sequence[str], tokens: Sequence[str], duration_ms: int) -> list[str]:
        """Renew many locks in one call; returns the ids whose lock could not be renewed."""
        failed = self._s["extendLocks"](
            keys=[self.keys.key("stalled")],
            args=[self.keys.base, msgpack.packb(list(tokens), use_bin_type=True),
                  msgpack.packb(list(job_ids), use_bin_type=True), duration_ms],
        )
        return [f.decode() if isinstance(f, bytes) else str(f) for f in (failed or [])]

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
from redis.asyncio import Redis as AsyncRedis
from redis.commands.core import AsyncScript, Script

from workers.multiplex import MultiplexedConnection

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
}

# BullMQ's error codes (src/enums/error-code.ts).
ERROR_CODES = {
    -1: "job does not exist",
    -2: "job lock is missing",
    -3: "job is not in the active state",
    -4: "job has pending dependencies",
    -5: "parent job does not exist",
    -6: "job lock is held by another worker",
    -7: "parent job cannot be replaced",
    -9: "job has failed children",
}


class ScriptError(RuntimeError):
    """A BullMQ script answered with one of its negative error codes."""

    def __init__(self, command: str, job_id: str, code: int) -> None:
        self.code = code
        super().__init__(f"{command} on job {job_id}: {ERROR_CODES.get(code, f'error code {code}')}")


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


def keep_jobs(remove_opt: Any) -> dict[str, Any]:
    """Translate a job's removeOnComplete/removeOnFail option as Node's `getKeepJobs` does."""
    if isinstance(remove_opt, bool):
        return {"count": 0} if remove_opt else {"count": -1}
    if isinstance(remove_opt, int):
        return {"count": remove_opt}
    if isinstance(remove_opt, Mapping):
        return dict(remove_opt)
    return {"count": -1}


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


FINISH_JOB_KEY = 11  # the job hash's place in moveToFinished's KEYS


class AsyncScripts:
    """The scripts a consumer (or the supervisor) runs.

    A worker passes its multiplexed connection: the calls of one loop turn share one write (see
    workers/multiplex.py). The supervisor passes a redis-py client: its few calls go one by one.
    """

    def __init__(self, client: AsyncRedis | MultiplexedConnection, keys: QueueKeys, worker_name: str,
                 lock_duration_ms: int) -> None:
        self.client = client
        self.keys = keys
        self.worker_name = worker_name
        self.lock_duration_ms = lock_duration_ms
        self._s: dict[str, AsyncScript] = {}
        if not isinstance(client, MultiplexedConnection):
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
            {"token": token, "lockDuration": self.lock_duration_ms, "limiter": None, "name": self.worker_name},
            use_bin_type=True,
        ))

    async def _run(self, name: str, keys: Sequence[Any], args: Sequence[Any]) -> Any:
        if isinstance(self.client, MultiplexedConnection):
            source, sha = source_and_sha(name)
            return await self.client.run_script(sha, source, keys, args)
        return await self._s[name](keys=list(keys), args=list(args))

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
            "limiter": None,
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

    async def move_to_delayed(self, job_id: str, token: str, *, delay_ms: int, fields: Mapping[str, str]) -> None:
        k = self.keys.key
        keys = [k("marker"), k("active"), k("prioritized"), k("delayed"), self.keys.job(job_id), k("events"),
                k("meta"), k("stalled"), k("wait"), k("limiter"), k("pc")]
        args = [self.keys.base, str(now_ms()), job_id, token, delay_ms, "0", flat_fields(fields), "0"]
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


    async def hand_back(self, job_id: str, token: str) -> int:
        """Move an active job whose lock `token` we know back to wait at once (moveJobFromActiveToWait).

        Returns 0 on success or BullMQ's negative code (-2: the lock already expired, -6: another
        worker holds it now), which callers treat as "not ours to hand back".
        """
        k = self.keys.key
        keys = [k("active"), k("wait"), k("stalled"), k("paused"), k("meta"), k("limiter"),
                k("prioritized"), k("marker"), k("events")]
        raw = await self._run("moveJobFromActiveToWait", keys, [job_id, token, self.keys.job(job_id)])
        return int(raw) if isinstance(raw, int) and raw < 0 else 0

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

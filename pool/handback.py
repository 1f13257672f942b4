"""Giving a dead worker's jobs back to the queue at once, instead of after BullMQ's stalled check.

Which jobs: those whose lock token starts with the worker's id (tokens are "<worker id>:<n>", so this catches a
job fetched after the last heartbeat), those its last heartbeat listed (the supervisor's own record), and those
still active without a lock whose processedBy names the worker. The last two matter for a worker that froze: its
lock thread froze too, its locks expired, and no lock names it any more. A job whose lock is gone is first locked
by the supervisor (SET NX, so a job someone else took meanwhile is left alone) and then moved like the others.

How: BullMQ's own moveJobFromActiveToWait, which moves a job only if the lock is the given one. Then, as BullMQ's
stalled check does for a job it recovers, a `stalled` event is written and the job's stalled counter (`stc`) is
incremented, so `QueueEvents.on('stalled')` listeners and `job.stalledCounter` see a hand-back as what it is.
BullMQ's `maxStalledCount` is not applied here: whether a job dies for the crash is corral's poison policy below,
which can tell a culprit from a bystander where the stalled check cannot.

Blame (kills for cause only: memory, hang, crash): a job that was alone in its worker when the worker died is the
culprit (alone among the jobs it still held: a job its last heartbeat named may have finished since); its kill count
(`corral:kills` on its hash) goes up, and at `max_kills` it ends failed. When the worker held several jobs, none is
counted: each goes back marked as a suspect (`corral:suspect`), and the next worker that takes a suspect runs it
alone (workers.consumer). A suspect that kills its worker then is the culprit; a bystander finishes and is cleared.
So only the job that brings workers down fails, however many shared its worker. A worker's slots may have fetched
other jobs meanwhile, which wait for the lone one, held but not started: the lone job's `corral:alone` names its
worker, so it is the culprit all the same, and the waiting jobs go back as they were (without it, a fresh worker
whose slots all fetched suspects at once was killed again and again with none blamed).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable
from dataclasses import dataclass

import redis.asyncio
import redis.exceptions

from pool.policy import poison_verdict
from workers.bullmq_scripts import AsyncScripts, QueueKeys, ScriptError, keep_jobs
from workers.job import ALONE_FIELD, KILLS_FIELD, SUSPECT_FIELD

log = logging.getLogger("corral.supervisor")

RECLAIM_LOCK_MS = 10_000  # how long the supervisor holds a reclaimed job's lock while it moves it


@dataclass(frozen=True)
class HandedBack:
    queue: str
    job_id: str
    outcome: str  # "waiting", "failed" or "gone" (someone else has it, or it finished)
    kills: int
    suspect: bool = False


async def held_by(client: redis.asyncio.Redis, keys: QueueKeys, worker_id: str, worker_name: str
                  ) -> list[tuple[str, str]]:
    """(job id, token) of the active jobs `worker_id` held: their lock is its, or their lock expired and the job's
    processedBy names it (a worker that froze right after taking a job, before any heartbeat listed it; the token is
    then ""). O(active), run only on a death."""
    ids: list[str] = await client.lrange(keys.key("active"), 0, -1)
    if not ids:
        return []
    pipe = client.pipeline(transaction=False)
    for job_id in ids:
        pipe.get(keys.job(job_id) + ":lock")
        pipe.hget(keys.job(job_id), "pb")
    replies = await pipe.execute()
    mark = f"{worker_id}:"
    out = []
    for job_id, token, pb in zip(ids, replies[::2], replies[1::2], strict=True):
        if token and token.startswith(mark):
            out.append((job_id, token))
        elif token is None and pb == worker_name:
            out.append((job_id, ""))
    return out


async def _reclaim(client: redis.asyncio.Redis, keys: QueueKeys, job_id: str, token: str, reclaim_token: str
                   ) -> str | None:
    """The token to move a recorded job with: its own if it still holds the lock; ours, set with NX, if the lock
    expired while the job is still active; None when another worker holds it or it left `active`."""
    lock_key = keys.job(job_id) + ":lock"
    current = await client.get(lock_key)
    if token and current == token:
        return token
    if current is not None:
        return None
    if not await client.set(lock_key, reclaim_token, nx=True, px=RECLAIM_LOCK_MS):
        return None
    if await client.lpos(keys.key("active"), job_id) is None:
        await client.delete(lock_key)  # it finished or the stalled check moved it: not ours to move
        return None
    return reclaim_token


async def mark_stalled(client: redis.asyncio.Redis, keys: QueueKeys, job_id: str) -> None:
    """What BullMQ's stalled check writes for a job it recovers: `stc` + 1 and a `stalled` event."""
    try:
        await client.hincrby(keys.job(job_id), "stc", 1)
    except redis.exceptions.ResponseError:
        await client.hset(keys.job(job_id), "stc", 1)  # a corrupt counter: the job is recovered all the same
    max_events = await client.hget(keys.key("meta"), "opts.maxLenEvents") or 10000
    await client.xadd(keys.key("events"), {"event": "stalled", "jobId": job_id}, maxlen=int(max_events),
                      approximate=True)


async def hand_back_jobs(
    client: redis.asyncio.Redis,
    scripts: AsyncScripts,
    worker_id: str,
    worker_name: str,
    recorded: Iterable[tuple[str, str]],
    *,
    blame: bool,
    reason: str,
    max_kills: int,
) -> list[HandedBack]:
    """Return every job `worker_id` held on this queue (by live lock, or by `recorded` (job id, token) pairs from
    its last heartbeat) to the queue; if it was killed for cause (`blame`), apply the poison policy above."""
    keys = scripts.keys
    jobs = dict(recorded)
    for job_id, token in await held_by(client, keys, worker_id, worker_name):
        jobs[job_id] = token or jobs.get(job_id, "")
    out: list[HandedBack] = []
    held: dict[str, str] = {}  # job id -> the token to move it with
    for job_id, token in jobs.items():
        move_with = await _reclaim(client, keys, job_id, token, f"{worker_id}:handback")
        if move_with is None:
            # Another worker has it now, or it finished: moving it would risk running it twice.
            log.info("job %s of dead worker %s not handed back: no longer its own", job_id, worker_id,
                     extra={"queue": keys.queue, "job_id": job_id})
            out.append(HandedBack(keys.queue, job_id, "gone", 0))
        else:
            held[job_id] = move_with
    # "Alone" is decided over the jobs it still held: its last heartbeat may name a job it finished since.
    alone = len(held) == 1
    lone = await _running_alone(client, keys, worker_id, held) if blame and not alone else None
    for job_id, move_with in held.items():
        kills = await _count_kill(client, keys, job_id) if blame and (alone or job_id == lone) else 0
        if kills and poison_verdict(kills, max_kills):
            if await _fail_poison(client, scripts, job_id, move_with, kills, reason, max_kills):
                out.append(HandedBack(keys.queue, job_id, "failed", kills))
                continue
        suspect = blame and not alone and lone is None
        if suspect:
            await client.hset(keys.job(job_id), SUSPECT_FIELD, reason[:200])
        code = await scripts.hand_back(job_id, move_with)
        if code == 0:
            await mark_stalled(client, keys, job_id)
            out.append(HandedBack(keys.queue, job_id, "waiting", kills, suspect))
        else:
            log.info("job %s of dead worker %s not handed back: lock no longer its own (code %s)",
                     job_id, worker_id, code, extra={"queue": keys.queue, "job_id": job_id})
            out.append(HandedBack(keys.queue, job_id, "gone", kills))
    return out


async def _running_alone(client: redis.asyncio.Redis, keys: QueueKeys, worker_id: str, jobs: Iterable[str]
                         ) -> str | None:
    """The job `worker_id` was running alone (a suspect; workers.consumer), if any: the others only waited."""
    ids = list(jobs)
    pipe = client.pipeline(transaction=False)
    for job_id in ids:
        pipe.hget(keys.job(job_id), ALONE_FIELD)
    marks = await pipe.execute()
    return next((job_id for job_id, mark in zip(ids, marks, strict=True) if mark == worker_id), None)


async def _count_kill(client: redis.asyncio.Redis, keys: QueueKeys, job_id: str) -> int:
    try:
        return int(await client.hincrby(keys.job(job_id), KILLS_FIELD, 1))
    except redis.exceptions.ResponseError:
        await client.hset(keys.job(job_id), KILLS_FIELD, 1)
        return 1


async def _fail_poison(client: redis.asyncio.Redis, scripts: AsyncScripts, job_id: str, token: str,
                       kills: int, reason: str, max_kills: int) -> bool:
    raw_opts, atm = await client.hmget(scripts.keys.job(job_id), ["opts", "atm"])
    try:
        opts = json.loads(raw_opts or "{}")
        if not isinstance(opts, dict):
            opts = {}
    except (ValueError, RecursionError):
        opts = {}
    try:
        attempts_made = int(atm or 0)
    except ValueError:
        attempts_made = 0
        await client.hset(scripts.keys.job(job_id), "atm", 0)
    failed_reason = (f"job killed its worker {kills} times (max_kills={max_kills}); last: {reason}. "
                     "Not retried: it would crash the pool again")
    try:
        await scripts.move_to_finished(
            job_id, token, target="failed", value=failed_reason, keep=keep_jobs(opts.get("removeOnFail")),
            # attempts == attemptsMade + 1 so BullMQ records the retries as exhausted.
            attempts=attempts_made + 1, attempts_made=attempts_made, max_metrics_size="",
            fetch_next=False, job_opts=opts, fields={"failedReason": failed_reason},
        )
    except ScriptError as e:
        log.info("poison job %s not failed: %s", job_id, e)
        return False
    log.warning("job %s failed as poison: %s", job_id, failed_reason,
                extra={"queue": scripts.keys.queue, "job_id": job_id, "reason": failed_reason})
    return True

"""Giving a dead worker's jobs back to the queue at once, instead of after BullMQ's stalled check.

A worker's lock tokens are "<worker id>:<n>", so the jobs it held are exactly the active jobs whose
lock value starts with its id: that catches even a job it fetched after its last heartbeat. With
the token in hand, BullMQ's own moveJobFromActiveToWait moves the job back atomically, and only if
the lock is still that worker's.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass

import redis.asyncio

from pool.policy import poison_verdict
from workers.bullmq_scripts import AsyncScripts, QueueKeys, ScriptError, keep_jobs

log = logging.getLogger("corral.supervisor")

KILLS_FIELD = "corral:kills"  # on the job's hash, so it goes away with the job


@dataclass(frozen=True)
class HandedBack:
    queue: str
    job_id: str
    outcome: str  # "waiting" or "failed"
    kills: int


async def held_by(client: redis.asyncio.Redis, keys: QueueKeys, worker_id: str) -> list[tuple[str, str]]:
    """(job id, token) of the active jobs whose lock belongs to `worker_id`: O(active), run only on a death."""
    ids: list[str] = await client.lrange(keys.key("active"), 0, -1)
    if not ids:
        return []
    pipe = client.pipeline(transaction=False)
    for job_id in ids:
        pipe.get(keys.job(job_id) + ":lock")
    tokens = await pipe.execute()
    mark = f"{worker_id}:"
    return [(j, t) for j, t in zip(ids, tokens, strict=True) if t and t.startswith(mark)]


async def hand_back_jobs(
    client: redis.asyncio.Redis,
    scripts: AsyncScripts,
    worker_id: str,
    *,
    blame: bool,
    reason: str,
    max_kills: int,
) -> list[HandedBack]:
    """Return every job `worker_id` held to its queue; if the worker was killed for cause (`blame`),
    count that against each job, and fail a job that has now killed `max_kills` workers."""
    out: list[HandedBack] = []
    for job_id, token in await held_by(client, scripts.keys, worker_id):
        job_key = scripts.keys.job(job_id)
        kills = int(await client.hincrby(job_key, KILLS_FIELD, 1)) if blame else 0
        if blame and poison_verdict(kills, max_kills):
            if await _fail_poison(client, scripts, job_id, token, kills, reason, max_kills):
                out.append(HandedBack(scripts.keys.queue, job_id, "failed", kills))
            continue
        code = await scripts.hand_back(job_id, token)
        if code == 0:
            out.append(HandedBack(scripts.keys.queue, job_id, "waiting", kills))
        else:
            # The lock expired first (-2) or another worker has it now (-6): the stalled check or that
            # worker owns the job; moving it would risk running it twice.
            log.info("job %s of dead worker %s not handed back: lock no longer its own (code %s)",
                     job_id, worker_id, code, extra={"queue": scripts.keys.queue, "job_id": job_id})
    return out


async def _fail_poison(client: redis.asyncio.Redis, scripts: AsyncScripts, job_id: str, token: str,
                       kills: int, reason: str, max_kills: int) -> bool:
    raw_opts, atm = await client.hmget(scripts.keys.job(job_id), ["opts", "atm"])
    try:
        opts = json.loads(raw_opts or "{}")
    except ValueError:
        opts = {}
    attempts_made = int(atm or 0)
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

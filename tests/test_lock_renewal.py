"""The lock keeper's warnings against a real redis-server and BullMQ's own scripts: a lock that went away
because its job finished is no loss; a lock deleted under a job still in hand is."""

from __future__ import annotations

import logging
import time
from collections.abc import AsyncIterator

import pytest
import redis
import redis.asyncio

from tests.pool_harness import add_jobs
from workers.bullmq_scripts import AsyncScripts, QueueKeys, SyncScripts
from workers.main import renew_locks
from workers.protocol import HeldJob
from workers.state import WorkerContext

Q = "locks"
LOCK_MS = 30_000


class Held:
    """Jobs moved to active with this worker's tokens, as the consumer does."""

    def __init__(self, redis_url: str) -> None:
        self.client = redis.asyncio.Redis.from_url(redis_url, decode_responses=True)
        self.scripts = AsyncScripts(self.client, QueueKeys("bull", Q), "test-worker", LOCK_MS)
        self.ctx = WorkerContext(worker_id="w1", worker_name="test-worker", lock_duration_ms=LOCK_MS)

    async def take(self) -> HeldJob:
        token = self.ctx.new_token()
        res = await self.scripts.move_to_active(token)
        assert res.job_id is not None
        job = HeldJob(Q, res.job_id, token, time.time())
        self.ctx.hold(job)
        return job

    async def finish(self, job: HeldJob) -> None:
        """What the consumer does to complete a job, but for releasing it: the caller decides when."""
        self.ctx.finishing(job.token)
        await self.scripts.move_to_finished(job.job_id, job.token, target="completed", value="null",
                                            keep={"count": -1}, attempts=1, attempts_made=0, max_metrics_size="",
                                            fetch_next=False, job_opts={})


@pytest.fixture
async def held(redis_url: str) -> AsyncIterator[Held]:
    await add_jobs(redis_url, Q, [("j", {"n": i}, {}) for i in range(3)])
    h = Held(redis_url)
    yield h
    await h.client.aclose()


def renew(h: Held, redis_url: str, snapshot: tuple[HeldJob, ...]) -> list[HeldJob]:
    client = redis.Redis.from_url(redis_url)
    try:
        return renew_locks(h.ctx, {Q: SyncScripts(client, QueueKeys("bull", Q))}, snapshot, LOCK_MS)
    finally:
        client.close()


def warnings(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING]


async def test_a_job_finished_between_the_snapshot_and_the_renewal_is_not_a_lost_lock(
        held: Held, redis_url: str, caplog: pytest.LogCaptureFixture) -> None:
    done, in_flight, working = await held.take(), await held.take(), await held.take()
    r = redis.Redis.from_url(redis_url)
    r.pexpire(f"bull:{Q}:{working.job_id}:lock", 1000)
    snapshot = held.ctx.held()  # the keeper reads the jobs in hand ...
    await held.finish(done)  # ... one finishes and is released ...
    held.ctx.release(done.token)
    await held.finish(in_flight)  # ... another's finish has landed in Redis but not yet returned
    assert not r.exists(f"bull:{Q}:{done.job_id}:lock") and not r.exists(f"bull:{Q}:{in_flight.job_id}:lock")
    with caplog.at_level(logging.WARNING, logger="corral.worker"):
        lost = renew(held, redis_url, snapshot)
    assert lost == [] and warnings(caplog) == []
    assert r.pttl(f"bull:{Q}:{working.job_id}:lock") > 20_000  # the job still in hand was renewed


async def test_a_lock_deleted_under_a_job_in_hand_is_reported(held: Held, redis_url: str,
                                                              caplog: pytest.LogCaptureFixture) -> None:
    kept, stolen, retaken = await held.take(), await held.take(), await held.take()
    r = redis.Redis.from_url(redis_url)
    r.delete(f"bull:{Q}:{stolen.job_id}:lock")  # expired, or removed by hand
    r.set(f"bull:{Q}:{retaken.job_id}:lock", "other-worker:7")  # recovered and taken by another worker
    with caplog.at_level(logging.WARNING, logger="corral.worker"):
        lost = renew(held, redis_url, held.ctx.held())
    assert {j.job_id for j in lost} == {stolen.job_id, retaken.job_id}
    assert sorted(warnings(caplog)) == sorted(f"lost the lock of job {j.job_id} on {Q}" for j in (stolen, retaken))
    assert r.get(f"bull:{Q}:{kept.job_id}:lock") == kept.token.encode()
    assert r.get(f"bull:{Q}:{retaken.job_id}:lock") == b"other-worker:7"  # not taken back

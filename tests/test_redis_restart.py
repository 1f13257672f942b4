"""A Redis restart in the middle of work loses no job: workers and supervisor ride it out."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis

from tests.pool_harness import RunningPool, add_jobs, job_state, make_config, wait_for
from tests.redis_server import RedisServer

Q = "restart-test"


@pytest.fixture
def persistent_redis(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[RedisServer]:
    """A redis-server with an append-only file, restartable on the same port (as in production)."""
    server = RedisServer(directory=tmp_path, appendonly=True)
    server.start()
    monkeypatch.setenv("TEST_REDIS_URL", server.url)
    yield server
    server.stop()


async def test_redis_restart_mid_load_loses_no_job(persistent_redis: RedisServer) -> None:
    url = persistent_redis.url
    cfg = make_config(url, [(Q, "tests.procs:tracked", 3)], min_workers=2, max_workers=2,
                      lock_duration_ms=10_000, stalled_interval_ms=2000)
    async with RunningPool(cfg) as pool:
        ids = await add_jobs(url, Q, [("t", {"seconds": 0.3}, {}) for _ in range(60)])
        r = redis.Redis.from_url(url)
        await wait_for(lambda: sum(1 for i in ids if job_state(r, Q, i) == "completed") >= 10, 20, "some progress")
        persistent_redis.stop()
        await asyncio.sleep(1.5)  # workers and supervisor find Redis gone
        persistent_redis.start()
        r = redis.Redis.from_url(url)
        await wait_for(lambda: all(job_state(r, Q, i) == "completed" for i in ids), 60,
                       "every job to complete after the restart")
        assert pool.ready_count() == 2  # the workers rode it out
    runs = [int(r.hget("test:runs", i) or 0) for i in ids]
    print("runs per job:", {n: runs.count(n) for n in set(runs)})
    assert all(n >= 1 for n in runs)
    # A job cut off by the outage may run again (at-least-once), but none is lost or left behind.
    assert r.llen(f"bull:{Q}:active") == 0 and r.llen(f"bull:{Q}:wait") == 0

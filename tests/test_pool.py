"""The pool with real worker processes against a real redis-server."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import time
from typing import Any

import redis

from tests.pool_harness import RunningPool, add_jobs, job_hash, job_state, make_config, runs, wait_for

Q = "pool-test"


def all_in(r: redis.Redis, ids: list[str], state: str) -> bool:
    return all(job_state(r, Q, i) == state for i in ids)


async def test_python_producer_jobs_complete_once_with_processed_by(redis_url: str, r: redis.Redis) -> None:
    cfg = make_config(redis_url, [(Q, "tests.procs:tracked", 4)], min_workers=2, max_workers=2)
    async with RunningPool(cfg) as pool:
        ids = await add_jobs(redis_url, Q, [("t", {"i": i}, {}) for i in range(60)])
        await wait_for(lambda: all_in(r, ids, "completed"), 30, "60 jobs completed")
        await wait_for(lambda: pool.sup.state.counters.totals().completed == 60, 5, "heartbeats to report 60")
        snap = pool.sup.snapshot()
    assert [runs(r, i) for i in ids] == [1] * 60
    h = job_hash(r, Q, ids[7])
    assert json.loads(h["returnvalue"])["echo"] == {"i": 7}
    assert h["pb"].startswith("corral-")  # processedBy, as Node sets it
    assert snap["totalProcessed"] == 60 and snap["totalFailed"] == 0
    assert snap["averageProcessingTime"] >= 0
    assert {"activeWorkers", "idleWorkers", "queueDepth", "throughput"} <= snap.keys()
    assert pool.snapshots, "metrics listeners were called"


async def test_scales_up_under_backlog_and_back_down_to_min(redis_url: str, r: redis.Redis) -> None:
    cfg = make_config(redis_url, [(Q, "tests.procs:tracked", 1)], min_workers=1, max_workers=4,
                      scale_down_delay=1.0)
    async with RunningPool(cfg) as pool:
        ids = await add_jobs(redis_url, Q, [("t", {"seconds": 0.6}, {}) for _ in range(16)])
        await wait_for(lambda: len(pool.sup.state.workers) == 4, 10, "scale up to max 4")
        await wait_for(lambda: all_in(r, ids, "completed"), 30, "jobs completed")
        await wait_for(lambda: len(pool.sup.state.workers) == 1, 15, "scale back down to min 1")
        log = list(pool.sup.state.scaling_log)
    ups = [e for e in log if e["spawn"]]
    downs = [e for e in log if e["drain"]]
    assert ups and "scale up" in ups[0]["reason"] and "runnable=" in ups[-1]["reason"]
    assert downs and all("scale down" in e["reason"] for e in downs)
    assert [runs(r, i) for i in ids] == [1] * 16


async def test_sigkilled_worker_job_is_handed_back_and_completes_elsewhere(redis_url: str, r: redis.Redis) -> None:
    # Default 30 s lock and stalled interval: only the hand-back can bring the job back within the wait.
    cfg = make_config(redis_url, [(Q, "tests.procs:tracked", 1)], min_workers=2, max_workers=2,
                      lock_duration_ms=30_000, stalled_interval_ms=30_000, max_kills=3)
    async with RunningPool(cfg) as pool:
        [victim] = await add_jobs(redis_url, Q, [("t", {"seconds": 2}, {})])
        holder = await wait_for(lambda: pool.holder_of(victim), 10, "a worker to hold the job")
        os.kill(holder.pid, signal.SIGKILL)
        await wait_for(lambda: job_state(r, Q, victim) == "completed", 12, "the job to complete elsewhere")
        await wait_for(lambda: pool.sup.state.counters.totals().completed >= 1, 5, "completion reported")
        assert holder.worker_id not in pool.sup.state.workers
        await wait_for(lambda: pool.ready_count() == 2, 10, "the dead worker replaced")
        total = pool.sup.state.counters.totals()
        completed, failed = total.completed, total.failed
        restarts = dict(pool.sup.state.restart_counts)
    assert runs(r, victim) == 2  # ran, was killed, ran again
    assert completed == 1 and failed == 0  # counted once
    assert restarts.get("crashed") == 1
    assert int(r.hget(f"bull:{Q}:{victim}", "corral:kills") or 0) == 1


async def test_memory_hog_is_killed_and_fails_after_max_kills_others_unaffected(
        redis_url: str, r: redis.Redis) -> None:
    cfg = make_config(redis_url, [(Q, "tests.procs:hog", 1)], min_workers=2, max_workers=2,
                      max_memory_mb=150, hard_memory_mb=200, max_kills=2)
    async with RunningPool(cfg) as pool:
        [poison] = await add_jobs(redis_url, Q, [("hog", {"mb": 400, "hold": 30}, {"attempts": 5})])
        ok = await add_jobs(redis_url, Q, [("hog", {"mb": 1, "hold": 0.1}, {}) for _ in range(6)])
        await wait_for(lambda: job_state(r, Q, poison) == "failed", 40, "the poison job to fail")
        await wait_for(lambda: all_in(r, ok, "completed"), 20, "the other jobs to complete")
        restarts = dict(pool.sup.state.restart_counts)
    h = job_hash(r, Q, poison)
    assert "killed its worker 2 times" in h["failedReason"]
    assert "hard ceiling" in h["failedReason"]
    assert runs(r, poison) == 2
    assert restarts.get("memory", 0) >= 2


async def test_worker_over_soft_memory_limit_finishes_its_job_then_is_replaced(
        redis_url: str, r: redis.Redis) -> None:
    cfg = make_config(redis_url, [(Q, "tests.procs:hog", 1)], min_workers=1, max_workers=1,
                      max_memory_mb=100, hard_memory_mb=2000)
    async with RunningPool(cfg) as pool:
        first = next(iter(pool.sup.state.workers.values()))
        [job] = await add_jobs(redis_url, Q, [("hog", {"mb": 200, "hold": 1.5}, {})])
        await wait_for(lambda: job_state(r, Q, job) == "completed", 20, "the job to finish despite the limit")
        await wait_for(lambda: first.worker_id not in pool.sup.state.workers and pool.ready_count() == 1, 15,
                       "the worker to be replaced")
        reasons = [x.reason for x in pool.sup.state.restarts]
    assert json.loads(job_hash(r, Q, job)["returnvalue"]) == "survived"
    assert any("over the limit" in x for x in reasons), reasons
    assert runs(r, job) == 1


async def test_hung_worker_is_killed_and_its_job_fails_after_max_kills(redis_url: str, r: redis.Redis) -> None:
    cfg = make_config(redis_url, [(Q, "tests.procs:hang", 1)], min_workers=1, max_workers=1,
                      heartbeat_timeout=1.5, max_kills=2)
    async with RunningPool(cfg) as pool:
        [job] = await add_jobs(redis_url, Q, [("hang", {"seconds": 600}, {"attempts": 3})])
        await wait_for(lambda: job_state(r, Q, job) == "failed", 30, "the hanging job to fail")
        # The second kill's jobs are handed back (here: failed) before that restart is counted.
        await wait_for(lambda: pool.sup.state.restart_counts.get("hung") == 2, 5, "the second restart counted")
        await asyncio.sleep(0.5)
        restarts = dict(pool.sup.state.restart_counts)
    h = job_hash(r, Q, job)
    assert "killed its worker 2 times" in h["failedReason"] and "heartbeat" in h["failedReason"]
    assert restarts.get("hung") == 2  # and no third: the failed job is not run again


async def test_graceful_shutdown_under_load_loses_nothing(redis_url: str, r: redis.Redis) -> None:
    cfg = make_config(redis_url, [(Q, "tests.procs:tracked", 2)], min_workers=3, max_workers=3,
                      shutdown_timeout=10)
    ids = await add_jobs(redis_url, Q, [("t", {"seconds": 0.4}, {}) for _ in range(40)])
    pool = RunningPool(cfg)
    await pool.__aenter__()
    await wait_for(lambda: sum(1 for i in ids if job_state(r, Q, i) == "completed") >= 6, 20, "some progress")
    assert await pool.stop() == 0
    st = [job_state(r, Q, i) for i in ids]
    assert "active" not in st and "failed" not in st
    assert set(st) <= {"completed", "waiting"}
    assert all(runs(r, i) == 1 for i, s in zip(ids, st, strict=True) if s == "completed")
    # A new pool finishes the rest; every job ran exactly once overall.
    async with RunningPool(cfg):
        await wait_for(lambda: all_in(r, ids, "completed"), 30, "the rest to complete")
    assert [runs(r, i) for i in ids] == [1] * 40


async def test_shutdown_timeout_hands_unfinished_jobs_back(redis_url: str, r: redis.Redis) -> None:
    cfg = make_config(redis_url, [(Q, "tests.procs:tracked", 2)], min_workers=1, max_workers=1,
                      shutdown_timeout=0.5)
    ids = await add_jobs(redis_url, Q, [("t", {"seconds": 60}, {}) for _ in range(2)])
    pool = RunningPool(cfg)
    await pool.__aenter__()
    await wait_for(lambda: all_in(r, ids, "active"), 10, "both jobs active")
    await pool.stop()
    assert [job_state(r, Q, i) for i in ids] == ["waiting", "waiting"]
    assert r.hget(f"bull:{Q}:{ids[0]}", "corral:kills") is None  # a shutdown is not the job's fault


async def test_invalid_jobs_fail_at_once_without_retries_and_worker_stays(redis_url: str, r: redis.Redis) -> None:
    cfg = make_config(redis_url, [(Q, "tests.procs:by_name", 1)], min_workers=1, max_workers=1)
    async with RunningPool(cfg) as pool:
        pids = {w.pid for w in pool.sup.state.workers.values()}
        bad_data, bad_name, good = await add_jobs(redis_url, Q, [
            ("validated", {"id": "", "count": "many"}, {"attempts": 3}),
            ("no-such-job", {}, {"attempts": 3}),
            ("validated", {"id": "x", "count": 4}, {}),
        ])
        await wait_for(lambda: all(job_state(r, Q, i) in ("failed", "completed") for i in (bad_data, bad_name, good)),
                       15, "jobs to finish")
        assert {w.pid for w in pool.sup.state.workers.values()} == pids  # same worker throughout
    d = job_hash(r, Q, bad_data)
    assert job_state(r, Q, bad_data) == "failed" and d["atm"] == "1"
    assert "field 'id'" in d["failedReason"] and "field 'count'" in d["failedReason"]
    n = job_hash(r, Q, bad_name)
    assert n["atm"] == "1" and "no processor for job name 'no-such-job'" in n["failedReason"]
    assert json.loads(job_hash(r, Q, good)["returnvalue"]) == 4


async def test_retries_follow_the_jobs_backoff_then_fail(redis_url: str, r: redis.Redis) -> None:
    cfg = make_config(redis_url, [(Q, "workers.processors.builtin:fail", 1)], min_workers=1, max_workers=1)
    async with RunningPool(cfg):
        [job] = await add_jobs(redis_url, Q, [("f", {"message": "boom"},
                                                {"attempts": 3, "backoff": {"type": "exponential", "delay": 200}})])
        await wait_for(lambda: job_state(r, Q, job) == "failed", 20, "the job to exhaust its attempts")
    h = job_hash(r, Q, job)
    assert h["failedReason"] == "boom" and h["atm"] == "3"
    stack = json.loads(h["stacktrace"])
    assert len(stack) == 3 and "RuntimeError: boom" in stack[-1]
    # exponential backoff: 200 ms then 400 ms between the three attempts
    assert int(h["finishedOn"]) - int(h["timestamp"]) >= 600


async def test_cpu_heavy_def_processor_keeps_its_lock(redis_url: str, r: redis.Redis) -> None:
    # Lock of 1 s, renewed every 0.5 s from the keeper thread while the processor burns CPU for 4 s.
    cfg = make_config(redis_url, [(Q, "tests.procs:tracked_sync", 1)], min_workers=2, max_workers=2,
                      lock_duration_ms=1000, stalled_interval_ms=1000)
    async with RunningPool(cfg) as pool:
        [job] = await add_jobs(redis_url, Q, [("cpu", {"cpu": 4}, {})])
        await wait_for(lambda: job_state(r, Q, job) == "completed", 30, "the CPU-heavy job to complete")
        lost = sum(w.heartbeat.lost_locks for w in pool.sup.state.workers.values() if w.heartbeat)
    assert runs(r, job) == 1 and lost == 0
    h = job_hash(r, Q, job)
    assert json.loads(h["progress"]) == 100
    assert r.lrange(f"bull:{Q}:{job}:logs", 0, -1) == [b"halfway"]


async def test_workers_recycle_after_max_jobs_with_a_ready_replacement_first(redis_url: str, r: redis.Redis) -> None:
    """Recycling overlaps: the replacement starts, becomes ready, and only then the old worker drains, so the pool
    never has fewer ready workers than it should while recycling."""
    cfg = make_config(redis_url, [(Q, "tests.procs:tracked", 1)], min_workers=1, max_workers=1,
                      max_jobs_per_worker=10, recycle_jitter=0)
    async with RunningPool(cfg) as pool:
        ids = await add_jobs(redis_url, Q, [("t", {"seconds": 0.05}, {}) for _ in range(50)])
        serving: list[int] = []

        async def watch() -> None:
            while not all_in(r, ids, "completed"):
                serving.append(pool.ready_count())
                await asyncio.sleep(0.005)

        await asyncio.wait_for(watch(), 30)
        await wait_for(lambda: pool.sup.state.restart_counts.get("recycled", 0) >= 2, 10, "two recycles")
        await wait_for(lambda: pool.sup.state.counters.totals().completed == 50, 5, "50 completions reported")
        completed = pool.sup.state.counters.totals().completed
    assert [runs(r, i) for i in ids] == [1] * 50
    assert completed == 50
    assert min(serving) >= 1, "a moment without a ready worker: the old one drained before its replacement was ready"


async def test_worker_that_cannot_start_is_retried_with_backoff(redis_url: str, r: redis.Redis) -> None:
    cfg = make_config(redis_url, [(Q, "tests.no_such_module:fn", 1)], min_workers=1, max_workers=1)
    pool = RunningPool(cfg)
    task_started = time.monotonic()
    import asyncio

    pool.task = asyncio.create_task(pool.sup.run())
    await asyncio.sleep(4)
    failures = pool.sup.state.start_failures
    error = pool.sup.state.last_start_error
    await pool.stop()
    elapsed = time.monotonic() - task_started
    # Backoff 0.5, 1, 2 s: about 3-4 attempts in 4 s, not hundreds.
    assert 2 <= failures <= 5, (failures, elapsed)
    assert "tests.no_such_module" in error and "No module named" in error


async def test_paused_queue_does_not_scale_up(redis_url: str, r: redis.Redis) -> None:
    cfg = make_config(redis_url, [(Q, "tests.procs:tracked", 1)], min_workers=1, max_workers=4)
    r.hset(f"bull:{Q}:meta", "paused", 1)
    ids = await add_jobs(redis_url, Q, [("t", {"seconds": 0.5}, {}) for _ in range(20)])
    async with RunningPool(cfg) as pool:
        await __import__("asyncio").sleep(1.5)
        assert len(pool.sup.state.workers) == 1
        assert pool.sup.state.backlog[Q].paused and pool.sup.state.backlog[Q].wait == 20
        r.hdel(f"bull:{Q}:meta", "paused")
        r.zadd(f"bull:{Q}:marker", {"0": 0})
        await wait_for(lambda: len(pool.sup.state.workers) == 4, 10, "scale up once resumed")
        await wait_for(lambda: all_in(r, ids, "completed"), 20, "jobs completed")


def _snap_values(snaps: list[dict[str, Any]], key: str) -> list[Any]:
    return [s[key] for s in snaps]


async def test_malformed_raw_jobs_fail_at_once_and_the_worker_stays_up(redis_url: str, r: redis.Redis) -> None:
    """What a buggy producer may write straight into Redis: each ends failed with a reason naming the part."""
    bad: dict[str, dict[str, bytes | str]] = {
        "bad-json": {"name": "t", "data": "{not json", "opts": "{}"},
        "bad-utf8": {"name": "t", "data": b'{"x": "\xff\xfe"}', "opts": "{}"},
        "opts-list": {"name": "t", "data": "{}", "opts": "[1, 2]"},
        "truncated": {"name": "t", "data": '{"emails": [1, 2', "opts": '{"attempts": 3}'},
    }
    for job_id, fields in bad.items():
        r.hset(f"bull:{Q}:{job_id}", mapping={"timestamp": int(time.time() * 1000), **fields})
        r.lpush(f"bull:{Q}:wait", job_id)
    r.zadd(f"bull:{Q}:marker", {"0": 0})
    cfg = make_config(redis_url, [(Q, "tests.procs:tracked", 1)], min_workers=1, max_workers=1)
    async with RunningPool(cfg) as pool:
        pids = {w.pid for w in pool.sup.state.workers.values()}
        await wait_for(lambda: all(job_state(r, Q, i) == "failed" for i in bad), 15, "malformed jobs to fail")
        [good] = await add_jobs(redis_url, Q, [("t", {"ok": True}, {})])
        await wait_for(lambda: job_state(r, Q, good) == "completed", 10, "a good job after them")
        assert {w.pid for w in pool.sup.state.workers.values()} == pids
    reasons = {i: job_hash(r, Q, i)["failedReason"] for i in bad if i != "bad-utf8"}
    reasons["bad-utf8"] = r.hget(f"bull:{Q}:bad-utf8", "failedReason").decode()
    assert "job data is not valid JSON" in reasons["bad-json"]
    assert "job data is not valid UTF-8" in reasons["bad-utf8"]
    assert "job opts is not a JSON object" in reasons["opts-list"]
    assert "job data is not valid JSON" in reasons["truncated"]
    assert job_hash(r, Q, "truncated")["atm"] == "1"  # no retries despite attempts: 3
    assert all(runs(r, i) == 0 for i in bad)  # the processor never saw them


async def test_global_rate_limit_is_waited_out_not_stalled_on(redis_url: str, r: redis.Redis) -> None:
    """BullMQ's queue-wide rate limit (meta max/duration): the stock Python worker stalls on it; we wait."""
    r.hset(f"bull:{Q}:meta", mapping={"max": 4, "duration": 1000})
    cfg = make_config(redis_url, [(Q, "tests.procs:tracked", 4)], min_workers=1, max_workers=1)
    async with RunningPool(cfg):
        started = time.monotonic()
        ids = await add_jobs(redis_url, Q, [("t", {}, {}) for _ in range(12)])
        await wait_for(lambda: all_in(r, ids, "completed"), 20, "rate-limited jobs to complete")
        elapsed = time.monotonic() - started
    # 12 jobs at 4 per second need at least two full windows after the first.
    assert elapsed >= 1.9, elapsed
    done = sorted(int(job_hash(r, Q, i)["finishedOn"]) for i in ids)
    assert done[-1] - done[0] >= 1900  # the third window opens 2 s after the first, less one job's time


async def test_progress_updates_land_in_the_order_they_were_made(redis_url: str, r: redis.Redis) -> None:
    cfg = make_config(redis_url, [(Q, "tests.procs:many_progress", 5)], min_workers=1, max_workers=1)
    async with RunningPool(cfg):
        ids = await add_jobs(redis_url, Q, [("p", {}, {}) for _ in range(10)])
        await wait_for(lambda: all_in(r, ids, "completed"), 30, "the jobs")
    assert [json.loads(job_hash(r, Q, i)["progress"]) for i in ids] == [100] * 10

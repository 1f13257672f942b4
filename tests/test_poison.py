"""Jobs that hang or poison their worker, and jobs whose hash is corrupt: the culprit alone fails, within bounded
time, with a reason that names the problem; nothing is lost and nothing runs forever (issue 13, parts 1-3)."""

from __future__ import annotations

import asyncio
import json
import logging

import pytest
import redis
import redis.asyncio

from pool.handback import hand_back_jobs
from tests.pool_harness import RunningPool, add_jobs, job_hash, job_state, make_config, runs, wait_for
from workers.bullmq_scripts import AsyncScripts, QueueKeys

Q = "poison"


def finished(r: redis.Redis, ids: list[str]) -> bool:
    return all(job_state(r, Q, i) in ("completed", "failed") for i in ids)


async def test_a_job_that_freezes_its_worker_fails_after_max_kills(redis_url: str, r: redis.Redis,
                                                                   caplog: pytest.LogCaptureFixture) -> None:
    """SIGSTOP freezes the lock thread too: the lock expires before the heartbeat timeout, so no lock names the
    worker any more. The supervisor's own record (the last heartbeat) still blames the job."""
    caplog.set_level(logging.INFO)
    cfg = make_config(redis_url, [(Q, "tests.procs:freeze", 1)], min_workers=1, max_workers=1,
                      lock_duration_ms=1000, heartbeat_timeout=3.0, stalled_interval_ms=60_000, max_kills=3)
    async with RunningPool(cfg) as pool:
        [job] = await add_jobs(redis_url, Q, [("freeze", {}, {"attempts": 10})])
        await wait_for(lambda: job_state(r, Q, job) == "failed", 60, "the freezing job to fail")
        await wait_for(lambda: pool.sup.state.restart_counts.get("hung") == 3, 5, "three hung workers counted")
    h = job_hash(r, Q, job)
    assert "killed its worker 3 times" in h["failedReason"]
    assert runs(r, job) == 3 and h[KILLS] == "3"
    assert int(h["stc"]) == 2  # the two hand-backs before it failed, as BullMQ's stalled check would count them
    assert "is stopped (SIGSTOP" in caplog.text  # no stacks from a stopped process, and the log says why


async def test_a_hung_worker_logs_its_python_stacks_before_it_is_killed(redis_url: str, r: redis.Redis,
                                                                        caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO)
    cfg = make_config(redis_url, [(Q, "tests.procs:hang", 1)], min_workers=1, max_workers=1,
                      heartbeat_timeout=1.5, max_kills=1)
    async with RunningPool(cfg):
        [job] = await add_jobs(redis_url, Q, [("hang", {"seconds": 600}, {})])
        await wait_for(lambda: job_state(r, Q, job) == "failed", 30, "the hanging job to fail")
    stacks = [rec.getMessage() for rec in caplog.records if getattr(rec, "event", "") == "stacks"]
    assert stacks and "its Python stacks" in stacks[0]
    assert 'procs.py", line' in stacks[0] and "in hang" in stacks[0]  # where it hung


async def test_a_memory_hog_fails_alone_among_bystanders(redis_url: str, r: redis.Redis) -> None:
    """A 600 MB job among 19 slow ones on one worker: the kill leaves 20 suspects; each runs alone next; only the hog
    kills its worker again, max_kills times, and fails. The 19 complete."""
    cfg = make_config(redis_url, [(Q, "tests.procs:hog", 20)], min_workers=1, max_workers=2, max_memory_mb=200,
                      max_kills=3, autoscale=False)
    jobs = [("hog", {"mb": 1, "hold": 1.0}, {"attempts": 2}) for _ in range(19)]
    jobs.insert(7, ("hog", {"mb": 600, "hold": 30}, {"attempts": 10}))
    ids = await add_jobs(redis_url, Q, jobs)
    hog = ids[7]
    bystanders = [i for i in ids if i != hog]
    async with RunningPool(cfg):
        await wait_for(lambda: finished(r, ids), 120, "every job to finish")
    assert job_state(r, Q, hog) == "failed"
    assert "killed its worker 3 times" in job_hash(r, Q, hog)["failedReason"]
    assert [job_state(r, Q, i) for i in bystanders] == ["completed"] * 19
    assert all(KILLS not in job_hash(r, Q, i) and SUSPECT not in job_hash(r, Q, i) for i in bystanders)


KILLS, SUSPECT = "corral:kills", "corral:suspect"


async def test_a_suspect_that_kills_its_worker_is_blamed_though_its_worker_held_others(redis_url: str,
                                                                                      r: redis.Redis) -> None:
    """Every job a suspect (as after a kill), the hog first: a fresh worker's slots fetch them all at once, the hog
    runs alone while the others wait for it, held but not started. The kill blames the hog (the one that ran), not
    no one: before, such a worker was killed again and again with every job handed back as a suspect."""
    cfg = make_config(redis_url, [(Q, "tests.procs:hog", 6)], min_workers=1, max_workers=1, max_memory_mb=200,
                      max_kills=2, autoscale=False)
    jobs = [("hog", {"mb": 600, "hold": 30}, {"attempts": 10})] + [("hog", {"mb": 1, "hold": 0.5}, {})] * 5
    ids = await add_jobs(redis_url, Q, jobs)
    for i in ids:
        r.hset(f"bull:{Q}:{i}", SUSPECT, "shared a killed worker")
    async with RunningPool(cfg):
        await wait_for(lambda: finished(r, ids), 90, "every job to finish")
    hog = job_hash(r, Q, ids[0])
    assert job_state(r, Q, ids[0]) == "failed" and hog[KILLS] == "2"
    assert "killed its worker 2 times" in hog["failedReason"]
    assert [job_state(r, Q, i) for i in ids[1:]] == ["completed"] * 5
    assert all(KILLS not in job_hash(r, Q, i) for i in ids[1:])

# (field, value, processor's job name, expected final state, words the failure reason must contain)
CORRUPT = [
    ("opts", '{"attempts": "x"}', "echo", "failed", "'attempts'"),
    ("opts", '{"attempts": NaN}', "echo", "failed", "job opts is not valid JSON"),
    ("opts", '{"attempts": 1e999}', "echo", "failed", "'attempts'"),
    ("opts", '{"attempts": 3, "backoff": {"type": "fixed", "delay": "soon"}}', "fail", "failed", "'backoff.delay'"),
    ("opts", '{"attempts": 3, "backoff": {"type": "fixed", "delay": -5}}', "fail", "failed",
     "not retried: job option 'backoff.delay' is negative"),
    ("opts", '{"removeOnComplete": {"age": "x", "count": "y"}}', "echo", "completed", ""),
    ("atm", "many", "echo", "failed", "'atm'"),
    ("ats", "lots", "echo", "failed", "'ats'"),
    ("stc", "?", "echo", "failed", "'stc'"),
    ("timestamp", "yesterday", "echo", "failed", "'timestamp'"),
    ("data", "[" * 200_000 + "]" * 200_000, "echo", "failed", "job data is nested too deeply"),
    ("parent", "{not json", "echo", "failed", "job parent is not valid JSON"),
    ("parent", "[1, 2]", "echo", "failed", "job parent is not a JSON object"),
    ("atm", "", "echo", "failed", "'atm'"),
    ("parentKey", "no-colon", "echo", "failed", "job parentKey is not a job key"),
    ("__delete__", "", "echo", "failed", "job hash is missing"),
]


async def test_corrupt_job_fields_fail_by_name_and_nothing_is_lost(redis_url: str, r: redis.Redis) -> None:
    from bullmq import Queue

    q = Queue(Q, {"connection": redis_url})
    await q.pause()  # corrupt them before any worker can take them
    ids = [(await q.add(name, {"message": "no"} if name == "fail" else {"n": i}, {})).id
           for i, (_, _, name, _, _) in enumerate(CORRUPT)]
    await q.close()
    for job_id, (field, value, _, _, _) in zip(ids, CORRUPT, strict=True):
        if field == "__delete__":
            r.delete(f"bull:{Q}:{job_id}")
        else:
            r.hset(f"bull:{Q}:{job_id}", field, value)
    cfg = make_config(redis_url, [(Q, "tests.procs:interop", 2)], min_workers=1, max_workers=1,
                      lock_duration_ms=1000, stalled_interval_ms=1000)
    async with RunningPool(cfg) as pool:
        r.hdel(f"bull:{Q}:meta", "paused")
        r.zadd(f"bull:{Q}:marker", {"0": 0})
        await wait_for(lambda: finished(r, ids), 30, "every corrupt job to finish")
        workers = set(pool.sup.state.workers)
        restarts = dict(pool.sup.state.restart_counts)
    for job_id, (field, value, _, state, words) in zip(ids, CORRUPT, strict=True):
        h = job_hash(r, Q, job_id)
        assert job_state(r, Q, job_id) == state, (field, value[:40], h.get("failedReason"))
        assert words in h.get("failedReason", ""), (field, value[:40], h.get("failedReason"))
    assert r.llen(f"bull:{Q}:active") == 0 and r.llen(f"bull:{Q}:wait") == 0
    assert len(workers) == 1 and not restarts  # the worker stayed up throughout


async def test_a_cancelled_job_sees_cancellation_and_fails_its_attempt(redis_url: str, r: redis.Redis) -> None:
    from pool.cancel import CancelRequest, publish

    cfg = make_config(redis_url, [(Q, "tests.procs:cancellable", 2)], min_workers=1, max_workers=1)
    async with RunningPool(cfg) as pool:
        [job, other] = await add_jobs(redis_url, Q, [("c", {"seconds": 30}, {"attempts": 1}),
                                                     ("c", {"seconds": 1}, {})])
        await wait_for(lambda: pool.holder_of(job), 10, "the job to be running")
        client = pool.sup.client
        assert client is not None
        assert await publish(client, "bull", CancelRequest(Q, job, "by the test")) == 1
        await wait_for(lambda: job_state(r, Q, job) == "failed", 5, "the cancelled job to fail")
        await wait_for(lambda: job_state(r, Q, other) == "completed", 10, "the other job to complete")
    assert job_hash(r, Q, job)["failedReason"] == "cancelled: by the test"
    assert r.hget("test:cancelled", job) == b"by the test"  # the processor saw CancelledError, with the reason


async def test_a_discarded_job_is_not_retried(redis_url: str, r: redis.Redis) -> None:
    cfg = make_config(redis_url, [(Q, "tests.procs:discards", 1)], min_workers=1, max_workers=1)
    async with RunningPool(cfg):
        [job] = await add_jobs(redis_url, Q, [("d", {}, {"attempts": 5})])
        await wait_for(lambda: job_state(r, Q, job) == "failed", 10, "the job to fail")
    h = job_hash(r, Q, job)
    assert runs(r, job) == 1 and h["atm"] == "1"
    assert h["failedReason"] == "cannot go on (not retried: the processor discarded the job)"


async def test_hand_back_writes_the_stalled_event_and_counter(redis_url: str, r: redis.Redis) -> None:
    """Visible the way BullMQ's stalled path is: QueueEvents listeners get `stalled`; `stc` counts it."""
    import os
    import signal

    cfg = make_config(redis_url, [(Q, "tests.procs:tracked", 1)], min_workers=1, max_workers=1,
                      lock_duration_ms=30_000, stalled_interval_ms=30_000)
    async with RunningPool(cfg) as pool:
        [job] = await add_jobs(redis_url, Q, [("t", {"seconds": 1}, {})])
        holder = await wait_for(lambda: pool.holder_of(job), 10, "the job to be running")
        os.kill(holder.pid, signal.SIGKILL)
        await wait_for(lambda: job_state(r, Q, job) == "completed", 10, "the job to complete after the hand-back")
    events = [(f[b"event"].decode(), f.get(b"prev", b"").decode())
              for _, f in r.xrange(f"bull:{Q}:events") if f.get(b"jobId", b"").decode() == job]
    assert events[-5:] == [("active", "waiting"), ("waiting", "active"), ("stalled", ""), ("active", "waiting"),
                           ("completed", "active")]
    assert job_hash(r, Q, job)["stc"] == "1" and runs(r, job) == 2
    assert json.loads(job_hash(r, Q, job)["returnvalue"])["echo"] == {"seconds": 1}
    await asyncio.sleep(0)


async def test_a_job_its_last_heartbeat_named_but_that_finished_since_does_not_shield_the_culprit(
        redis_url: str, r: redis.Redis) -> None:
    """The heartbeat lists what a worker held a moment ago: a job finished since is no bystander. The job the worker
    still held alone when it was killed is the culprit (before, the stale entry made it "not alone": a suspect, no
    kill counted, and a memory hog ran once more than max_kills)."""
    await add_jobs(redis_url, Q, [("j", {"n": i}, {}) for i in range(2)])
    client = redis.asyncio.Redis.from_url(redis_url, decode_responses=True)
    try:
        scripts = AsyncScripts(client, QueueKeys("bull", Q), "w-name", 30_000)
        done = (await scripts.move_to_active("w1:1")).job_id
        assert done is not None
        await scripts.move_to_finished(done, "w1:1", target="completed", value="null", keep={"count": -1},
                                       attempts=1, attempts_made=0, max_metrics_size="", fetch_next=False, job_opts={})
        hog = (await scripts.move_to_active("w1:2")).job_id
        assert hog is not None
        out = await hand_back_jobs(client, scripts, "w1", "w-name", [(done, "w1:1"), (hog, "w1:2")], blame=True,
                                   reason="memory", max_kills=3)
    finally:
        await client.aclose()
    by_id = {x.job_id: x for x in out}
    assert (by_id[hog].outcome, by_id[hog].kills, by_id[hog].suspect) == ("waiting", 1, False)
    assert by_id[done].outcome == "gone" and by_id[done].kills == 0
    assert job_hash(r, Q, hog)[KILLS] == "1" and SUSPECT not in job_hash(r, Q, hog)
    assert job_state(r, Q, hog) == "waiting" and KILLS not in job_hash(r, Q, done)

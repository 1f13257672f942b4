"""Node BullMQ 6 producers and listeners against corral's workers: what Node sees must be what a Node
worker would have produced."""

from __future__ import annotations

import asyncio
import subprocess
from collections import Counter
from typing import Any

import pytest
import redis

from tests.nodejs import NODE_DIR, NodeEvents, produce, run_node
from tests.pool_harness import RunningPool, add_jobs, make_config, wait_for
from workers.main import client_name, worker_name

Q = "interop"
pytestmark = pytest.mark.usefixtures("node_modules")


def inspect(url: str, ids: list[str]) -> dict[str, Any]:
    return run_node("inspect.mjs", url, Q, *ids)


async def test_node_producer_events_and_job_fields(redis_url: str, r: redis.Redis) -> None:
    jobs = [
        {"name": "echo", "data": {"hello": "world", "n": 1}, "opts": {}},
        {"name": "fail", "data": {"message": "bad input"}, "opts": {"attempts": 1}},
        {"name": "flaky", "data": {"fail_times": 2},
         "opts": {"attempts": 3, "backoff": {"type": "fixed", "delay": 100}}},
        {"name": "fail", "data": {"message": "always"},
         "opts": {"attempts": 2, "backoff": {"type": "exponential", "delay": 50}}},
        {"name": "progress", "data": {}, "opts": {}},
        {"name": "echo", "data": {"later": True}, "opts": {"delay": 800}},
        {"name": "echo", "data": {"gone": True}, "opts": {"removeOnComplete": True}},
        {"name": "unknown-name", "data": {}, "opts": {"attempts": 5}},
    ]
    cfg = make_config(redis_url, [(Q, "tests.procs:interop", 4)], min_workers=2, max_workers=2)
    async with RunningPool(cfg):
        with NodeEvents(redis_url, Q, terminal_count=len(jobs)) as listener:
            ids = produce(redis_url, Q, jobs)
            seen = await asyncio.to_thread(listener.result)
    assert not seen["timedOut"], seen
    events = seen["events"]
    by_job: dict[str, list[dict[str, Any]]] = {}
    for e in events:
        by_job.setdefault(str(e.get("jobId")), []).append(e)

    def final(i: int) -> dict[str, Any]:
        return next(e for e in by_job[ids[i]] if e["event"] in ("completed", "failed"))

    assert final(0)["event"] == "completed" and final(0)["returnvalue"] == {"hello": "world", "n": 1}
    assert final(1)["event"] == "failed" and final(1)["failedReason"] == "bad input"
    assert final(2)["event"] == "completed" and final(2)["returnvalue"] == {"succeeded_on_attempt": 3}
    assert final(3)["event"] == "failed" and final(3)["failedReason"] == "always"
    assert any(e["event"] == "retries-exhausted" for e in by_job[ids[3]])
    assert [e["data"] for e in by_job[ids[4]] if e["event"] == "progress"] == [10, {"step": "two"}]
    assert any(e["event"] == "delayed" for e in by_job[ids[5]])
    assert final(7)["event"] == "failed" and "no processor for job name 'unknown-name'" in final(7)["failedReason"]

    seen_jobs = inspect(redis_url, ids)["jobs"]
    echo, bad, flaky, always, prog, later, gone, unknown = (seen_jobs[i] for i in ids)
    assert echo["state"] == "completed" and echo["returnvalue"] == {"hello": "world", "n": 1}
    assert echo["processedBy"].startswith("corral-") and echo["attemptsMade"] == 1
    assert bad["state"] == "failed" and bad["attemptsMade"] == 1 and "ValueError: bad input" in bad["stacktrace"][0]
    assert flaky["state"] == "completed" and flaky["attemptsMade"] == 3 and len(flaky["stacktrace"]) == 2
    assert always["state"] == "failed" and always["attemptsMade"] == 2 and len(always["stacktrace"]) == 2
    assert prog["progress"] == {"step": "two"} and prog["logs"] == ["a log line"]
    assert later["state"] == "completed" and later["processedOn"] - later_timestamp(r, ids[5]) >= 800
    assert gone is None  # removeOnComplete: true
    assert unknown["state"] == "failed" and unknown["attemptsMade"] == 1  # no retries for an unknown name


def later_timestamp(r: redis.Redis, job_id: str) -> int:
    return int(r.hget(f"bull:{Q}:{job_id}", "timestamp") or 0)


async def test_priorities_are_honoured(redis_url: str, r: redis.Redis) -> None:
    jobs = [{"name": "ordered", "data": {"tag": f"p{p}-{i}"}, "opts": {"priority": p}}
            for i, p in enumerate([5, 1, 3, 1, 10, 2])]
    produce(redis_url, Q, jobs)  # all queued before any worker runs
    cfg = make_config(redis_url, [(Q, "tests.procs:interop", 1)], min_workers=1, max_workers=1, autoscale=False)
    async with RunningPool(cfg):
        await wait_for(lambda: r.llen("test:order") == 6, 15, "all six jobs")
    order = [x.decode() for x in r.lrange("test:order", 0, -1)]
    assert order == ["p1-1", "p1-3", "p2-5", "p3-2", "p5-0", "p10-4"]


async def test_remove_on_fail_keeps_the_last_n(redis_url: str, r: redis.Redis) -> None:
    jobs = [{"name": "fail", "data": {"message": f"m{i}"}, "opts": {"removeOnFail": 2}} for i in range(5)]
    cfg = make_config(redis_url, [(Q, "tests.procs:interop", 1)], min_workers=1, max_workers=1)
    async with RunningPool(cfg):
        with NodeEvents(redis_url, Q, terminal_count=5) as listener:
            ids = produce(redis_url, Q, jobs)
            assert not (await asyncio.to_thread(listener.result))["timedOut"]
    seen = inspect(redis_url, ids)
    assert seen["counts"]["failed"] == 2
    assert [seen["jobs"][i] is None for i in ids] == [True, True, True, False, False]


async def test_node_sees_corral_workers_and_bullmq_metrics(redis_url: str, r: redis.Redis) -> None:
    cfg = make_config(redis_url, [(Q, "tests.procs:interop", 2)], min_workers=2, max_workers=2)
    async with RunningPool(cfg) as pool:
        with NodeEvents(redis_url, Q, terminal_count=10) as listener:
            produce(redis_url, Q, [{"name": "echo", "data": {"i": i}, "opts": {}} for i in range(10)])
            assert not (await asyncio.to_thread(listener.result))["timedOut"]
        seen = run_node("workers.mjs", redis_url, Q)
        ours = {client_name("bull", Q, worker_name(w.settings)) for w in pool.sup.state.workers.values()}
    assert {w["rawname"] for w in seen["workers"]} == ours and len(ours) == 2
    assert all(w["name"] == Q for w in seen["workers"])
    # BullMQ counts every finish in meta.count; data points appear per elapsed minute.
    assert seen["metricsCompleted"]["meta"]["count"] == 10


async def test_python_producer_node_listener(redis_url: str, r: redis.Redis) -> None:
    cfg = make_config(redis_url, [(Q, "tests.procs:interop", 2)], min_workers=1, max_workers=1)
    async with RunningPool(cfg):
        with NodeEvents(redis_url, Q, terminal_count=3) as listener:
            ids = await add_jobs(redis_url, Q, [("echo", {"py": i}, {"priority": 2}) for i in range(3)])
            seen = await asyncio.to_thread(listener.result)
    done = {e["jobId"]: e["returnvalue"] for e in seen["events"] if e["event"] == "completed"}
    assert done == {i: {"py": n} for n, i in enumerate(ids)}


async def test_stalled_job_of_a_vanished_worker_is_recovered(redis_url: str, r: redis.Redis) -> None:
    """A job locked by a worker that vanished (not one of ours) comes back through BullMQ's stalled check."""
    import redis.asyncio

    from workers.bullmq_scripts import AsyncScripts, QueueKeys

    [job_id] = produce(redis_url, Q, [{"name": "echo", "data": {"stalled": 1}, "opts": {}}])
    client = redis.asyncio.Redis.from_url(redis_url, decode_responses=True)
    ghost = AsyncScripts(client, QueueKeys("bull", Q), "ghost-worker", lock_duration_ms=1000)
    got = await ghost.move_to_active("ghost:1")
    await client.aclose()
    assert got.job_id == job_id  # a ghost holds it with a 1 s lock it will never renew
    cfg = make_config(redis_url, [(Q, "tests.procs:interop", 1)], min_workers=1, max_workers=1,
                      stalled_interval_ms=1000)
    with NodeEvents(redis_url, Q, terminal_count=1, timeout_ms=20_000) as listener:
        async with RunningPool(cfg):
            seen = await asyncio.to_thread(listener.result)
    assert [e["event"] for e in seen["events"] if e["event"] in ("stalled", "completed")] == ["stalled", "completed"]


async def test_beside_a_node_worker_under_load_each_job_runs_once_and_leaves_nodes_events(
        redis_url: str, r: redis.Redis) -> None:
    """A Node BullMQ 6 worker (c=50) and two corral workers (c=50 each) share 2,000 no-op jobs and 40 that outlive
    their 1 s lock: each job is started once (no lock lost, none taken back as stalled), no lock is left, and
    corral's jobs leave the events Node's do, field for field."""
    from bullmq import Queue

    node = subprocess.Popen(["node", str(NODE_DIR / "worker.mjs"), redis_url, Q, "50", "1000000"],  # noqa: ASYNC220
                            cwd=NODE_DIR, stdout=subprocess.DEVNULL)
    producer = Queue(Q, {"connection": redis_url})
    try:
        await producer.add("noop", {"warm-up": True}, {})  # only Node consumes yet: once it is done, Node is up
        await wait_for(lambda: r.zcard(f"bull:{Q}:completed") == 1, 30, "the Node worker's first job")
        cfg = make_config(redis_url, [(Q, "workers.processors.builtin:by_name", 50)], min_workers=2, max_workers=2,
                          lock_duration_ms=1000, stalled_interval_ms=1000)
        async with RunningPool(cfg):
            await producer.addBulk([{"name": "noop", "data": {"i": i}, "opts": {}} for i in range(2000)]
                                   + [{"name": "sleep", "data": {"seconds": 1.5}, "opts": {}} for _ in range(40)])
            await wait_for(lambda: r.zcard(f"bull:{Q}:completed") == 2041, 60, "every job completed")
    finally:
        await producer.close()
        node.terminate()
        node.wait(10)

    ids = [i.decode() for i in r.zrange(f"bull:{Q}:completed", 0, -1)]
    pipe = r.pipeline(transaction=False)
    for i in ids:
        pipe.hmget(f"bull:{Q}:{i}", "ats", "atm", "pb")
    by_whom: dict[str, str] = {}
    for i, (ats, atm, pb) in zip(ids, pipe.execute(), strict=True):
        assert (ats, atm) == (b"1", b"1"), f"job {i} started {ats!r} times, attempted {atm!r}"
        by_whom[i] = "corral" if pb and pb.startswith(b"corral-") else "node"
    assert r.keys(f"bull:{Q}:*:lock") == []
    share = Counter(by_whom.values())
    assert share["corral"] > 0 and share["node"] > 0, share

    # Per job, the events its consumer wrote: names and field names in order (values differ: ids, timestamps).
    written: dict[str, list[tuple[str, tuple[str, ...]]]] = {}
    for _, fields in r.xrange(f"bull:{Q}:events", "-", "+"):
        event, job_id = fields[b"event"].decode(), fields.get(b"jobId", b"").decode()
        if job_id in by_whom and event not in ("added", "waiting"):
            written.setdefault(job_id, []).append((event, tuple(sorted(k.decode() for k in fields))))
    assert not any(e == "stalled" for seq in written.values() for e, _ in seq)
    shapes = {who: {tuple(written[i]) for i in ids if by_whom[i] == who and i in written} for who in ("corral", "node")}
    assert shapes["corral"] == shapes["node"] == {(("active", ("event", "jobId", "prev")),
                                                   ("completed", ("event", "jobId", "prev", "returnvalue")))}

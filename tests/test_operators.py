"""What operators watch: /metrics, /healthz, /readyz, the dashboard's stream, and the fleet of daemons."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import sys
from collections import Counter
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
import redis
from prometheus_client.parser import text_string_to_metric_families

from tests.pool_harness import RunningPool, add_jobs, job_state, make_config, wait_for
from tests.redis_server import RedisServer

Q = "ops"
MIXED = "workers.processors.builtin:by_name"

Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


def parse(text: str) -> Samples:
    return {(s.name, frozenset(s.labels.items())): s.value
            for fam in text_string_to_metric_families(text) for s in fam.samples}


def sample(samples: Samples, name: str, **labels: str) -> float | None:
    return samples.get((name, frozenset(labels.items())))


async def scrape(base: str) -> Samples:
    async with httpx.AsyncClient() as c:
        r = await c.get(base + "/metrics")
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/plain")
    return parse(r.text)


@pytest.fixture
async def ops_pool(redis_url: str) -> AsyncIterator[tuple[RunningPool, str]]:
    cfg = make_config(redis_url, [(Q, MIXED, 4)], http={"port": 0}, min_workers=1, max_workers=3)
    async with RunningPool(cfg) as pool:
        assert pool.sup.http is not None
        yield pool, f"http://127.0.0.1:{pool.sup.http.port}"


async def test_prometheus_metrics_follow_the_pool(ops_pool: tuple[RunningPool, str], redis_url: str) -> None:
    pool, base = ops_pool
    r = redis.Redis.from_url(redis_url)
    ids = await add_jobs(redis_url, Q, [("echo", {"n": i}, {}) for i in range(20)]
                         + [("fail", {"unrecoverable": True}, {}) for _ in range(3)]
                         + [("sleep", {"seconds": 0.3}, {}) for _ in range(12)])
    await wait_for(lambda: all(job_state(r, Q, i) in ("completed", "failed") for i in ids), 30, "jobs finished")

    async def counted() -> Samples | None:
        s = await scrape(base)
        done = sample(s, "corral_jobs_completed_total", queue=Q, job_name="sleep")
        return s if done == 12 else None

    s = await wait_for(counted, 10, "the sleeps counted")
    await wait_for(lambda: all(w.rss_bytes for w in pool.sup.state.workers.values()), 5, "every worker's RSS sampled")
    s = await scrape(base)
    assert sample(s, "corral_jobs_completed_total", queue=Q, job_name="echo") == 20
    assert sample(s, "corral_jobs_failed_total", queue=Q, job_name="fail") == 3
    assert sample(s, "corral_job_duration_seconds_count", queue=Q, job_name="sleep") == 12
    assert 12 * 0.3 <= sample(s, "corral_job_duration_seconds_sum", queue=Q, job_name="sleep") < 12 * 0.3 + 3  # type: ignore[operator]
    # 0.3 s sleeps fall in the 0.5 s bucket, none in the 0.25 s one
    assert sample(s, "corral_job_duration_seconds_bucket", queue=Q, job_name="sleep", le="0.25") == 0
    assert sample(s, "corral_job_duration_seconds_bucket", queue=Q, job_name="sleep", le="0.5") == 12

    workers = {st: sample(s, "corral_workers", state=st) for st in ("starting", "idle", "busy", "draining")}
    assert sum(v or 0 for v in workers.values()) == len(pool.sup.state.workers)
    assert sample(s, "corral_workers_bound", bound="max") == 3
    for w in pool.sup.state.workers.values():
        assert (sample(s, "corral_worker_resident_memory_bytes", worker_id=w.worker_id) or 0) > 10_000_000
        cores = sample(s, "corral_worker_cpu_cores", worker_id=w.worker_id)
        assert cores is not None and 0 <= cores < 4, cores  # a share of a core per heartbeat interval
    soft = pool.sup.state.groups["pool"].limits.max_memory_bytes
    assert sample(s, "corral_worker_memory_limit_bytes", kind="soft") == soft
    assert sample(s, "corral_queue_jobs", queue=Q, state="waiting") == 0
    assert sample(s, "corral_queue_paused", queue=Q) == 0
    assert (sample(s, "corral_scaling_decisions_total", direction="up") or 0) >= 1  # 35 jobs: grew past 1
    assert (sample(s, "corral_supervisor_process_resident_memory_bytes") or 0) > 0

    victim = next(iter(pool.sup.state.workers.values()))
    assert victim.pid is not None
    os.kill(victim.pid, signal.SIGKILL)

    async def restart_counted() -> bool:
        return sample(await scrape(base), "corral_worker_restarts_total", reason="crashed") == 1

    await wait_for(restart_counted, 10, "the crash counted")
    # The dead worker's jobs stay counted: totals never go backwards.
    s = await scrape(base)
    assert sample(s, "corral_jobs_completed_total", queue=Q, job_name="echo") == 20


async def test_health_and_readiness(ops_pool: tuple[RunningPool, str], redis_server: RedisServer) -> None:
    pool, base = ops_pool
    async with httpx.AsyncClient() as c:
        live = await c.get(base + "/healthz")
        assert live.status_code == 200 and live.json()["ok"] is True
        ready = await c.get(base + "/readyz")
        assert ready.status_code == 200, ready.text
        assert ready.json()["checks"] == {"redis": "ok", "workers": "1 ready of min 1", "stopping": False}

        redis_server.stop()
        try:
            ready = await c.get(base + "/readyz")
            assert ready.status_code == 503 and ready.json()["checks"]["redis"] != "ok", ready.text
            assert (await c.get(base + "/healthz")).status_code == 200  # a Redis outage is no reason to restart us
        finally:
            redis_server.start()

        async def ready_again() -> bool:
            return (await c.get(base + "/readyz")).status_code == 200

        await wait_for(ready_again, 15, "ready once Redis is back")
        pool.sup.request_stop()
        stopping = await c.get(base + "/readyz")
        assert stopping.status_code == 503 and stopping.json()["checks"]["stopping"] is True


async def test_dashboard_stream_sends_snapshots(ops_pool: tuple[RunningPool, str], redis_url: str) -> None:
    pool, base = ops_pool
    async with httpx.AsyncClient(timeout=10) as c:
        first = (await c.get(base + "/api/snapshot")).json()
        assert first["latest"]["limits"]["maxWorkers"] == 3 and isinstance(first["history"], list)
        events: list[dict[str, Any]] = []
        async with c.stream("GET", base + "/api/events") as stream:
            assert stream.headers["content-type"].startswith("text/event-stream")
            await add_jobs(redis_url, Q, [("echo", {}, {}) for _ in range(5)])
            kind = ""
            async for line in stream.aiter_lines():
                if line.startswith("event:"):
                    kind = line.split(":", 1)[1].strip()
                elif line.startswith("data:") and kind == "snapshot":
                    events.append(json.loads(line.split(":", 1)[1]))
                    if events[-1]["totalProcessed"] >= 5 and len(events) >= 2:
                        break
    assert events[-1]["at"] > events[0]["at"]
    assert {w["workerId"] for w in events[-1]["workers"]} <= set(pool.sup.state.workers) | {
        r["workerId"] for r in events[-1]["restarts"]["recent"]}


async def test_job_name_labels_stay_bounded_per_daemon_through_recycles(redis_url: str) -> None:
    """250 names, none repeated, through workers recycled every 40 jobs: each worker sees fewer than its own
    cap of 100, so only the daemon-wide cap keeps /metrics at 100 names and `_other`. A worker past its count serves
    on until its replacement is ready, so jobs take 100 ms (no-op jobs would all pass through two or three workers, and
    on a slow machine 20 ms ones did too); what is asserted is the premise itself: from each job's processedBy, no
    worker ran as many as 100 of them."""
    from workers.state import MAX_JOB_NAMES

    q = "names"
    r = redis.Redis.from_url(redis_url)
    cfg = make_config(redis_url, [(q, "workers.processors.builtin:sleep", 5)], http={"port": 0},
                      min_workers=1, max_workers=1, max_jobs_per_worker=40, recycle_jitter=0)
    async with RunningPool(cfg) as pool:
        assert pool.sup.http is not None
        base = f"http://127.0.0.1:{pool.sup.http.port}"
        ids = await add_jobs(redis_url, q, [(f"name-{i}", {"seconds": 0.1}, {}) for i in range(250)])
        await wait_for(lambda: all(job_state(r, q, i) == "completed" for i in ids), 60, "the jobs done")

        async def all_counted() -> Samples | None:
            s = await scrape(base)
            done = [v for (name, labels), v in s.items()
                    if name == "corral_jobs_completed_total" and ("queue", q) in labels]
            return s if sum(done) == 250 else None

        s = await wait_for(all_counted, 15, "every job counted")
        names = {dict(labels)["job_name"] for (name, labels) in s if name == "corral_jobs_completed_total"}
        assert len(names) == MAX_JOB_NAMES + 1 and "_other" in names, len(names)
        per_worker = Counter(r.hget(f"bull:{q}:{i}", "pb") for i in ids)
        assert len(per_worker) >= 3 and max(per_worker.values()) < MAX_JOB_NAMES, per_worker
        assert pool.sup.state.restart_counts["recycled"] >= len(per_worker) - 1


# -- several daemons on one Redis ---------------------------------------------------------------------------


async def test_daemons_share_a_backlog_instead_of_each_scaling_for_all(redis_url: str) -> None:
    r = redis.Redis.from_url(redis_url)
    fleet = "fleet"
    pools = [RunningPool(make_config(redis_url, [(fleet, MIXED, 1)], min_workers=0, max_workers=6))
             for _ in range(3)]
    for p in pools:
        await p.__aenter__()
    try:
        await wait_for(lambda: all(abs(p.sup.state.fleet_shares.get(fleet, 1) - 1 / 3) < 1e-9 for p in pools), 10,
                       "each daemon to see the other two")
        peak = 0

        def total_workers() -> int:
            nonlocal peak
            n = sum(len(p.sup.state.workers) for p in pools)
            peak = max(peak, n)
            return n

        ids = await add_jobs(redis_url, fleet, [("sleep", {"seconds": 2.0}, {}) for _ in range(6)])
        await wait_for(lambda: total_workers() and all(job_state(r, fleet, i) == "completed" for i in ids), 30,
                       "the six jobs done")
        # Alone, each daemon would start 6 workers for 6 jobs (18 in all); sharing, each starts its third.
        assert 6 <= peak <= 8, peak
        per_daemon = [sum(1 for e in p.sup.state.scaling_log for _ in range(e["spawn"])) for p in pools]
        assert max(per_daemon) <= 3, per_daemon

        daemons = json.loads(await _corral("status", "--json", "--redis-url", redis_url))["daemons"]
        assert {d["daemonId"] for d in daemons} == {p.sup.daemon_id for p in pools}
        assert all(d["capacity"] == {fleet: 6} and d["fleetShare"][fleet] == pytest.approx(1 / 3) for d in daemons)
        human = await _corral("status", "--redis-url", redis_url)
        assert human.count("fleet share fleet 0.33") == 3

        frame = await _corral("watch", "--once", "--redis-url", redis_url)
        assert "corral fleet: 3 live daemon(s) of 3 known" in frame
        assert all(p.sup.daemon_id in frame for p in pools)
        assert frame.count("0.33") >= 3 and "scale up" in frame

        await pools[0].stop()  # its final snapshot says it stopped: the others take on halves at once
        await wait_for(lambda: all(p.sup.state.fleet_shares.get(fleet) == 0.5 for p in pools[1:]), 10,
                       "the two left to share by halves")
    finally:
        for p in pools:
            if p.task is not None and not p.task.done():
                await p.stop()


async def _corral(*args: str) -> str:
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "pool.cli", *args, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
        env={**os.environ, "COLUMNS": "200"})
    out, err = await proc.communicate()
    assert proc.returncode == 0, err.decode()
    return out.decode()

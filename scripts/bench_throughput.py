#!/usr/bin/env python3
"""Throughput and latency, side by side on one Redis (a benchmark that prints figures, not a test).

    python scripts/bench_throughput.py [--jobs 100000] [--stock-jobs 20000] [--rounds 3] [--runs 3]
                                       [--json data/bench_throughput.json] [--only throughput|latency]
                                       [--redis-url URL]

Throughput: the same no-op job set (`--jobs`, added with `addBulk` before each consumer starts) is
consumed by a Node BullMQ 6 worker (concurrency 50), the stock Python `bullmq` Worker (concurrency 50,
on `--stock-jobs`: at about a sixth of the speed, a smaller set gives its rate in reasonable time),
and corral as a user runs it: the CLI with the shipped defaults,
`corral run --queue Q=workers.processors.builtin:echo@50 --min-workers 1 --max-workers 1` (only `--http-port 0`
added, so the HTTP server takes any free port), `--rounds` times each, interleaved; medians are compared.
`--sweep` adds corral at other worker counts and concurrencies (also through the CLI, with the shipped
defaults). 100,000 jobs make each run last seconds, past Node's JIT warm-up and
the pool's start (with 20,000, a run lasted under a second and its figure swung with the first jobs).
Node runs with BullMQ's per-minute metrics on, as corral records them by default, and both are also run
without. Each consumer is timed from BullMQ's own job hashes:
jobs / (last finishedOn - first processedOn), so every consumer is measured the same way, by what it
wrote to Redis.

Latency (medians of `--runs`): a new worker's spawn to its first job; autoscale reaction (1,000 jobs
appear: time until max workers are busy); recovery (a worker SIGKILLed mid-job: time until the job runs
again, scripts/bench_recovery.py); supervisor CPU and Redis commands per second while idle, with the
production defaults (1 s heartbeats and backlog polls, 5 s metrics).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import signal
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import psutil
import redis

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from pool.embedded_redis import EmbeddedRedis  # noqa: E402
from tests.pool_harness import RunningPool, make_config, wait_for  # noqa: E402

NODE_WORKER = ROOT / "tests" / "node" / "worker.mjs"
STOCK_PYTHON_WORKER = """
import asyncio, sys
from bullmq import Worker

async def noop(job, token):
    return None

async def main(url, queue, n):
    import redis.asyncio
    r = redis.asyncio.Redis.from_url(url)
    worker = Worker(queue, noop, {"connection": url, "concurrency": 50})
    while await r.zcard(f"bull:{queue}:completed") < n:
        await asyncio.sleep(0.05)
    await worker.close()
    await r.aclose()

asyncio.run(main(sys.argv[1], sys.argv[2], int(sys.argv[3])))
"""
# (workers, concurrency per worker) of `--sweep`, beside the headline's 1 x 50.
CORRAL_SWEEP = [(1, 100), (2, 50), (2, 100), (3, 50)]
# BullMQ's per-minute metrics, a week of points: corral's default, and what Node's worker is given to match.
# (The stock Python worker has no metrics option.) Without them each job costs Redis an HGET and an HINCRBY less.
METRICS_POINTS = 10080


# -- throughput ---------------------------------------------------------------------------------------


def fill(url: str, queue: str, n: int) -> None:
    async def go() -> None:
        from bullmq import Queue

        q = Queue(queue, {"connection": url})
        for start in range(0, n, 1000):
            chunk = range(start, min(n, start + 1000))
            await q.addBulk([{"name": "noop", "data": {"i": i}, "opts": {}} for i in chunk])
        await q.close()

    asyncio.run(go())


def rate_from_hashes(r: redis.Redis, queue: str, n: int) -> float:
    """Jobs per second from BullMQ's own timestamps: first processedOn to last finishedOn."""
    pipe = r.pipeline(transaction=False)
    ids = r.zrange(f"bull:{queue}:completed", 0, -1)
    assert len(ids) == n, f"{queue}: {len(ids)} of {n} jobs completed"
    for job_id in ids:
        pipe.hmget(f"bull:{queue}:{job_id.decode()}", "processedOn", "finishedOn")
    stamps = [(int(p), int(f)) for p, f in pipe.execute()]
    first = min(p for p, _ in stamps)
    last = max(f for _, f in stamps)
    return n / max(0.001, (last - first) / 1000)


def wait_completed(r: redis.Redis, queue: str, n: int, proc: subprocess.Popen[bytes], timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while r.zcard(f"bull:{queue}:completed") < n:
        if proc.poll() is not None and r.zcard(f"bull:{queue}:completed") < n:
            raise RuntimeError(f"{queue}: consumer exited with {proc.returncode} before finishing")
        if time.monotonic() > deadline:
            raise RuntimeError(f"{queue}: not finished within {timeout}s")
        time.sleep(0.05)


def run_node(url: str, r: redis.Redis, queue: str, n: int, metrics: int) -> float:
    proc = subprocess.Popen(["node", str(NODE_WORKER), url, queue, "50", str(n), str(metrics)],
                            cwd=NODE_WORKER.parent, stdout=subprocess.DEVNULL)
    wait_completed(r, queue, n, proc, 600)
    proc.wait(60)
    return rate_from_hashes(r, queue, n)


def run_stock_python(url: str, r: redis.Redis, queue: str, n: int) -> float:
    proc = subprocess.Popen([sys.executable, "-c", STOCK_PYTHON_WORKER, url, queue, str(n)])
    wait_completed(r, queue, n, proc, 900)
    proc.wait(60)
    return rate_from_hashes(r, queue, n)


def run_corral(url: str, r: redis.Redis, queue: str, n: int, workers: int, concurrency: int,
               recycle_every: int = 0) -> float:
    """corral as a user runs it: the CLI, the shipped configuration (config/corral.toml, whose queues --queue
    replaces), no setting changed but the HTTP port; `recycle_every`: CORRAL_MAX_JOBS_PER_WORKER (off by default)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("CORRAL_") or k == "CORRAL_LOG_FORMAT"}
    if recycle_every:
        env["CORRAL_MAX_JOBS_PER_WORKER"] = str(recycle_every)
    proc = subprocess.Popen(
        [sys.executable, "-m", "pool.cli", "run", "--redis-url", url, "--http-port", "0", "--log-level", "WARNING",
         "--queue", f"{queue}=workers.processors.builtin:echo@{concurrency}",
         "--min-workers", str(workers), "--max-workers", str(workers)], cwd=ROOT, env=env)
    try:
        wait_completed(r, queue, n, proc, 600)
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(60)
    return rate_from_hashes(r, queue, n)


def throughput(url: str, n: int, stock_n: int, rounds: int, sweep: bool, recycle: int = 0) -> dict[str, Any]:
    """Each consumer `rounds` times, interleaved so a noisy minute hits them all; medians compared."""
    r = redis.Redis.from_url(url)
    runs: dict[str, list[float]] = {}

    def one(label: str, run: Any, jobs: int = n) -> None:
        queue = f"bench-{label}-{time.time_ns()}"
        fill(url, queue, jobs)
        rate = float(run(queue, jobs))
        r.delete(*[k for k in r.scan_iter(f"bull:{queue}:*", count=10_000)])  # keep Redis small between runs
        runs.setdefault(label, []).append(rate)
        print(f"  {label:<34} {rate:>9,.0f} jobs/s", flush=True)

    for _ in range(rounds):
        one("node-bullmq6-c50", lambda q, k: run_node(url, r, q, k, METRICS_POINTS))
        one("node-bullmq6-c50-no-metrics", lambda q, k: run_node(url, r, q, k, 0))
        one("stock-python-bullmq-c50", lambda q, k: run_stock_python(url, r, q, k), stock_n)
        one("corral-1x50-shipped-defaults", lambda q, k: run_corral(url, r, q, k, 1, 50))
        if recycle:
            one(f"corral-1x50-recycle-every-{recycle}", lambda q, k: run_corral(url, r, q, k, 1, 50, recycle))
        for workers, conc in CORRAL_SWEEP if sweep else ():
            one(f"corral-{workers}x{conc}", lambda q, k, w=workers, c=conc: run_corral(url, r, q, k, w, c))
    med = {k: statistics.median(v) for k, v in runs.items()}
    headline = med["corral-1x50-shipped-defaults"]
    return {
        "jobs": n, "stock_python_jobs": stock_n, "rounds": rounds, "runs": runs, "medians": med,
        # The headline, like for like: one process at concurrency 50, as the Node worker, with corral's defaults
        # (BullMQ metrics recorded, as Node's worker is given them here).
        "corral_vs_node": headline / med["node-bullmq6-c50"],
        "corral_vs_node_without_metrics": headline / med["node-bullmq6-c50-no-metrics"],
        "corral_vs_stock_python": headline / med["stock-python-bullmq-c50"],
    }


# -- latency ------------------------------------------------------------------------------------------


async def spawn_to_first_job(url: str, runs: int) -> list[float]:
    from tests.pool_harness import add_jobs

    r = redis.Redis.from_url(url)
    out = []
    for i in range(runs):
        q = f"bench-spawn-{i}-{time.time_ns()}"
        cfg = make_config(url, [(q, "workers.processors.builtin:noop", 1)], min_workers=0, max_workers=1)
        async with RunningPool(cfg) as pool:
            [job] = await add_jobs(url, q, [("noop", {}, {})])
            await wait_for(lambda q=q, job=job: r.hget(f"bull:{q}:{job}", "processedOn"), 10, "the first job")
            spawned = min(w.spawned_at for w in pool.sup.state.workers.values())
            out.append(int(r.hget(f"bull:{q}:{job}", "processedOn")) / 1000 - spawned)
    return out


async def autoscale_reaction(url: str, runs: int, max_workers: int = 4) -> list[float]:
    from bullmq import Queue

    out = []
    for i in range(runs):
        q = f"bench-scale-{i}-{time.time_ns()}"
        cfg = make_config(url, [(q, "workers.processors.builtin:sleep", 1)], min_workers=1,
                          max_workers=max_workers, heartbeat_interval=0.05)
        async with RunningPool(cfg) as pool:
            producer = Queue(q, {"connection": url})
            t0 = time.time()
            await producer.addBulk([{"name": "s", "data": {"seconds": 1.0}, "opts": {}} for _ in range(1000)])
            await wait_for(lambda pool=pool: sum(1 for w in pool.sup.state.workers.values()
                                                 if w.heartbeat and w.heartbeat.state == "busy") >= max_workers,
                           30, "max workers busy", step=0.005)
            out.append(time.time() - t0)
        # Obliterated once the pool has stopped: under a running pool, each job in hand would be logged as
        # deleted while it ran.
        await producer.obliterate(force=True)
        await producer.close()
    return out


async def idle_cost(url: str, seconds: float) -> dict[str, float]:
    """Supervisor CPU and Redis commands/s with 2 idle workers and production intervals."""
    r = redis.Redis.from_url(url)
    cfg = make_config(url, [("bench-idle", "workers.processors.builtin:noop", 10)], min_workers=2, max_workers=2,
                      heartbeat_interval=1.0, poll_interval=1.0, metrics_interval=5.0, heartbeat_timeout=30.0)
    me = psutil.Process()
    async with RunningPool(cfg):
        await asyncio.sleep(3)  # past start-up
        cpu0, cmd0 = me.cpu_times(), int(r.info("stats")["total_commands_processed"])
        await asyncio.sleep(seconds)
        cpu1, cmd1 = me.cpu_times(), int(r.info("stats")["total_commands_processed"])
    cpu = (cpu1.user + cpu1.system - cpu0.user - cpu0.system) / seconds * 100
    return {"supervisor_cpu_percent": cpu, "redis_commands_per_second": (cmd1 - cmd0 - 1) / seconds}


def latency(url: str, runs: int) -> dict[str, Any]:
    from scripts.bench_recovery import measure as recovery

    spawn = asyncio.run(spawn_to_first_job(url, runs))
    print(f"  spawn -> first job        median {statistics.median(spawn) * 1000:.0f} ms", flush=True)
    scale = asyncio.run(autoscale_reaction(url, runs))
    print(f"  1,000 jobs -> 4 busy      median {statistics.median(scale) * 1000:.0f} ms", flush=True)
    os.environ["TEST_REDIS_URL"] = url
    _, rerun = asyncio.run(recovery(url, runs))
    print(f"  kill -> job running again median {statistics.median(rerun) * 1000:.0f} ms", flush=True)
    idle = asyncio.run(idle_cost(url, 20.0))
    print(f"  idle supervisor CPU       {idle['supervisor_cpu_percent']:.2f} %", flush=True)
    print(f"  idle Redis commands/s     {idle['redis_commands_per_second']:.1f}", flush=True)
    return {"runs": runs, "spawn_to_first_job_s": spawn, "autoscale_1000_jobs_to_4_busy_s": scale,
            "kill_to_job_running_again_s": rerun, **idle,
            "medians": {"spawn_to_first_job_ms": statistics.median(spawn) * 1000,
                        "autoscale_reaction_ms": statistics.median(scale) * 1000,
                        "recovery_ms": statistics.median(rerun) * 1000}}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--jobs", type=int, default=100_000)
    ap.add_argument("--stock-jobs", type=int, default=20_000, help="jobs for the stock Python worker")
    ap.add_argument("--runs", type=int, default=3, help="latency runs")
    ap.add_argument("--rounds", type=int, default=3, help="throughput rounds (every consumer once per round)")
    ap.add_argument("--only", choices=["throughput", "latency"])
    ap.add_argument("--sweep", action="store_true", help="also corral at other worker counts and concurrencies")
    ap.add_argument("--recycle", type=int, default=0, metavar="N",
                    help="also corral 1x50 with recycling on, a worker replaced every N jobs (reported apart)")
    ap.add_argument("--json", default=str(ROOT / "data" / "bench_throughput.json"))
    ap.add_argument("--redis-url", default="")
    args = ap.parse_args()
    os.environ.setdefault("CORRAL_LOG_FORMAT", "json")
    os.environ.setdefault("CORRAL_LOG_LEVEL", "WARNING")
    embedded = None
    url = args.redis_url
    if not url:
        embedded = EmbeddedRedis.throwaway()
        url = embedded.start()
    report: dict[str, Any] = {
        "machine": {"cpus": psutil.cpu_count(), "memory_gb": round(psutil.virtual_memory().total / 2**30),
                    "python": platform.python_version(), "platform": platform.platform()},
        "redis": redis.Redis.from_url(url).info("server")["redis_version"],
    }
    try:
        if args.only != "latency":
            print(f"throughput, {args.jobs:,} no-op jobs each:", flush=True)
            report["throughput"] = t = throughput(url, args.jobs, args.stock_jobs, args.rounds, args.sweep,
                                                  args.recycle)
            print(f"medians of {args.rounds} rounds:", flush=True)
            for label, rate in t["medians"].items():
                print(f"  {label:<34} {rate:>9,.0f} jobs/s", flush=True)
            print(f"corral 1x50 with the shipped defaults: {t['corral_vs_node']:.2f} x Node BullMQ 6 c=50 "
                  "(metrics on), "
                  f"{t['corral_vs_node_without_metrics']:.2f} x Node without metrics, "
                  f"{t['corral_vs_stock_python']:.1f} x the stock Python worker", flush=True)
            if args.recycle:
                ratio = t["medians"][f"corral-1x50-recycle-every-{args.recycle}"] / t["medians"][
                    "corral-1x50-shipped-defaults"]
                print(f"recycling a worker every {args.recycle:,} jobs: {ratio:.2f} x the shipped defaults (off)",
                      flush=True)
        if args.only != "throughput":
            print(f"latency, medians of {args.runs} runs:", flush=True)
            report["latency"] = latency(url, args.runs)
    finally:
        if embedded is not None:
            embedded.stop()
    Path(args.json).parent.mkdir(parents=True, exist_ok=True)
    Path(args.json).write_text(json.dumps(report, indent=2) + "\n")
    print(f"written to {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

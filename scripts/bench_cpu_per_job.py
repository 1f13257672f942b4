#!/usr/bin/env python3
"""CPU per job of the consumer and of Redis: corral's worker against Node's (a benchmark, not a test).

    python scripts/bench_cpu_per_job.py [--jobs 100000] [--rounds 3]

Throughput on a small shared VM swings with its neighbours; CPU time spent per job does much less, and
it says where a gap comes from: the consumer process or Redis. Each round runs, on one embedded Redis and
the same no-op jobs, corral (1 worker x 50) and a Node BullMQ 6 worker (concurrency 50), both with
BullMQ's per-minute metrics, and prints the consumer's CPU time per job (`psutil`; for corral the worker
and, apart, its supervisor), Redis's (`INFO cpu`), how busy Redis was (its CPU seconds over the run's wall
time: near 1.0, one core, Redis is the limit) and the jobs per second.
"""

from __future__ import annotations

import argparse
import os
import signal
import statistics
import subprocess
import sys
import time
from pathlib import Path

import psutil
import redis

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from pool.embedded_redis import EmbeddedRedis  # noqa: E402
from scripts.bench_throughput import METRICS_POINTS, NODE_WORKER, fill, rate_from_hashes  # noqa: E402


def redis_cpu(r: redis.Redis) -> float:
    info = r.info("cpu")
    return float(info["used_cpu_user"] + info["used_cpu_sys"])


def consume(url: str, r: redis.Redis, label: str, queue: str, n: int) -> tuple[float, float]:
    """Run one consumer until the queue is done; returns its CPU seconds and its supervisor's (corral)."""
    if label == "node":
        proc = subprocess.Popen(["node", str(NODE_WORKER), url, queue, "50", str(n), str(METRICS_POINTS)],
                                cwd=NODE_WORKER.parent, stdout=subprocess.DEVNULL)
        ps, last = psutil.Process(proc.pid), None
        while proc.poll() is None:  # it exits by itself after n jobs: keep its last reading
            try:
                last = ps.cpu_times()
            except psutil.Error:
                break
            time.sleep(0.02)
        assert last is not None
        return float(last.user + last.system), 0.0
    env = {**os.environ, "CORRAL_LOG_LEVEL": "WARNING"}
    proc = subprocess.Popen([sys.executable, "-m", "pool.cli", "run", "--no-http", "--redis-url", url,
                             "--queue", f"{queue}=workers.processors.builtin:noop@50",
                             "--min-workers", "1", "--max-workers", "1"], cwd=ROOT, env=env)
    sup = psutil.Process(proc.pid)
    while not sup.children():
        time.sleep(0.01)
    worker = sup.children()[0]
    start = sup.cpu_times()  # its own start-up (imports) is not the cost of jobs
    while r.zcard(f"bull:{queue}:completed") < n:
        time.sleep(0.02)
    t, s = worker.cpu_times(), sup.cpu_times()
    proc.send_signal(signal.SIGTERM)
    proc.wait(30)
    return float(t.user + t.system), float(s.user + s.system - start.user - start.system)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--jobs", type=int, default=100_000)
    ap.add_argument("--rounds", type=int, default=3)
    args = ap.parse_args()
    n = args.jobs
    embedded = EmbeddedRedis.throwaway()
    url = embedded.start()
    r = redis.Redis.from_url(url)
    # per run: consumer us/job, supervisor us/job, Redis us/job, Redis busy (cores), jobs/s
    results: dict[str, list[tuple[float, float, float, float, float]]] = {}
    try:
        for i in range(args.rounds):
            for label in ("corral", "node"):
                queue = f"cpu-{label}-{i}"
                fill(url, queue, n)
                before = redis_cpu(r)
                consumer, supervisor = consume(url, r, label, queue, n)
                redis_seconds = redis_cpu(r) - before
                rate = rate_from_hashes(r, queue, n)
                results.setdefault(label, []).append(
                    (consumer / n * 1e6, supervisor / n * 1e6, redis_seconds / n * 1e6, redis_seconds * rate / n, rate))
                r.flushall()
    finally:
        embedded.stop()
    for label, rows in results.items():
        med = [statistics.median(col) for col in zip(*rows, strict=True)]
        print(f"{label:<7} consumer {[round(x[0]) for x in rows]} us/job (median {med[0]:.0f}"
              + (f", supervisor {med[1]:.1f}" if label == "corral" else "") + "), "
              f"redis {[round(x[2]) for x in rows]} us/job (median {med[2]:.0f}, busy {med[3]:.2f} core), "
              f"{med[4]:,.0f} jobs/s median")
    return 0


if __name__ == "__main__":
    sys.exit(main())

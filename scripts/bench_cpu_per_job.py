#!/usr/bin/env python3
"""CPU per job of the consumer and of Redis: corral's worker against Node's (a benchmark, not a test).

    python scripts/bench_cpu_per_job.py [--jobs 20000] [--rounds 3]

Throughput on a small shared VM swings with its neighbours; CPU time spent per job does much less, and
it says where a gap comes from: the consumer process or Redis. Each round runs, on one embedded Redis and
the same no-op jobs, corral (1 worker x 50, uvloop), corral on asyncio's own loop, and a Node BullMQ 6
worker (concurrency 50), all with BullMQ's per-minute metrics, and prints the consumer's CPU time per job
(`psutil`), Redis's (`INFO cpu`) and the jobs per second.
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


def consume(url: str, r: redis.Redis, label: str, queue: str, n: int) -> float:
    """Run one consumer until the queue is done; returns its CPU seconds."""
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
        return float(last.user + last.system)
    env = {**os.environ, "CORRAL_LOG_LEVEL": "WARNING", "CORRAL_MAX_JOBS_PER_WORKER": "0",
           "CORRAL_EVENT_LOOP": label}
    proc = subprocess.Popen([sys.executable, "-m", "pool.cli", "run", "--no-http", "--redis-url", url,
                             "--queue", f"{queue}=workers.processors.builtin:noop@50",
                             "--min-workers", "1", "--max-workers", "1"], cwd=ROOT, env=env)
    sup = psutil.Process(proc.pid)
    while not sup.children():
        time.sleep(0.01)
    worker = sup.children()[0]
    while r.zcard(f"bull:{queue}:completed") < n:
        time.sleep(0.02)
    t = worker.cpu_times()
    proc.send_signal(signal.SIGTERM)
    proc.wait(30)
    return float(t.user + t.system)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--jobs", type=int, default=20_000)
    ap.add_argument("--rounds", type=int, default=3)
    args = ap.parse_args()
    n = args.jobs
    embedded = EmbeddedRedis.throwaway()
    url = embedded.start()
    r = redis.Redis.from_url(url)
    results: dict[str, list[tuple[float, float, float]]] = {}
    try:
        for i in range(args.rounds):
            for label in ("uvloop", "asyncio", "node"):
                queue = f"cpu-{label}-{i}"
                fill(url, queue, n)
                before = redis_cpu(r)
                consumer = consume(url, r, label, queue, n)
                results.setdefault(label, []).append(
                    (consumer / n * 1e6, (redis_cpu(r) - before) / n * 1e6, rate_from_hashes(r, queue, n)))
                r.flushall()
    finally:
        embedded.stop()
    for label, rows in results.items():
        med = [statistics.median(col) for col in zip(*rows, strict=True)]
        print(f"{label:<8} consumer {[round(a) for a, _, _ in rows]} us/job (median {med[0]:.0f}), "
              f"redis {[round(b) for _, b, _ in rows]} us/job (median {med[1]:.0f}), "
              f"{med[2]:,.0f} jobs/s median")
    return 0


if __name__ == "__main__":
    sys.exit(main())

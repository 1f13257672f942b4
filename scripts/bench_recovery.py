#!/usr/bin/env python3
"""Measure how fast the pool recovers from a worker SIGKILLed mid-job (a benchmark, not a test).

    python scripts/bench_recovery.py [--runs 5] [--redis-url URL]

Prints the median and max of: kill -> replacement worker ready; kill -> the killed job running again
in another worker (seen through heartbeats, so within one heartbeat interval, 0.2 s here). BullMQ's
own stalled check would take up to its 30 s stalled interval.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
import statistics
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from pool.embedded_redis import EmbeddedRedis  # noqa: E402
from tests.pool_harness import RunningPool, add_jobs, job_state, make_config, wait_for  # noqa: E402

Q = "bench-recovery"


async def one_run(pool: RunningPool, r: Any, url: str) -> tuple[float, float]:
    [job] = await add_jobs(url, Q, [("t", {"seconds": 3}, {})])
    victim = await wait_for(lambda: pool.holder_of(job), 10, "a worker to take the job")
    before = set(pool.sup.state.workers)
    t0 = time.monotonic()
    os.kill(victim.pid, signal.SIGKILL)
    await wait_for(lambda: any(w not in before and pool.sup.state.workers[w].ready for w in pool.sup.state.workers),
                   10, "a replacement", step=0.002)
    replaced = time.monotonic() - t0

    def running_elsewhere() -> bool:
        h = pool.holder_of(job)
        return h is not None and h.pid != victim.pid

    await wait_for(running_elsewhere, 10, "the job to run again", step=0.002)
    rerun = time.monotonic() - t0
    await wait_for(lambda: job_state(r, Q, job) == "completed", 10, "the job to complete")
    await wait_for(lambda: pool.ready_count() == 2, 10, "two workers ready")
    return replaced, rerun


async def measure(url: str, runs: int) -> tuple[list[float], list[float]]:
    import redis

    r = redis.Redis.from_url(url)
    cfg = make_config(url, [(Q, "tests.procs:tracked", 1)], min_workers=2, max_workers=2, lock_duration_ms=30_000)
    async with RunningPool(cfg) as pool:
        results = [await one_run(pool, r, url) for _ in range(runs)]
    return [a for a, _ in results], [b for _, b in results]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--redis-url", default="")
    args = ap.parse_args()
    os.environ.setdefault("CORRAL_LOG_FORMAT", "json")
    embedded = None
    url = args.redis_url
    if not url:
        embedded = EmbeddedRedis.throwaway()
        url = embedded.start()
    os.environ["TEST_REDIS_URL"] = url
    try:
        replaced, rerun = asyncio.run(measure(url, args.runs))
    finally:
        if embedded is not None:
            embedded.stop()
    print(f"runs: {args.runs}")
    print(f"kill -> replacement ready: median {statistics.median(replaced) * 1000:.0f} ms, "
          f"max {max(replaced) * 1000:.0f} ms")
    print(f"kill -> job running again: median {statistics.median(rerun) * 1000:.0f} ms, "
          f"max {max(rerun) * 1000:.0f} ms")
    return 0


if __name__ == "__main__":
    sys.exit(main())

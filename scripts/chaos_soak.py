#!/usr/bin/env python3
"""The kill soak: corral under random worker SIGKILLs, with exactly-once accounting (a check, not a benchmark).

    .venv/bin/python scripts/chaos_soak.py [--jobs 15000] [--seconds 75] [--kills 50] [--workers 4]
                                            [--concurrency 10] [--job-ms 200] [--redis-url URL] [--json]

It runs the daemon as a user does (`corral run`, shipped defaults, one queue served by `--workers` workers at
`--concurrency`), adds `--jobs` jobs (one attempt each: a retry cannot hide a loss), and SIGKILLs a random worker
`--kills` times, spread over `--seconds`. The processor (scripts/chaos_procs.py) records each execution in Redis
with its worker's pid before it works. When every job has ended (or nothing moved for a minute), it prints:
completed, failed, lost (in neither set), run more than once, and how many of those re-runs followed a kill of
the worker that ran the job before (a re-run is expected only then: the killed worker's jobs go back to the queue).
Exit 1 if a job was lost, ran again without a kill to explain it, or failed for another reason than kills.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import signal
import subprocess
import sys
import time
from collections import defaultdict
from dataclasses import asdict, dataclass
from pathlib import Path

import psutil
import redis

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from pool.embedded_redis import EmbeddedRedis  # noqa: E402
from scripts.chaos_procs import EXECUTIONS  # noqa: E402

QUEUE = "chaos"
STUCK_SECONDS = 60.0


@dataclass
class Result:
    jobs: int
    kills: int
    seconds: float
    completed: int
    failed: int
    failed_by_kills: int  # ended failed because they were killed with their worker max_kills times
    lost: int
    ran_more_than_once: int
    reruns_after_a_kill: int
    executions: int

    @property
    def ok(self) -> bool:
        return (self.lost == 0 and self.ran_more_than_once == self.reruns_after_a_kill
                and self.failed == self.failed_by_kills)


def add_jobs(url: str, n: int, job_ms: int) -> set[str]:
    async def go() -> set[str]:
        from bullmq import Queue

        q = Queue(QUEUE, {"connection": url})
        ids: set[str] = set()
        for start in range(0, n, 1000):
            jobs = await q.addBulk([{"name": "soak", "data": {"i": i, "ms": job_ms}, "opts": {"attempts": 1}}
                                    for i in range(start, min(n, start + 1000))])
            ids.update(str(j.id) for j in jobs)
        await q.close()
        return ids

    return asyncio.run(go())


def workers_of(sup: psutil.Process) -> list[psutil.Process]:
    out = []
    for child in sup.children():
        try:
            if "corral: worker" in " ".join(child.cmdline()):
                out.append(child)
        except psutil.Error:
            pass
    return out


def kill_randomly(sup: psutil.Process, kills: int, seconds: float, rng: random.Random) -> list[int]:
    """SIGKILL a random worker `kills` times, evenly spread over `seconds` with jitter; the pids killed."""
    killed: list[int] = []
    start = time.monotonic()
    for k in range(kills):
        due = start + seconds * (k + rng.random()) / kills
        time.sleep(max(0.0, due - time.monotonic()))
        live = workers_of(sup)
        if not live:
            continue
        victim = rng.choice(live)
        try:
            victim.send_signal(signal.SIGKILL)
            killed.append(victim.pid)
        except psutil.Error:
            pass
    return killed


def wait_until_ended(r: redis.Redis, n: int) -> None:
    last, moved_at = -1, time.monotonic()
    while True:
        ended = r.zcard(f"bull:{QUEUE}:completed") + r.zcard(f"bull:{QUEUE}:failed")
        if ended >= n:
            return
        if ended != last:
            last, moved_at = ended, time.monotonic()
        elif time.monotonic() - moved_at > STUCK_SECONDS:
            return  # what has not ended by now is counted as lost
        time.sleep(0.2)


def account(r: redis.Redis, ids: set[str], killed: set[int], kills: int, seconds: float) -> Result:
    runs: dict[str, list[int]] = defaultdict(list)
    entries = r.lrange(EXECUTIONS, 0, -1)
    for e in entries:
        job_id, pid = e.decode().split()
        runs[job_id].append(int(pid))
    completed = {j.decode() for j in r.zrange(f"bull:{QUEUE}:completed", 0, -1)}
    failed = {j.decode() for j in r.zrange(f"bull:{QUEUE}:failed", 0, -1)}
    by_kills = sum(1 for j in failed if "killed" in (r.hget(f"bull:{QUEUE}:{j}", "failedReason") or b"").decode())
    again = [pids for job_id, pids in runs.items() if len(pids) > 1 and job_id in ids]
    # A re-run is explained when every execution before the last one ran in a worker that was killed.
    explained = sum(1 for pids in again if all(p in killed for p in pids[:-1]))
    return Result(jobs=len(ids), kills=kills, seconds=round(seconds, 1), completed=len(completed), failed=len(failed),
                  failed_by_kills=by_kills, lost=len(ids - completed - failed), ran_more_than_once=len(again),
                  reruns_after_a_kill=explained, executions=len(entries))


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--jobs", type=int, default=15_000)
    ap.add_argument("--seconds", type=float, default=75.0)
    ap.add_argument("--kills", type=int, default=50)
    ap.add_argument("--workers", type=int, default=4)
    ap.add_argument("--concurrency", type=int, default=10)
    ap.add_argument("--job-ms", type=int, default=200)
    ap.add_argument("--redis-url", help="default: a throwaway embedded redis-server")
    ap.add_argument("--seed", type=int, default=None)
    ap.add_argument("--json", action="store_true", help="print the result as one JSON line")
    args = ap.parse_args()
    rng = random.Random(args.seed)
    embedded = None if args.redis_url else EmbeddedRedis.throwaway()
    url = args.redis_url or embedded.start()  # type: ignore[union-attr]
    r = redis.Redis.from_url(url)
    r.delete(EXECUTIONS)
    env = {**os.environ, "CHAOS_REDIS_URL": url, "CORRAL_LOG_LEVEL": "WARNING"}
    daemon = subprocess.Popen(
        [sys.executable, "-m", "pool.cli", "run", "--redis-url", url, "--no-http",
         "--queue", f"{QUEUE}=scripts.chaos_procs:counted@{args.concurrency}",
         "--min-workers", str(args.workers), "--max-workers", str(args.workers)],
        cwd=ROOT, env=env, stderr=subprocess.DEVNULL)
    try:
        sup = psutil.Process(daemon.pid)
        while len(workers_of(sup)) < args.workers:
            if daemon.poll() is not None:
                raise SystemExit(f"corral run exited with {daemon.returncode} at start")
            time.sleep(0.05)
        start = time.monotonic()
        ids = add_jobs(url, args.jobs, args.job_ms)
        killed = kill_randomly(sup, args.kills, args.seconds, rng)
        wait_until_ended(r, args.jobs)
        result = account(r, ids, set(killed), len(killed), time.monotonic() - start)
    finally:
        daemon.send_signal(signal.SIGTERM)
        daemon.wait(60)
        if embedded is not None:
            embedded.stop()
    if args.json:
        print(json.dumps({**asdict(result), "ok": result.ok}))
    else:
        print(f"{result.jobs} jobs, {result.kills} worker SIGKILLs in {result.seconds} s: "
              f"completed {result.completed}, failed {result.failed} ({result.failed_by_kills} for kills), "
              f"lost {result.lost}, run more than once {result.ran_more_than_once} "
              f"({result.reruns_after_a_kill} after a kill of the worker that ran them), "
              f"{result.executions} executions")
        print("ok" if result.ok else "NOT OK: a job was lost, re-run without a kill, or failed for another reason")
    return 0 if result.ok else 1


if __name__ == "__main__":
    sys.exit(main())

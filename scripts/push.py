#!/usr/bin/env python3
"""Add one job with Python `bullmq`, as a producer service would, and wait for corral to finish it.

    .venv/bin/python scripts/push.py QUEUE '{"some": "data"}' [--name NAME] [--redis-url URL]

Redis: --redis-url, else $REDIS_URL, else the daemon's embedded server (127.0.0.1:6380, its password read from
data/redis/password, as `corral status` does). Prints the job's id, then its return value (exit 0) or its failure
reason (exit 1); exit 2 if it is not finished within --timeout seconds.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import time
from pathlib import Path

from bullmq import Job, Queue

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from pool.embedded_redis import client_url  # noqa: E402


async def push(url: str, queue_name: str, name: str, data: object, wait_seconds: float) -> int:
    queue = Queue(queue_name, {"connection": url})
    try:
        job = await queue.add(name, data, {"removeOnComplete": 1000, "removeOnFail": 5000})
        print(f"added job {job.id} to {queue_name}")
        deadline = time.monotonic() + wait_seconds
        while time.monotonic() < deadline:
            state = await queue.getJobState(job.id)
            if state in ("completed", "failed"):
                done = await Job.fromId(queue, job.id)
                if state == "completed":
                    print(f"completed: {json.dumps(done.returnvalue)}")
                    return 0
                print(f"failed: {done.failedReason}")
                return 1
            await asyncio.sleep(0.1)
        print(f"not finished after {wait_seconds:.0f} s (is a daemon serving {queue_name}?)", file=sys.stderr)
        return 2
    finally:
        await queue.close()


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("queue")
    ap.add_argument("data", help="the job's data, as JSON")
    ap.add_argument("--name", default="hello", help="the job's name (default hello)")
    ap.add_argument("--redis-url", default=os.environ.get("REDIS_URL"))
    ap.add_argument("--timeout", type=float, default=30.0)
    args = ap.parse_args()
    try:
        data = json.loads(args.data)
    except ValueError as e:
        ap.error(f"data is not JSON: {e}")
    url = args.redis_url or client_url(6380, Path("data/redis"))
    return asyncio.run(push(url, args.queue, args.name, data, args.timeout))


if __name__ == "__main__":
    sys.exit(main())

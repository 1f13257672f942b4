#!/usr/bin/env python3
"""Add one job with Python `bullmq`, as a producer service would, and wait for corral to finish it.

    .venv/bin/python scripts/push.py QUEUE '{"some": "data"}' [--name NAME] [--redis-url URL]

Redis: --redis-url, else $REDIS_URL, else the daemon's embedded server (127.0.0.1:6380, its password read from
data/redis/password here, else from this checkout's data/redis/password, where scripts/run.sh keeps it). Prints the
job's id, then its return value (exit 0) or its failure reason (exit 1); exit 2 if it is not finished within
--timeout seconds, or Redis refuses the login or cannot be reached.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import time
from pathlib import Path

import redis
from bullmq import Job, Queue

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from pool.embedded_redis import PASSWORD_FILE, client_url, refused_login  # noqa: E402
from workers.redis_clients import server_version  # noqa: E402
from workers.urls import redact  # noqa: E402

EMBEDDED_PORT = 6380


def embedded_dir() -> Path:
    """The embedded server's folder: ./data/redis when the daemon runs here, else this checkout's data/redis
    (scripts/run.sh starts the daemon in the checkout, whichever folder it was called from)."""
    here = Path("data/redis")
    return here if (here / PASSWORD_FILE).exists() else ROOT / "data" / "redis"


async def push(url: str, queue_name: str, name: str, data: object, wait_seconds: float,
               password_dir: Path | None) -> int:
    try:
        await server_version(url)  # a login refused is named here, not as a protocol error from the add script
    except redis.exceptions.AuthenticationError as e:
        given = f"Redis refused the login: {e} (check the password in the URL)"
        print(refused_login(redact(url), e, password_dir) if password_dir else given, file=sys.stderr)
        return 2
    except (redis.exceptions.ConnectionError, OSError) as e:
        print(f"cannot reach Redis at {redact(url)}: {e} (is the daemon running? scripts/run.sh starts it)",
              file=sys.stderr)
        return 2
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
    if args.redis_url:
        url, password_dir = args.redis_url, None
    else:
        password_dir = embedded_dir()
        url = client_url(EMBEDDED_PORT, password_dir)
    return asyncio.run(push(url, args.queue, args.name, data, args.timeout, password_dir))


if __name__ == "__main__":
    sys.exit(main())

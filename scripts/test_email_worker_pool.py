#!/usr/bin/env python3
"""Load the sample corpus as email jobs, run a pool of 2..4 workers on it, print the metrics as the pool
scales up and back down, and check that every job completed and every email has its result row.

    python scripts/test_email_worker_pool.py [--repeat 10] [--redis-url URL] [--ollama-host URL]

Without --ollama-host the LLM phases are off (Phase 1 and storage only); with it, the configured models
are asked for real. Without --redis-url a throwaway redis-server is started. Exits 1 if a check fails.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sqlite3
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from pool.config import CorralConfig  # noqa: E402
from pool.embedded_redis import EmbeddedRedis  # noqa: E402
from pool.supervisor import Supervisor  # noqa: E402
from workers.email.producer import enqueue_emails  # noqa: E402

QUEUE = "email-processing"


def corpus_jobs(repeat: int) -> list[dict[str, Any]]:
    by_conv: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for line in (ROOT / "data" / "email_corpus.jsonl").read_text().splitlines():
        row = json.loads(line)
        by_conv[row["conversation_id"]].append(row["email"])
    return [{"id": f"{conv}-r{r}", "conversationId": conv, "emails": emails, "priority": "medium", "options": {}}
            for r in range(repeat) for conv, emails in sorted(by_conv.items())]


def line(s: dict[str, Any]) -> str:
    return (f"[{time.strftime('%H:%M:%S')}] workers {s['totalWorkers']} (busy {s['activeWorkers']}, "
            f"idle {s['idleWorkers']}, starting {s['startingWorkers']}, draining {s['drainingWorkers']}) "
            f"depth {s['queueDepth']:5d}  processed {s['totalProcessed']:5d} failed {s['totalFailed']} "
            f"{s['throughput']:7.1f} jobs/s  avg {s['averageProcessingTime']:.1f} ms")


async def run(url: str, jobs: list[dict[str, Any]], db: Path) -> list[str]:
    problems: list[str] = []
    cfg = CorralConfig.model_validate({
        "redis": {"url": url},
        "pool": {"min_workers": 2, "max_workers": 4, "scale_down_delay": 3, "metrics_interval": 1,
                 "heartbeat_interval": 0.25, "poll_interval": 0.25, "max_jobs_per_worker": 0},
        "queues": [{"name": QUEUE, "processor": "workers.email.processor:processors", "concurrency": 1}],
    })
    sup = Supervisor(cfg, url)
    seen: list[dict[str, Any]] = []
    sup.on("metrics", lambda s: (seen.append(s), print(line(s), flush=True)))
    sup.on("scale", lambda d: print(f"  scaling: {d['reason']}", flush=True))
    task = asyncio.create_task(sup.run())
    await asyncio.sleep(1)
    ids = await enqueue_emails(url, jobs)
    print(f"queued {len(ids)} jobs ({sum(len(j['emails']) for j in jobs)} emails)", flush=True)
    deadline = time.monotonic() + 600
    while time.monotonic() < deadline:
        done = sup.state.counters.totals()
        if done[0] + done[1] >= len(ids) and len(sup.state.workers) == 2 and sup.state.scaling_log and \
                any(e["drain"] for e in sup.state.scaling_log):
            break
        await asyncio.sleep(0.5)
    sup.request_stop()
    await task
    total = sup.state.counters.totals()
    completed, failed = total.completed, total.failed
    peak = max((s["totalWorkers"] for s in seen), default=0)
    if completed != len(ids) or failed:
        problems.append(f"expected {len(ids)} completed and 0 failed, got {completed} and {failed}")
    if peak < 3:
        problems.append(f"the pool never scaled up (peak {peak} workers)")
    if not any(e["drain"] for e in sup.state.scaling_log):
        problems.append("the pool never scaled back down")
    expected = {e["id"] for j in jobs for e in j["emails"]}
    con = sqlite3.connect(db)
    stored = {r[0] for r in con.execute("SELECT email_id FROM email_results")}
    rows = con.execute("SELECT COUNT(*) FROM email_results").fetchone()[0]
    con.close()
    if stored != expected or rows != len(expected):
        problems.append(f"{len(expected)} emails, {rows} result rows, {len(expected - stored)} missing")
    print(f"peak workers {peak}; {completed} jobs completed; {rows} result rows for {len(expected)} emails")
    return problems


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--repeat", type=int, default=10, help="enqueue the corpus this many times (default 10)")
    ap.add_argument("--redis-url", default="")
    ap.add_argument("--ollama-host", default="")
    args = ap.parse_args()
    os.environ.setdefault("CORRAL_LOG_FORMAT", "json")
    os.environ.setdefault("CORRAL_LOG_LEVEL", "WARNING")
    work = Path(tempfile.mkdtemp(prefix="corral-email-pool-"))
    db = work / "emails.sqlite"
    ollama = f'enabled = true\nhost = "{args.ollama_host}"\n' if args.ollama_host else "enabled = false\n"
    (work / "email.toml").write_text(f'database = "{db}"\n[ollama]\n{ollama}')
    os.environ["CORRAL_EMAIL_CONFIG"] = str(work / "email.toml")
    embedded = None
    url = args.redis_url
    if not url:
        embedded = EmbeddedRedis.throwaway()
        url = embedded.start()
    try:
        problems = asyncio.run(run(url, corpus_jobs(args.repeat), db))
    finally:
        if embedded is not None:
            embedded.stop()
    for p in problems:
        print(f"FAIL  {p}")
    print("all checks passed" if not problems else f"{len(problems)} check(s) failed")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())

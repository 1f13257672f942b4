#!/usr/bin/env python3
"""Client CPU per script call of the workers' multiplexed connection (a benchmark that prints figures, not a test).

    python scripts/bench_multiplex.py [--rounds 7] [--calls 200000] [--cluster] [--baseline OLD/workers/multiplex.py]

50 callers each loop EVALSHA of a one-key INCR script, as a worker's 50 slots call moveToFinished, on a throwaway
redis-server; the figure is this process's CPU time (and wall time) per call, the median over `--rounds`.
`--cluster` also runs it on a 3-master Redis Cluster (keys spread over the masters) through
ClusterMultiplexedConnection. `--baseline FILE` loads another version of workers/multiplex.py (e.g. from
`git archive`) and runs it interleaved with this one on the single server: a before/after of a change.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import importlib.util
import statistics
import sys
import time
from pathlib import Path
from types import ModuleType
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.redis_cluster import ClusterServers  # noqa: E402
from tests.redis_server import RedisServer  # noqa: E402
from workers import multiplex  # noqa: E402

SCRIPT = "return redis.call('INCR', KEYS[1])"
SHA = hashlib.sha1(SCRIPT.encode()).hexdigest()
CALLERS = 50


async def one_run(connect: Any, calls: int) -> tuple[float, float]:
    conn = connect()
    await asyncio.gather(*(conn.run_script(SHA, SCRIPT, [f"k{i}"], []) for i in range(CALLERS)))  # connect, load
    per = calls // CALLERS

    async def caller(i: int) -> None:
        for _ in range(per):
            await conn.run_script(SHA, SCRIPT, [f"k{i}"], [])

    cpu, wall = time.process_time(), time.perf_counter()
    await asyncio.gather(*(caller(i) for i in range(CALLERS)))
    cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
    await conn.aclose()
    return cpu / (per * CALLERS) * 1e6, wall / (per * CALLERS) * 1e6


def load(path: str) -> ModuleType:
    spec = importlib.util.spec_from_file_location("multiplex_baseline", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rounds", type=int, default=7)
    ap.add_argument("--calls", type=int, default=200_000)
    ap.add_argument("--cluster", action="store_true", help="also on a 3-master Redis Cluster")
    ap.add_argument("--baseline", help="another workers/multiplex.py, run interleaved with this one")
    args = ap.parse_args()
    single = RedisServer()
    single.start()
    cluster = ClusterServers() if args.cluster else None
    try:
        if cluster is not None:
            cluster.start()
        runs: dict[str, Any] = {"this, one server": lambda: multiplex.script_connection(single.url)}
        if args.baseline:
            old = load(args.baseline)
            runs["baseline, one server"] = lambda: old.MultiplexedConnection(single.url)
        if cluster is not None:
            runs["this, 3-master cluster"] = lambda: multiplex.script_connection(cluster.url)
        results: dict[str, list[tuple[float, float]]] = {k: [] for k in runs}
        for r in range(args.rounds):
            for label in (list(runs) if r % 2 == 0 else list(reversed(runs))):  # alternate who goes first
                cpu, wall = asyncio.run(one_run(runs[label], args.calls))
                results[label].append((cpu, wall))
                print(f"round {r + 1} {label:<24} cpu {cpu:5.2f} us/call  wall {wall:5.2f} us/call", flush=True)
        print("medians:")
        for label, v in results.items():
            print(f"  {label:<24} cpu {statistics.median(c for c, _ in v):5.2f} us/call  "
                  f"wall {statistics.median(w for _, w in v):5.2f} us/call")
        if args.baseline:
            diffs = [n[0] - b[0] for n, b in zip(results["this, one server"], results["baseline, one server"],
                                                 strict=True)]
            print(f"  this - baseline, cpu per call, paired by round: median {statistics.median(diffs):+.2f} us "
                  f"(from {min(diffs):+.2f} to {max(diffs):+.2f})")
    finally:
        single.close()
        if cluster is not None:
            cluster.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())

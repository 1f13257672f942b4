#!/usr/bin/env python3
"""The same multi-queue load on one Redis and on a 3-master Redis Cluster, in one run (a benchmark, not a test).

    python scripts/bench_cluster.py [--jobs 50000] [--rounds 3] [--workers 2] [--concurrency 50] [--node]
                                    [--no-aof] [--json data/bench_cluster.json]

Three queues, `{a}` `{b}` `{c}` (hash tags in the names, prefix `bull`: on the cluster each queue's keys live on
one master, and these three names land on the three masters `redis-cli --cluster create` makes; checked with
CLUSTER KEYSLOT at start), `--jobs` no-op jobs each. Two Redis setups are started once and kept for the whole run:
one redis-server, and three redis-servers joined as a cluster (tests/redis_cluster.py); every node with the
append-only file as corral's embedded Redis has it (everysec; `--no-aof`: no persistence).

Each run: the queues are paused, filled (Python bullmq `addBulk`, on the master holding the queue), the consumer is
started and waits on the paused queues until it is ready, the queues are resumed, and the run ends when every job
is completed. The consumer is corral as a user runs it: the CLI with the shipped configuration,
`corral run --redis-url URL --queue '{a}=workers.processors.builtin:echo@50' (x3) --min-workers W --max-workers W`,
only `--http-port 0` and `--log-level WARNING` added (W = `--workers` worker processes, each serving the three
queues at `--concurrency`, the same W on both setups). `--node` adds W Node BullMQ 6 processes
(tests/node/worker_queues.mjs: a Worker per queue at the same concurrency, BullMQ's per-minute metrics on as
corral's are) on both setups. The setups run one after another within each round, in reversed order every other
round, so a noisy minute of the shared machine hits them alike.

Per run: jobs/s from BullMQ's own job hashes (each queue's jobs / (its last finishedOn - its first processedOn),
summed over queues; and all jobs over the whole span), Redis CPU (INFO cpu before and after, each node) per 1,000
jobs and its busy share (CPU s / wall s: near 1.0, that Redis is the limit), the consumer processes' CPU per job
and corral's supervisor's (psutil), and what the rest of the machine used meanwhile (system CPU minus this
benchmark's processes: another benchmark on a shared machine shows there). Medians of the rounds are compared and
written with the machine's description to `--json`.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import select
import signal
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psutil
import redis
import redis.asyncio

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from pool.metrics import daemons_key, snapshot_key  # noqa: E402
from scripts.bench_throughput import METRICS_POINTS  # noqa: E402
from tests.redis_cluster import ClusterServers  # noqa: E402
from tests.redis_server import RedisServer  # noqa: E402
from workers.redis_clients import sync_client  # noqa: E402
from workers.redis_url import queue_slot  # noqa: E402

PREFIX = "bull"
# One queue per master of a 3-master cluster made by redis-cli (slots 0-5460, 5461-10922, 10923-16383): {b} hashes
# to slot 3300, {c} to 7365, {a} to 15495. ({q1} {q2} {q3} would not do: {q2} and {q3} share the third master.)
QUEUES = ("{a}", "{b}", "{c}")
PROCESSOR = "workers.processors.builtin:echo"  # as scripts/bench_throughput.py
NODE_WORKER = ROOT / "tests" / "node" / "worker_queues.mjs"


@dataclass
class Target:
    """A Redis setup: the URL consumers get, a plain client per node (keyed by port), each queue's node, and the
    redis-server processes (to tell this benchmark's CPU from the rest of the machine's)."""

    name: str
    url: str
    nodes: dict[int, redis.Redis]
    owner: dict[str, int]
    pids: list[int] = field(default_factory=list)

    def client(self, queue: str) -> redis.Redis:
        return self.nodes[self.owner[queue]]


# -- the two setups ---------------------------------------------------------------------------------------


def persistence(nodes: dict[int, redis.Redis], aof: bool) -> None:
    """The append-only file as corral's embedded Redis writes it (everysec), turned on at run time so the suite's
    servers need no other options. Its automatic rewrites are off: `fresh_aof` rewrites it between runs instead. (A
    rewrite's cost follows the data set, here 150,000 finished jobs kept, not the jobs' rate; one landing inside a
    run took 0.8-1.2 s of CPU there, at random.)"""
    if not aof:
        return
    for c in nodes.values():
        c.config_set("appendfsync", "everysec")
        c.config_set("auto-aof-rewrite-percentage", 0)
        c.config_set("appendonly", "yes")
    rewritten(nodes)
    if not all(int(c.info("persistence")["aof_enabled"]) for c in nodes.values()):
        raise RuntimeError("the append-only file could not be turned on")


def rewritten(nodes: dict[int, redis.Redis]) -> None:
    """Wait until no node is rewriting its append-only file."""
    deadline = time.monotonic() + 120
    while any(int(c.info("persistence")["aof_rewrite_in_progress"]) or
              int(c.info("persistence")["aof_rewrite_scheduled"]) for c in nodes.values()):
        if time.monotonic() > deadline:
            raise RuntimeError("an append-only file's rewrite did not finish within 120 s")
        time.sleep(0.1)


def empty(target: Target, aof: bool) -> None:
    """Flush every node; with the append-only file, rewrite it (now small) so it does not grow run after run."""
    for c in target.nodes.values():
        c.flushall()
        if aof:
            c.bgrewriteaof()
    rewritten(target.nodes)


def one_redis(server: RedisServer) -> Target:
    c = redis.Redis(host="127.0.0.1", port=server.port, socket_timeout=30)
    assert server.proc is not None
    return Target("one-redis", server.url, {server.port: c}, dict.fromkeys(QUEUES, server.port), [server.proc.pid])


def cluster(servers: ClusterServers) -> Target:
    """The cluster, after checking that each queue's keys hash to one slot (CLUSTER KEYSLOT, as queue_slot says)
    and that the queues sit on different masters; otherwise the cluster could not spread the load."""
    nodes = {n.port: redis.Redis(host="127.0.0.1", port=n.port, socket_timeout=30) for n in servers.nodes}
    owner = {}
    for q in QUEUES:
        slots = {int(servers.client(servers.nodes[0].port).execute_command("CLUSTER KEYSLOT", f"{PREFIX}:{q}:{s}"))
                 for s in ("wait", "meta", "1", "completed")}
        if slots != {queue_slot(PREFIX, q)}:
            raise RuntimeError(f"the keys of queue {q} hash to slots {sorted(slots)}, not to {queue_slot(PREFIX, q)}")
        owner[q] = servers.owner(slots.pop())
    if len(set(owner.values())) != len(QUEUES):
        raise RuntimeError(f"the queues do not sit on {len(QUEUES)} different masters: {owner}")
    pids = [n.proc.pid for n in servers.nodes if n.proc is not None]
    return Target("cluster-3", servers.url, nodes, owner, pids)


def redis_cpu(c: redis.Redis) -> tuple[float, float]:
    """CPU seconds of the server so far, and of its children (the append-only file's rewrites, forked)."""
    info = c.info("cpu")
    return (float(info["used_cpu_user"] + info["used_cpu_sys"]),
            float(info["used_cpu_user_children"] + info["used_cpu_sys_children"]))


# -- filling, resuming, timing ------------------------------------------------------------------------------


def fill(target: Target, n: int) -> None:
    """Pause each queue, then add `n` no-op jobs to it, on the node that holds it (redis-py's cluster client refuses
    bullmq's MULTI pipeline of `addBulk`; the queue's node takes it whole)."""
    async def go() -> None:
        from bullmq import Queue

        for q in QUEUES:
            client = redis.asyncio.Redis(host="127.0.0.1", port=target.owner[q])
            queue = Queue(q, {"connection": client, "prefix": PREFIX})
            await queue.pause()
            for start in range(0, n, 1000):
                chunk = range(start, min(n, start + 1000))
                await queue.addBulk([{"name": "noop", "data": {"i": i}, "opts": {}} for i in chunk])
            await queue.close()
            await client.aclose()

    asyncio.run(go())


def resume(target: Target) -> None:
    async def go() -> None:
        from bullmq import Queue

        clients = {p: redis.asyncio.Redis(host="127.0.0.1", port=p) for p in set(target.owner.values())}
        queues = [Queue(q, {"connection": clients[target.owner[q]], "prefix": PREFIX}) for q in QUEUES]
        await asyncio.gather(*(q.resume() for q in queues))
        for q in queues:
            await q.close()
        for c in clients.values():
            await c.aclose()

    asyncio.run(go())


def span(c: redis.Redis, queue: str, n: int) -> tuple[int, int]:
    """(first processedOn, last finishedOn) in ms of the queue's `n` completed jobs, as each consumer wrote them."""
    ids = c.zrange(f"{PREFIX}:{queue}:completed", 0, -1)
    if len(ids) != n:
        raise RuntimeError(f"{queue}: {len(ids)} of {n} jobs completed")
    pipe = c.pipeline(transaction=False)
    for job_id in ids:
        pipe.hmget(f"{PREFIX}:{queue}:{job_id.decode()}", "processedOn", "finishedOn")
    stamps = [(int(p), int(f)) for p, f in pipe.execute()]
    return min(p for p, _ in stamps), max(f for _, f in stamps)


def wait_completed(target: Target, n: int, alive: Callable[[], bool], timeout: float = 900) -> None:
    deadline = time.monotonic() + timeout
    while sum(int(target.client(q).zcard(f"{PREFIX}:{q}:completed")) for q in QUEUES) < n * len(QUEUES):
        if not alive():
            raise RuntimeError(f"{target.name}: the consumer exited before finishing")
        if time.monotonic() > deadline:
            raise RuntimeError(f"{target.name}: not finished within {timeout} s")
        time.sleep(0.02)


# -- consumers ---------------------------------------------------------------------------------------------


@dataclass
class Consumer:
    """Started consumer processes: `workers` do the jobs (corral's worker processes, or the Node processes),
    `supervisor` is corral's (None for Node)."""

    procs: list[subprocess.Popen[bytes]]
    workers: list[psutil.Process]
    supervisor: psutil.Process | None

    def alive(self) -> bool:
        return all(p.poll() is None for p in self.procs)

    def stop(self) -> None:
        for p in self.procs:
            p.send_signal(signal.SIGTERM)
        for p in self.procs:
            try:
                p.wait(60)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()


def daemon_ready(url: str, workers: int) -> bool:
    """The daemon's latest snapshot shows `workers` workers ready and idle (the queues are paused)."""
    c = sync_client(url, decode_responses=True)
    try:
        for daemon in c.zrevrange(daemons_key(PREFIX), 0, -1):
            raw = c.get(snapshot_key(PREFIX, daemon))
            if raw and json.loads(raw)["idleWorkers"] == workers:
                return True
        return False
    finally:
        c.close()


@contextmanager
def corral(target: Target, workers: int, concurrency: int) -> Iterator[Consumer]:
    """corral as a user runs it: the CLI, the shipped configuration (whose queues --queue replaces), no setting
    changed but the HTTP port and the log level."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("CORRAL_") or k == "CORRAL_LOG_FORMAT"}
    queue_flags = [a for q in QUEUES for a in ("--queue", f"{q}={PROCESSOR}@{concurrency}")]
    proc = subprocess.Popen(
        [sys.executable, "-m", "pool.cli", "run", "--redis-url", target.url, "--http-port", "0", "--log-level",
         "WARNING", *queue_flags, "--min-workers", str(workers), "--max-workers", str(workers)], cwd=ROOT, env=env)
    consumer = Consumer([proc], [], psutil.Process(proc.pid))
    try:
        deadline = time.monotonic() + 60
        while not daemon_ready(target.url, workers):
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"corral on {target.name}: {workers} workers not ready within 60 s")
            time.sleep(0.1)
        assert consumer.supervisor is not None
        consumer.workers = consumer.supervisor.children()
        if len(consumer.workers) != workers:
            raise RuntimeError(f"corral on {target.name}: {len(consumer.workers)} child processes, not {workers}")
        yield consumer
    finally:
        consumer.stop()


@contextmanager
def node(target: Target, workers: int, concurrency: int) -> Iterator[Consumer]:
    procs = [subprocess.Popen(["node", str(NODE_WORKER), target.url, PREFIX, str(concurrency), str(METRICS_POINTS),
                               *QUEUES], cwd=NODE_WORKER.parent, stdout=subprocess.PIPE) for _ in range(workers)]
    consumer = Consumer(list(procs), [psutil.Process(p.pid) for p in procs], None)
    try:
        for p in procs:
            assert p.stdout is not None
            ready, _, _ = select.select([p.stdout], [], [], 60)
            if not ready or p.stdout.readline().strip() != b"READY":
                raise RuntimeError(f"Node worker on {target.name} not ready within 60 s")
        yield consumer
    finally:
        consumer.stop()


CONSUMERS = {"corral": corral, "node": node}


# -- one run -----------------------------------------------------------------------------------------------


def cpu_seconds(procs: list[psutil.Process]) -> float:
    return sum(float(t.user + t.system) for t in (p.cpu_times() for p in procs))


def busy_cores() -> float:
    """The whole machine's CPU seconds so far, over every core."""
    t = psutil.cpu_times()
    return float(t.user + t.nice + t.system + t.irq + t.softirq)


def others_now(ours: list[psutil.Process], seconds: float = 1.0) -> float:
    """Cores the rest of the machine used over the next `seconds`."""
    ours0, all0 = cpu_seconds(ours), busy_cores()
    time.sleep(seconds)
    return (busy_cores() - all0 - (cpu_seconds(ours) - ours0)) / seconds


def wait_quiet(ours: list[psutil.Process], limit: float, timeout: float) -> tuple[float, float]:
    """Before a timed run, wait until the rest of the machine uses under `limit` cores over a second (another
    benchmark between two of its runs), at most `timeout` seconds; returns (seconds waited, the last reading)."""
    t0 = time.monotonic()
    while (others := others_now(ours)) >= limit and time.monotonic() - t0 < timeout:
        pass
    return time.monotonic() - t0, others


@dataclass
class Settings:
    jobs: int  # per queue
    workers: int
    concurrency: int
    aof: bool
    quiet: float  # cores the rest of the machine may use when a timed run starts
    quiet_wait: float  # seconds to wait for that at most


def run(target: Target, consumer_kind: str, cfg: Settings) -> dict[str, Any]:
    n = cfg.jobs
    empty(target, cfg.aof)
    fill(target, n)
    me = psutil.Process()
    redis_procs = [psutil.Process(p) for p in target.pids]
    with CONSUMERS[consumer_kind](target, cfg.workers, cfg.concurrency) as consumer:
        ours = [me, *redis_procs, *consumer.workers, *([consumer.supervisor] if consumer.supervisor else [])]
        waited, others_before = wait_quiet(ours, cfg.quiet, cfg.quiet_wait)
        load = os.getloadavg()
        redis0 = {p: redis_cpu(c) for p, c in target.nodes.items()}
        work0, sup0 = cpu_seconds(consumer.workers), cpu_seconds([consumer.supervisor] if consumer.supervisor else [])
        ours0, all0, t0 = cpu_seconds(ours), busy_cores(), time.monotonic()
        resume(target)
        wait_completed(target, n, consumer.alive)
        wall = time.monotonic() - t0
        redis1 = {p: redis_cpu(c) for p, c in target.nodes.items()}
        forks = sum(redis1[p][1] - redis0[p][1] for p in target.nodes)
        machine = (busy_cores() - all0) / wall
        others = machine - (cpu_seconds(ours) - ours0 + forks) / wall
        work = cpu_seconds(consumer.workers) - work0
        rss = max(p.memory_info().rss for p in consumer.workers) / 2**20  # near its peak: RSS seldom shrinks
        sup = cpu_seconds([consumer.supervisor] if consumer.supervisor else []) - sup0
    total = n * len(QUEUES)
    spans = {q: span(target.client(q), q, n) for q in QUEUES}
    per_queue = {q: n / max(0.001, (last - first) / 1000) for q, (first, last) in spans.items()}
    whole = (max(last for _, last in spans.values()) - min(first for first, _ in spans.values())) / 1000
    redis_nodes = {str(p): {"queues": [q for q in QUEUES if target.owner[q] == p],
                            "cpu_s": redis1[p][0] - redis0[p][0],
                            "cpu_s_per_1000_jobs": (redis1[p][0] - redis0[p][0]) / total * 1000,
                            # per 1,000 jobs of the queues it holds: what one shard costs for its own share
                            "cpu_s_per_1000_own_jobs": (redis1[p][0] - redis0[p][0]) / (
                                n * sum(1 for q in QUEUES if target.owner[q] == p)) * 1000,
                            "busy": (redis1[p][0] - redis0[p][0]) / wall,
                            "aof_rewrite_cpu_s": redis1[p][1] - redis0[p][1]}
                   for p in target.nodes}
    redis_total = sum(r["cpu_s"] for r in redis_nodes.values())
    return {
        "setup": f"{consumer_kind}/{target.name}", "jobs": total, "load_average": [round(x, 2) for x in load],
        "jobs_per_s": sum(per_queue.values()), "jobs_per_s_whole_span": total / max(0.001, whole),
        "jobs_per_s_by_queue": per_queue, "wall_s": wall,
        "redis": redis_nodes, "redis_cpu_s_per_1000_jobs": redis_total / total * 1000,
        "redis_busy_total": redis_total / wall, "redis_busy_max": max(r["busy"] for r in redis_nodes.values()),
        "consumer_cpu_us_per_job": work / total * 1e6, "consumer_busy": work / wall,
        "supervisor_cpu_us_per_job": sup / total * 1e6, "other_processes_cores": others,
        "consumer_rss_mb_max": rss, "machine_cores_used": machine, "waited_for_quiet_s": waited,
        "others_before_cores": others_before,
    }


def show(r: dict[str, Any]) -> str:
    nodes = " ".join(f"{r2['cpu_s_per_1000_jobs'] * 1000:.0f}us/{r2['busy']:.2f}" for r2 in r["redis"].values())
    return (f"  {r['setup']:<17} {r['jobs_per_s']:>8,.0f} jobs/s  redis {r['redis_cpu_s_per_1000_jobs'] * 1000:.1f} "
            f"us/job [per node us/job/busy: {nodes}]  consumer {r['consumer_cpu_us_per_job']:.1f} us/job "
            f"(busy {r['consumer_busy']:.2f})  others {r['other_processes_cores']:.2f} cores  "
            f"machine {r['machine_cores_used']:.2f} cores  load {r['load_average'][0]:.2f}  waited "
            f"{r['waited_for_quiet_s']:.0f} s")


# -- summary -----------------------------------------------------------------------------------------------

MEDIAN_KEYS = ("jobs_per_s", "jobs_per_s_whole_span", "redis_cpu_s_per_1000_jobs", "redis_busy_total",
               "redis_busy_max", "consumer_cpu_us_per_job", "consumer_busy", "supervisor_cpu_us_per_job",
               "other_processes_cores", "machine_cores_used", "consumer_rss_mb_max")


def summarise(runs: list[dict[str, Any]]) -> dict[str, Any]:
    """Medians per setup over `runs`, cluster / one Redis per consumer (medians' ratio, and round by round where
    both setups of a round are among `runs`), and the per-core ceilings from the CPU per job."""
    by_setup: dict[str, list[dict[str, Any]]] = {}
    for r in runs:
        by_setup.setdefault(r["setup"], []).append(r)
    medians = {s: {"runs": len(rs), **{k: statistics.median(r[k] for r in rs) for k in MEDIAN_KEYS}}
               for s, rs in by_setup.items()}
    for s, rs in by_setup.items():  # each node's CPU per 1,000 jobs and busy share, medians over rounds
        medians[s]["redis_nodes"] = {
            p: {"queues": rs[0]["redis"][p]["queues"],
                **{k: statistics.median(r["redis"][p][k] for r in rs)
                   for k in ("cpu_s_per_1000_jobs", "cpu_s_per_1000_own_jobs", "busy")}}
            for p in rs[0]["redis"]}
    out: dict[str, Any] = {"medians": medians}
    for kind in CONSUMERS:
        one, three = f"{kind}/one-redis", f"{kind}/cluster-3"
        if one not in by_setup or three not in by_setup:
            continue
        rounds = {r["round"]: r for r in by_setup[one]}
        out[f"{kind}_cluster_vs_one_redis"] = {
            "median_jobs_per_s": medians[three]["jobs_per_s"] / medians[one]["jobs_per_s"],
            "by_round": {c["round"]: c["jobs_per_s"] / rounds[c["round"]]["jobs_per_s"]
                         for c in by_setup[three] if c["round"] in rounds},
        }
    ceilings = {}
    for s, m in medians.items():
        if s.startswith("corral/"):
            # One Redis core serves 1 / (its CPU per job) jobs per second when nothing else holds it back (on the
            # cluster: one shard, for the jobs of its own queues); a worker process likewise on a core of its own.
            own = statistics.median(n["cpu_s_per_1000_own_jobs"] for n in m["redis_nodes"].values())
            ceilings[s] = {"redis_core_jobs_per_s": 1000 / own,
                           "worker_core_jobs_per_s": 1e6 / m["consumer_cpu_us_per_job"]}
    out["ceilings"] = ceilings
    return out


def print_summary(title: str, summary: dict[str, Any]) -> None:
    print(title)
    for s, m in summary["medians"].items():
        print(f"  {s:<17} {m['jobs_per_s']:>8,.0f} jobs/s  redis {m['redis_cpu_s_per_1000_jobs'] * 1000:.1f} us/job "
              f"(busiest node {m['redis_busy_max']:.2f}, all nodes {m['redis_busy_total']:.2f} cores)  consumer "
              f"{m['consumer_cpu_us_per_job']:.1f} us/job ({m['consumer_busy']:.2f} cores)  others "
              f"{m['other_processes_cores']:.2f} cores  machine {m['machine_cores_used']:.2f} cores  "
              f"({m['runs']} runs)")
    for kind in CONSUMERS:
        if (ratio := summary.get(f"{kind}_cluster_vs_one_redis")) is not None:
            print(f"  {kind}: cluster / one Redis {ratio['median_jobs_per_s']:.2f} (rounds: "
                  f"{', '.join(f'{x:.2f}' for x in ratio['by_round'].values())})")
    for s, c in summary["ceilings"].items():
        print(f"  {s}: one Redis core {c['redis_core_jobs_per_s']:,.0f} jobs/s, one worker core "
              f"{c['worker_core_jobs_per_s']:,.0f} jobs/s")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--jobs", type=int, default=50_000, help="no-op jobs per queue (three queues)")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--workers", type=int, default=2, help="consumer processes, each serving every queue")
    ap.add_argument("--concurrency", type=int, default=50, help="per queue and process")
    ap.add_argument("--node", action="store_true", help="also Node BullMQ 6 worker processes, on both setups")
    ap.add_argument("--no-aof", action="store_true", help="no append-only file on the Redis nodes")
    ap.add_argument("--quiet", type=float, default=0.25, metavar="CORES",
                    help="start a timed run once the rest of the machine uses under this many cores")
    ap.add_argument("--quiet-wait", type=float, default=30, metavar="SECONDS", help="but wait at most this long")
    ap.add_argument("--json", default=str(ROOT / "data" / "bench_cluster.json"))
    args = ap.parse_args()
    for name in ("jobs", "rounds", "workers", "concurrency"):
        if getattr(args, name) < 1:
            ap.error(f"--{name} must be at least 1")
    os.environ.setdefault("CORRAL_LOG_FORMAT", "json")
    cfg = Settings(args.jobs, args.workers, args.concurrency, not args.no_aof, args.quiet, args.quiet_wait)
    single, servers = RedisServer(), ClusterServers()
    try:
        single.start()
        servers.start()
        targets = [one_redis(single), cluster(servers)]
        for t in targets:
            persistence(t.nodes, not args.no_aof)
        kinds = ["corral", "node"] if args.node else ["corral"]
        order = [(k, t) for k in kinds for t in targets]
        print(f"{len(QUEUES)} queues x {args.jobs:,} no-op jobs, {args.workers} consumer processes x "
              f"{args.concurrency} per queue; queues on the cluster: "
              f"{ {q: p for q, p in targets[1].owner.items()} }; load now {os.getloadavg()[0]:.2f}", flush=True)
        runs = []
        for i in range(args.rounds):
            print(f"round {i + 1}:", flush=True)
            for kind, target in order if i % 2 == 0 else order[::-1]:
                runs.append({"round": i + 1, **run(target, kind, cfg)})
                print(show(runs[-1]), flush=True)
    finally:
        servers.close()
        single.close()
    quiet = [r for r in runs if r["other_processes_cores"] < args.quiet]
    summary = {"all_runs": summarise(runs), "quiet_runs": summarise(quiet)}
    print_summary(f"medians of {args.rounds} rounds:", summary["all_runs"])
    print_summary(f"medians of the runs during which the rest of the machine used under {args.quiet} cores:",
                  summary["quiet_runs"])
    report = {
        "machine": {"cpus": psutil.cpu_count(), "memory_gb": round(psutil.virtual_memory().total / 2**30),
                    "python": platform.python_version(), "platform": platform.platform()},
        "redis": _redis_version(),
        "settings": {"queues": list(QUEUES), "jobs_per_queue": args.jobs, "rounds": args.rounds,
                     "workers": args.workers, "concurrency": args.concurrency, "aof": not args.no_aof,
                     "processor": PROCESSOR, "node": args.node, "quiet_cores": args.quiet,
                     "quiet_wait_s": args.quiet_wait},
        "runs": runs, **summary,
    }
    Path(args.json).parent.mkdir(parents=True, exist_ok=True)
    Path(args.json).write_text(json.dumps(report, indent=2) + "\n")
    print(f"written to {args.json}")
    return 0


def _redis_version() -> str:
    out = subprocess.run(["redis-server", "--version"], capture_output=True, text=True, check=True).stdout
    return out.split("v=")[1].split()[0]


if __name__ == "__main__":
    sys.exit(main())

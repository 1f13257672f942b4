"""What tracing costs the hot path: corral 1 worker x 50 on no-op jobs, with tracing off and on.

    python scripts/bench_tracing.py [--jobs 100000] [--rounds 3] [--base DIR] [--redis-url URL]
    python scripts/bench_tracing.py --hook      # only the hook's own cost per job with tracing off

Each round runs, on one embedded Redis, the same no-op job set through `corral run` (1 worker, concurrency 50,
BullMQ metrics on as by default) for each setting, interleaved so a noisy minute hits them all; medians compared.
Settings: `off` (this tree, tracing off: the default), `on` (this tree, [tracing] enabled, every job's span
exported over OTLP/HTTP to a local receiver that counts and drops them), and with `--base DIR` (another tree of
corral, e.g. `git archive <commit> | tar -x -C DIR`) `base-off`: the same consumer before the tracing change.
Jobs/s come from BullMQ's own job hashes (first processedOn to last finishedOn), as in bench_throughput.py;
worker CPU per job from the worker processes' CPU time. `--hook` times what the consumer does per job for tracing
when it is off (the job span's no-op context manager), against an empty call.
"""

from __future__ import annotations

import argparse
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import psutil
import redis

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "scripts"))

from bench_throughput import fill, rate_from_hashes, wait_completed  # noqa: E402

from pool.embedded_redis import EmbeddedRedis  # noqa: E402
from tests.otlp_receiver import OtlpReceiver  # noqa: E402


def worker_cpu(pid: int) -> float:
    """CPU seconds (user + system) of the daemon's worker processes so far."""
    total = 0.0
    for child in psutil.Process(pid).children(recursive=True):
        try:
            if "worker" in " ".join(child.cmdline()):
                t = child.cpu_times()
                total += t.user + t.system
        except psutil.Error:
            pass
    return total


def run_corral(root: Path, url: str, r: redis.Redis, queue: str, n: int, tracing_url: str = ""
               ) -> tuple[float, float]:
    """(jobs/s, microseconds of worker CPU per job)."""
    env = {**os.environ, "CORRAL_LOG_LEVEL": "WARNING", "CORRAL_MAX_JOBS_PER_WORKER": "0", "PYTHONPATH": str(root)}
    config = Path(tempfile.mkstemp(suffix=".toml")[1])
    text = (f'jobtypes = []\n[[queues]]\nname = "{queue}"\nprocessor = "workers.processors.builtin:noop"\n'
            "concurrency = 50\n")
    if tracing_url:
        text += f'[tracing]\nenabled = true\nendpoint = "{tracing_url}"\n'
    config.write_text(text)
    proc = subprocess.Popen(
        [sys.executable, "-m", "pool.cli", "run", "--no-http", "--redis-url", url, "--config", str(config),
         "--min-workers", "1", "--max-workers", "1"], cwd=root, env=env)
    try:
        wait_completed(r, queue, n, proc, 900)
        cpu = worker_cpu(proc.pid)  # the run's, and the worker's start (forked: a few ms)
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(120)
        config.unlink()
    return rate_from_hashes(r, queue, n), cpu / n * 1e6


def hook_cost(calls: int = 1_000_000, rounds: int = 5) -> None:
    import timeit

    from workers import tracing
    from workers.consumer import _Attempt
    from workers.job import parse_job_hash

    class Ids:
        worker_id, worker_name = "w", "corral-bench-w"

    attempt = _Attempt("1", "token", {}, {}, 0, 0.0)
    parsed = parse_job_hash({"name": "noop", "data": "{}", "opts": "{}", "timestamp": "1"})
    assert not tracing.enabled()

    def hook() -> None:
        with tracing.job_span("q", Ids, attempt, parsed):
            pass

    def empty() -> None:
        pass

    costs = []
    for _ in range(rounds):
        costs.append((timeit.timeit(hook, number=calls) - timeit.timeit(empty, number=calls)) / calls * 1e9)
        print(f"tracing off: the job-span hook costs {costs[-1]:.0f} ns per job (beyond an empty call)", flush=True)
    print(f"median {statistics.median(costs):.0f} ns per job")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--jobs", type=int, default=100_000)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--base", default="", help="another corral tree, measured with tracing off as `base-off`")
    ap.add_argument("--redis-url", default="")
    ap.add_argument("--hook", action="store_true", help="only time the hook itself, tracing off")
    args = ap.parse_args()
    if args.hook:
        hook_cost()
        return 0
    os.environ.setdefault("CORRAL_LOG_FORMAT", "json")
    embedded = None
    url = args.redis_url
    if not url:
        embedded = EmbeddedRedis.throwaway()
        url = embedded.start()
    r = redis.Redis.from_url(url)
    settings: list[tuple[str, Path, bool]] = [("off", ROOT, False), ("on", ROOT, True)]
    if args.base:
        settings.insert(0, ("base-off", Path(args.base).resolve(), False))
    runs: dict[str, list[float]] = {label: [] for label, _, _ in settings}
    cpus: dict[str, list[float]] = {label: [] for label, _, _ in settings}
    exported: list[int] = []
    try:
        with OtlpReceiver(keep=False) as sink:
            for rnd in range(args.rounds):
                for label, root, on in settings:
                    queue = f"bench-tracing-{label}-{rnd}"
                    fill(url, queue, args.jobs)
                    before = sink.span_count
                    rate, cpu = run_corral(root, url, r, queue, args.jobs, sink.url if on else "")
                    time.sleep(0.5)
                    runs[label].append(rate)
                    cpus[label].append(cpu)
                    if on:
                        exported.append(sink.span_count - before)
                    print(f"round {rnd + 1} {label:<9} {rate:>9,.0f} jobs/s {cpu:6.1f} us worker CPU/job"
                          + (f" ({sink.span_count - before:,} spans received)" if on else ""), flush=True)
                    r.delete(*r.keys(f"bull:{queue}:*"))
    finally:
        if embedded is not None:
            embedded.stop()
    med = {label: statistics.median(v) for label, v in runs.items()}
    cpu_med = {label: statistics.median(v) for label, v in cpus.items()}
    print(f"medians of {args.rounds} rounds, {args.jobs:,} no-op jobs, corral 1 worker x 50:")
    for label, rate in med.items():
        print(f"  {label:<9} {rate:>9,.0f} jobs/s  {cpu_med[label]:6.1f} us worker CPU/job  "
              f"(runs: {', '.join(f'{x:,.0f}' for x in runs[label])}; "
              f"{', '.join(f'{x:.1f}' for x in cpus[label])} us)")
    if "base-off" in med:
        print(f"  off / base-off: {med['off'] / med['base-off']:.3f} jobs/s, "
              f"{cpu_med['off'] / cpu_med['base-off']:.3f} CPU per job")
    print(f"  on / off: {med['on'] / med['off']:.3f} jobs/s, {cpu_med['on'] / cpu_med['off']:.3f} CPU per job; "
          f"spans received per run: {exported}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

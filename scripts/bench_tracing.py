"""What tracing costs the hot path: corral 1 worker x 50 on no-op jobs, with tracing off and on.

    python scripts/bench_tracing.py [--jobs 100000] [--rounds 3] [--base DIR] [--redis-url URL]

Each round runs, on one embedded Redis, the same no-op job set through `corral run` (1 worker, concurrency 50,
BullMQ metrics on as by default) for each setting, interleaved so a noisy minute hits them all; medians compared.
Settings: `off` (this tree, tracing off: the default), `on` (this tree, [tracing] enabled, every job's span
exported over OTLP/HTTP to a local receiver that counts and drops them), and with `--base DIR` (another tree of
corral, e.g. `git archive <commit> | tar -x -C DIR`) `base-off`: the same consumer before the tracing change.
Jobs/s come from BullMQ's own job hashes (first processedOn to last finishedOn), as in bench_throughput.py.
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

import redis

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "scripts"))

from bench_throughput import fill, rate_from_hashes, wait_completed  # noqa: E402

from pool.embedded_redis import EmbeddedRedis  # noqa: E402
from tests.otlp_receiver import OtlpReceiver  # noqa: E402


def run_corral(root: Path, url: str, r: redis.Redis, queue: str, n: int, tracing_url: str = "") -> float:
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
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(120)
        config.unlink()
    return rate_from_hashes(r, queue, n)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--jobs", type=int, default=100_000)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--base", default="", help="another corral tree, measured with tracing off as `base-off`")
    ap.add_argument("--redis-url", default="")
    args = ap.parse_args()
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
    exported: list[int] = []
    try:
        with OtlpReceiver(keep=False) as sink:
            for rnd in range(args.rounds):
                for label, root, on in settings:
                    queue = f"bench-tracing-{label}-{rnd}"
                    fill(url, queue, args.jobs)
                    before = sink.span_count
                    rate = run_corral(root, url, r, queue, args.jobs, sink.url if on else "")
                    time.sleep(0.5)
                    runs[label].append(rate)
                    if on:
                        exported.append(sink.span_count - before)
                    print(f"round {rnd + 1} {label:<9} {rate:>9,.0f} jobs/s"
                          + (f" ({sink.span_count - before:,} spans received)" if on else ""), flush=True)
                    r.delete(*r.keys(f"bull:{queue}:*"))
    finally:
        if embedded is not None:
            embedded.stop()
    med = {label: statistics.median(v) for label, v in runs.items()}
    print(f"medians of {args.rounds} rounds, {args.jobs:,} no-op jobs, corral 1 worker x 50:")
    for label, rate in med.items():
        print(f"  {label:<9} {rate:>9,.0f} jobs/s  (runs: {', '.join(f'{x:,.0f}' for x in runs[label])})")
    if "base-off" in med:
        print(f"  off / base-off: {med['off'] / med['base-off']:.3f}")
    print(f"  on / off: {med['on'] / med['off']:.3f}; spans received per run: {exported}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

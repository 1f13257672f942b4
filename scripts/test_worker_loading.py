#!/usr/bin/env python3
"""Check that corral's workers load: every configured processor imports, a real worker process starts
and answers a ping, and a processor path that does not exist fails fast with a clear error.

    python scripts/test_worker_loading.py [--config FILE] [--redis-url URL]

Without a Redis URL it starts a throwaway redis-server on a free port. Exits 1 if any check fails.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
import uuid
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, os.getcwd())

from pool.config import ConfigError, CorralConfig, load_config  # noqa: E402
from pool.embedded_redis import EmbeddedRedis  # noqa: E402
from pool.worker_process import WorkerProcess  # noqa: E402
from workers.errors import ProcessorImportError  # noqa: E402
from workers.protocol import Pong, QueueSpec, Ready, StartFailed, WorkerSettings  # noqa: E402
from workers.registry import resolve  # noqa: E402

MISSING = "corral_no_such_module.processors:handle"


class Check:
    def __init__(self) -> None:
        self.failures = 0

    def run(self, name: str, fn: Callable[[], str]) -> None:
        t0 = time.perf_counter()
        try:
            detail = fn()
            print(f"PASS  {name} ({(time.perf_counter() - t0) * 1000:.0f} ms){': ' + detail if detail else ''}")
        except Exception as e:
            self.failures += 1
            print(f"FAIL  {name}: {type(e).__name__}: {e}")


def settings(cfg: CorralConfig, url: str, queues: tuple[QueueSpec, ...]) -> WorkerSettings:
    return WorkerSettings(worker_id=f"load-{uuid.uuid4().hex[:6]}", daemon_id="loading-check", redis_url=url,
                          prefix=cfg.redis.prefix, queues=queues, heartbeat_interval=0.2)


def expect(w: WorkerProcess, kind: type, timeout: float) -> object:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if w.conn.poll(0.05):
            msg = w.conn.recv()
            if isinstance(msg, kind):
                return msg
            if isinstance(msg, StartFailed) and kind is not StartFailed:
                raise RuntimeError(f"worker failed to start: {msg.reason}")
        elif not w.process.is_alive() and not w.conn.poll(0):
            raise RuntimeError(f"worker {w.exit_description()} before sending {kind.__name__}")
    raise TimeoutError(f"no {kind.__name__} from the worker within {timeout:g}s")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--config")
    ap.add_argument("--redis-url", default=os.environ.get("REDIS_URL", ""))
    args = ap.parse_args()
    check = Check()

    try:
        cfg = load_config(args.config, overrides={"redis": {"url": args.redis_url}} if args.redis_url else None)
    except ConfigError as e:
        print(f"FAIL  configuration: {e}")
        return 1
    print(f"PASS  configuration: {len(cfg.queues)} queue(s)")

    for q in cfg.queues:
        check.run(f"processor {q.name} = {q.processor} imports", lambda q=q: _describe(resolve(q.processor)))

    def missing_fails_fast() -> str:
        t0 = time.perf_counter()
        try:
            resolve(MISSING)
        except ProcessorImportError as e:
            if "corral_no_such_module" not in str(e):
                raise AssertionError(f"error does not name the module: {e}") from None
            if time.perf_counter() - t0 > 2:
                raise AssertionError("took over 2 s to fail") from None
            return str(e)
        raise AssertionError(f"{MISSING} resolved, but should not exist")

    check.run("a missing processor path fails with a clear error", missing_fails_fast)

    embedded = None
    url = args.redis_url or cfg.redis.url
    if not url:
        embedded = EmbeddedRedis.throwaway()
        url = embedded.start()
    try:
        specs = tuple(QueueSpec(q.name, q.processor, q.concurrency) for q in cfg.queues)

        def ping() -> str:
            w = WorkerProcess.start(settings(cfg, url, specs), None)
            try:
                ready = expect(w, Ready, 20)
                t0 = time.perf_counter()
                w.send("ping")
                expect(w, Pong, 5)
                rtt = (time.perf_counter() - t0) * 1000
                w.send("drain")
                w.process.join(10)
                if w.process.exitcode != 0:
                    raise AssertionError(f"worker did not exit cleanly after drain: {w.exit_description()}")
                return f"pid {ready.pid}, ping answered in {rtt:.1f} ms, drained and exited 0"  # type: ignore[attr-defined]
            finally:
                if w.process.is_alive():
                    w.kill()

        check.run("a worker process starts and answers a ping", ping)

        def worker_with_missing_processor() -> str:
            w = WorkerProcess.start(settings(cfg, url, (QueueSpec("loading-check", MISSING, 1),)), None)
            failed = expect(w, StartFailed, 10)
            w.process.join(5)
            reason = failed.reason  # type: ignore[attr-defined]
            if "corral_no_such_module" not in reason or w.process.exitcode == 0:
                raise AssertionError(f"unclear start failure: {reason!r}, {w.exit_description()}")
            return f"{reason} ({w.exit_description()})"

        check.run("a worker with a missing processor reports why and exits", worker_with_missing_processor)
    finally:
        if embedded is not None:
            embedded.stop()

    print(f"{check.failures} check(s) failed" if check.failures else "all checks passed")
    return 1 if check.failures else 0


def _describe(p: object) -> str:
    default = getattr(p, "default", None)
    if default is not None:
        return f"{'async' if default.is_async else 'sync'} callable"
    return "job names: " + ", ".join(sorted(getattr(p, "by_name", {})))


if __name__ == "__main__":
    sys.exit(main())

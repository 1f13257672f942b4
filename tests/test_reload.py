"""Deploys and development: SIGHUP re-reads the configuration and rolls the workers, `corral run --reload` rolls
them when a processor's source changes; each replacement is ready before the old worker drains, and no job is lost
or run twice (issue 17, point 7)."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import psutil
import pytest
import redis

from tests.pool_harness import add_jobs

Q = "reloading"
ROOT = Path(__file__).resolve().parent.parent

PROCESSOR = '''
import asyncio, os, redis

VERSION = "{version}"
_r = redis.Redis.from_url(os.environ["TEST_REDIS_URL"])


async def run(job):
    _r.hincrby("test:runs", job.id, 1)
    await asyncio.sleep(0.02)
    return {{"version": VERSION, "pid": os.getpid()}}
'''


def write_processor(folder: Path, version: str) -> None:
    path = folder / "reloadproc.py"
    path.write_text(PROCESSOR.format(version=version))
    os.utime(path)  # a fresh mtime even within the same second


def start(folder: Path, redis_url: str, *extra: str) -> subprocess.Popen[str]:
    env = {**os.environ, "TEST_REDIS_URL": redis_url, "PYTHONPATH": str(ROOT), "CORRAL_LOG_FORMAT": "text"}
    return subprocess.Popen(
        [sys.executable, "-m", "pool.cli", "run", "--redis-url", redis_url, "--no-http", "--queue",
         f"{Q}=reloadproc:run@4", "--min-workers", "2", "--max-workers", "2", "--data-dir", str(folder / "data"),
         *extra], cwd=folder, env=env, stderr=subprocess.PIPE, text=True)


def returned(r: redis.Redis, ids: list[str]) -> list[str]:
    import json

    out = []
    for i in ids:
        raw = r.hget(f"bull:{Q}:{i}", "returnvalue")
        out.append(json.loads(raw)["version"] if raw else "")
    return out


async def wait_until(pred: object, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not pred():  # type: ignore[operator]
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.05)


def all_completed(r: redis.Redis, ids: list[str]) -> bool:
    return r.zcard(f"bull:{Q}:completed") >= len(ids) and all(
        r.zscore(f"bull:{Q}:completed", i) is not None for i in ids)


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    write_processor(tmp_path, "v1")
    return tmp_path


def _workers(proc: subprocess.Popen[str]) -> list[psutil.Process]:
    """The daemon's worker processes (by the title each one sets)."""
    out = []
    for child in psutil.Process(proc.pid).children():
        try:
            if " ".join(child.cmdline()).startswith("corral: worker"):
                out.append(child)
        except psutil.NoSuchProcess:
            pass
    return out


def _all_gone(processes: list[psutil.Process]) -> bool:
    for p in processes:
        try:
            if p.is_running() and p.status() != psutil.STATUS_ZOMBIE:
                return False
        except psutil.NoSuchProcess:
            pass
    return True


async def _under_load(redis_url: str, proc: subprocess.Popen[str], change: Callable[[], None],
                      seconds: float) -> tuple[list[str], list[str]]:
    """Add jobs in small batches for `seconds`, and on until ten batches were added after the roll; call `change()`
    after a third of it. (ids added before the workers of the change's time had all exited, ids added after.)"""
    before: list[str] = []
    after: list[str] = []
    started = time.monotonic()
    old: list[psutil.Process] | None = None
    while time.monotonic() - started < seconds or len(after) < 100:
        if time.monotonic() - started > seconds + 60:
            raise AssertionError(f"the workers of before the change still run a minute later: {old}")
        if old is None and time.monotonic() - started > seconds / 3:
            old = _workers(proc)
            assert old, "no worker process found"
            change()
        # Only once the old workers have all exited must a job run the new code (the roll takes a fresh
        # interpreter's start, seconds on a loaded machine).
        rolled = old is not None and _all_gone(old)
        batch = await add_jobs(redis_url, Q, [("j", {}, {}) for _ in range(10)])
        (after if rolled else before).extend(batch)
        await asyncio.sleep(0.1)
    return before, after


async def _roll_under_load(folder: Path, redis_url: str, r: redis.Redis,
                           change: Callable[[subprocess.Popen[str]], None], *extra: str
                           ) -> tuple[list[str], list[str], str]:
    """Run the daemon (`extra` flags), `change(proc)` a third into 8 s of added jobs, stop it once all completed.
    Every job ran once and those added after the old workers exited ran v2. (ids before, ids after, the daemon's
    log)."""
    proc = start(folder, redis_url, *extra)
    try:
        await wait_until(lambda: r.exists("corral:bull:daemons"), 20, "the daemon to report")
        before, after = await _under_load(redis_url, proc, lambda: change(proc), seconds=8.0)
        ids = before + after
        await wait_until(lambda: all_completed(r, ids), 30, "every job to complete")
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(30) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
    log = proc.stderr.read() if proc.stderr else ""
    runs = r.hgetall("test:runs")
    assert sorted(int(runs[i.encode()]) for i in ids) == [1] * len(ids), "a job ran twice or never"
    assert set(returned(r, after)) == {"v2"}, "jobs added after the old workers exited ran the old code"
    return before, after, log


async def test_reload_rolls_the_workers_when_a_processor_changes(folder: Path, redis_url: str) -> None:
    r = redis.Redis.from_url(redis_url)
    before, _, log = await _roll_under_load(folder, redis_url, r, lambda _: write_processor(folder, "v2"),
                                            "--reload")
    assert "v1" in returned(r, before)
    assert "reload requested (reloadproc.py changed)" in log and "rolling 2 worker(s)" in log


async def test_sighup_rolls_the_workers_and_no_job_is_lost(folder: Path, redis_url: str) -> None:
    r = redis.Redis.from_url(redis_url)

    def deploy(proc: subprocess.Popen[str]) -> None:
        write_processor(folder, "v2")  # a deploy: new code on disk, then the daemon is told
        proc.send_signal(signal.SIGHUP)

    _, _, log = await _roll_under_load(folder, redis_url, r, deploy)
    assert "reload requested (SIGHUP)" in log


async def test_a_reload_whose_code_does_not_import_keeps_the_workers(folder: Path, redis_url: str) -> None:
    r = redis.Redis.from_url(redis_url)
    proc = start(folder, redis_url)
    try:
        await wait_until(lambda: r.exists("corral:bull:daemons"), 20, "the daemon to report")
        (folder / "reloadproc.py").write_text("this is not python\n")
        proc.send_signal(signal.SIGHUP)
        await asyncio.sleep(3)
        ids = await add_jobs(redis_url, Q, [("j", {}, {}) for _ in range(5)])
        await wait_until(lambda: all_completed(r, ids), 15, "the old workers to keep serving")
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(30) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
    log = proc.stderr.read() if proc.stderr else ""
    assert "reload (SIGHUP) refused, the workers keep running" in log, log[-3000:]
    assert "cannot import module 'reloadproc'" in log
    assert set(returned(r, ids)) == {"v1"}

"""Random corruption of every field of real job hashes, driven through a running daemon (`corral run`, as users run
it): each job must end completed or failed, within bounded time, and the daemon's worker must stay up."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import redis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

ROOT = Path(__file__).resolve().parent.parent
Q = "fuzz"
BOUND_SECONDS = 15  # lock 1 s, stalled check every 1 s: even a job left active by a script error ends well within it

HASH_FIELDS = ["name", "data", "opts", "timestamp", "delay", "priority", "atm", "ats", "stc", "parent", "parentKey",
               "rjk", "defa", "deid", "progress", "stacktrace", "returnvalue", "failedReason", "processedOn", "pb"]
OPTS_KEYS = ["attempts", "backoff", "removeOnComplete", "removeOnFail", "lifo", "stackTraceLimit", "keepLogs",
             "priority", "delay", "jobId", "repeat", "fpof", "idof", "rdof", "cpof", "kl", "timestamp"]

json_values = st.recursive(
    st.none() | st.booleans() | st.integers(min_value=-10**20, max_value=10**20) | st.floats(allow_nan=False)
    | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=10)
raw_values = st.one_of(
    st.text(max_size=40), st.integers().map(str), st.binary(max_size=20),
    st.sampled_from(["", "NaN", "Infinity", "-1", "1e999", "{", "[]", "null", "true", '{"a":', "\x00", "💥",
                     "[" * 5000 + "]" * 5000]),
    json_values.map(json.dumps))
# (field, value): a raw hash field, an option inside `opts` ("opts.<key>"), or the whole hash deleted.
corruption = st.one_of(
    st.tuples(st.sampled_from(HASH_FIELDS), raw_values),
    st.tuples(st.sampled_from(OPTS_KEYS).map(lambda k: f"opts.{k}"), json_values),
    st.just(("__delete__", "")),
)
job_spec = st.tuples(st.booleans(), st.lists(corruption, max_size=3))  # (fails?, corruptions)


@pytest.fixture(scope="module")
def daemon(redis_server: Any, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    url = redis_server.url.rsplit("/", 1)[0] + "/7"  # its own database: other tests flush theirs
    log_path = tmp_path_factory.mktemp("fuzz") / "daemon.log"
    log_file = log_path.open("w")  # a file, not a pipe: a full pipe would block the daemon
    redis.Redis.from_url(url).flushdb()
    env = {**os.environ, "CORRAL_LOCK_DURATION_MS": "1000", "CORRAL_STALLED_INTERVAL_MS": "1000",
           "CORRAL_MAX_STALLED_COUNT": "1", "CORRAL_LOG_LEVEL": "WARNING", "CORRAL_CONFIG": ""}
    proc = subprocess.Popen([sys.executable, "-m", "pool.cli", "run", "--redis-url", url, "--no-http",
                             "--queue", f"{Q}=tests.procs:fuzz@4", "--min-workers", "1", "--max-workers", "1"],
                            cwd=ROOT, env=env, stderr=log_file, text=True)
    r = redis.Redis.from_url(url)
    deadline = time.monotonic() + 20
    while not _last_snapshot(r) and time.monotonic() < deadline and proc.poll() is None:
        time.sleep(0.1)
    if not _last_snapshot(r):
        proc.kill()
        proc.wait()
        log_file.close()
        pytest.fail(f"the daemon did not start: {log_path.read_text()[-3000:]}")
    yield url
    proc.terminate()
    proc.wait(timeout=30)
    log_file.close()
    err = log_path.read_text()
    assert proc.returncode == 0, err[-3000:]
    # The daemon never lost its worker to a corrupt job: no restarts in its last report.
    snap = _last_snapshot(r)
    assert snap and snap["restarts"]["total"] == 0, (snap.get("restarts"), err[-3000:])


def _last_snapshot(r: redis.Redis) -> dict[str, Any]:
    [daemon_id] = r.zrevrange("corral:bull:daemons", 0, 0) or [b""]
    raw = r.get(b"corral:bull:daemon:" + daemon_id)
    return json.loads(raw) if raw else {}


async def _add(url: str, n: int, fails: list[bool]) -> list[str]:
    from bullmq import Queue

    q = Queue(Q, {"connection": url})
    try:
        await q.pause()
        return [(await q.add("job", {"fail": f}, {"attempts": 2, "backoff": {"type": "fixed", "delay": 10}})).id
                for f in fails[:n]]
    finally:
        await q.close()


def _corrupt(r: redis.Redis, job_id: str, corruptions: list[tuple[str, Any]]) -> None:
    key = f"bull:{Q}:{job_id}"
    for field, value in corruptions:
        if field == "__delete__":
            r.delete(key)
        elif field.startswith("opts."):
            try:
                opts = json.loads(r.hget(key, "opts") or "{}")
            except ValueError:
                opts = None
            if isinstance(opts, dict):
                opts[field[5:]] = value
                r.hset(key, "opts", json.dumps(opts))
        else:
            r.hset(key, field, value)


def _ended(r: redis.Redis, ids: list[str]) -> set[str]:
    """Ids with a terminal event (a job may be removed on completion by a corrupt removeOnComplete: not lost)."""
    done = {f[b"jobId"].decode() for _, f in r.xrange(f"bull:{Q}:events")
            if f.get(b"event") in (b"completed", b"failed") and b"jobId" in f}
    return done & set(ids)


@pytest.mark.timeout(900)
# Not a CORRAL_ variable: the daemon refuses any CORRAL_* it does not know (it once did, and every job stayed waiting).
@settings(max_examples=int(os.environ.get("TEST_FUZZ_EXAMPLES", "30")), deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(st.lists(job_spec, min_size=1, max_size=4))
def test_corrupt_jobs_always_end(daemon: str, specs: list[tuple[bool, list[tuple[str, Any]]]]) -> None:
    r = redis.Redis.from_url(daemon)
    ids = asyncio.run(_add(daemon, len(specs), [fails for fails, _ in specs]))
    for job_id, (_, corruptions) in zip(ids, specs, strict=True):
        _corrupt(r, job_id, corruptions)
    r.hdel(f"bull:{Q}:meta", "paused")
    r.zadd(f"bull:{Q}:marker", {"0": 0})
    deadline = time.monotonic() + BOUND_SECONDS
    while _ended(r, ids) != set(ids) and time.monotonic() < deadline:
        time.sleep(0.05)
    missing = set(ids) - _ended(r, ids)
    where = {i: [k.decode() for k in (b"wait", b"active", b"delayed", b"prioritized")
                 if (r.lpos(f"bull:{Q}:{k.decode()}", i) if k in (b"wait", b"active")
                     else r.zscore(f"bull:{Q}:{k.decode()}", i)) is not None] for i in missing}
    assert not missing, f"jobs not ended within {BOUND_SECONDS}s: {where}; corruptions {specs}"

"""The Node interop kit on its own, Node BullMQ on both ends and no corral code: if these fail, an interop
test failing says nothing about corral."""

from __future__ import annotations

import subprocess
from collections import Counter
from collections.abc import Iterator

import pytest
import redis

from tests.nodejs import NODE_DIR, NodeEvents, produce, run_node
from tests.redis_server import RedisServer

Q = "kit"
pytestmark = pytest.mark.usefixtures("node_modules")

# A Node worker whose jobs fail as their data says: `fail` throws on every attempt, `failTimes` on the first
# n attempts, `unrecoverable` throws UnrecoverableError. Inline because worker.mjs is a no-op on purpose.
FAILING_WORKER = """
import { Worker, UnrecoverableError } from 'bullmq';
import IORedis from 'ioredis';
const [url, queue] = process.argv.slice(1);
const connection = new IORedis(url, { maxRetriesPerRequest: null });
const worker = new Worker(queue, async (job) => {
  if (job.data.unrecoverable) throw new UnrecoverableError('no point retrying');
  if (job.data.fail || job.attemptsMade < (job.data.failTimes ?? 0)) throw new Error(`attempt ${job.attemptsMade}`);
  return { ok: job.attemptsMade + 1 };
}, { connection });
await worker.waitUntilReady();
console.log('READY');
process.on('SIGTERM', async () => { await worker.close(); await connection.quit(); process.exit(0); });
"""


@pytest.fixture
def failing_worker(redis_url: str) -> Iterator[None]:
    # --input-type=module -e resolves 'bullmq' from the working directory, i.e. tests/node/node_modules.
    proc = subprocess.Popen(["node", "--input-type=module", "-e", FAILING_WORKER, redis_url, Q], cwd=NODE_DIR,
                            stdout=subprocess.PIPE, text=True)
    assert proc.stdout is not None and proc.stdout.readline().strip() == "READY"
    yield
    proc.terminate()
    proc.wait(15)
    proc.stdout.close()


def test_node_producer_worker_listener_inspector(redis_url: str) -> None:
    jobs = [{"name": "noop", "data": {"i": i}, "opts": {"attempts": 2} if i == 2 else {}} for i in range(3)]
    with NodeEvents(redis_url, Q, terminal_count=3, timeout_ms=30_000) as listener:
        ids = produce(redis_url, Q, jobs)
        ran = run_node("worker.mjs", redis_url, Q, "2", "3")
        seen = listener.result()
    assert ran["processed"] == 3 and ran["seconds"] >= 0
    assert not seen["timedOut"], seen
    completed = [e for e in seen["events"] if e["event"] == "completed"]
    assert sorted(e["jobId"] for e in completed) == sorted(ids) and all(e["returnvalue"] is None for e in completed)
    assert {e["jobId"] for e in seen["events"] if e["event"] == "added"} == set(ids)  # READY came before adding

    report = run_node("inspect.mjs", redis_url, Q, *ids, "no-such-job")
    assert report["jobs"]["no-such-job"] is None
    for i, job_id in enumerate(ids):
        job = report["jobs"][job_id]
        assert job["state"] == "completed" and job["returnvalue"] is None and job["attemptsMade"] == 1
        assert job["name"] == "noop" and job["data"] == {"i": i} and job["finishedOn"] >= job["processedOn"]
    assert report["jobs"][ids[2]]["opts"]["attempts"] == 2
    assert report["counts"]["completed"] == 3 and report["counts"]["waiting"] == 0


def test_terminal_events_count_each_finished_job_once(redis_url: str, failing_worker: None) -> None:
    """events.mjs stops after N finished jobs, whatever their attempts: retried attempts do not count."""
    jobs = [
        {"name": "a", "data": {"fail": True}, "opts": {"attempts": 1}},
        {"name": "b", "data": {"fail": True}, "opts": {"attempts": 2}},  # retried through 'waiting'
        {"name": "c", "data": {"fail": True}, "opts": {"attempts": 3, "backoff": {"type": "fixed", "delay": 50}}},
        {"name": "d", "data": {"unrecoverable": True}, "opts": {"attempts": 3}},  # no retries-exhausted
        {"name": "e", "data": {"failTimes": 1}, "opts": {"attempts": 2}},
    ]
    with NodeEvents(redis_url, Q, terminal_count=len(jobs), timeout_ms=30_000) as listener:
        ids = produce(redis_url, Q, jobs)
        seen = listener.result()
    assert not seen["timedOut"], seen
    a, b, c, d, e = ids
    final = {ev["jobId"]: ev["event"] for ev in seen["events"] if ev["event"] in ("completed", "failed")}
    assert final == {a: "failed", b: "failed", c: "failed", d: "failed", e: "completed"}
    exhausted = Counter(ev["jobId"] for ev in seen["events"] if ev["event"] == "retries-exhausted")
    assert exhausted == {a: 1, b: 1, c: 1}
    assert any(ev["event"] == "delayed" and ev["jobId"] == c for ev in seen["events"])

    report = run_node("inspect.mjs", redis_url, Q, *ids)
    assert [report["jobs"][i]["attemptsMade"] for i in ids] == [1, 2, 3, 1, 2]
    assert report["jobs"][c]["failedReason"] == "attempt 2" and len(report["jobs"][c]["stacktrace"]) == 3
    assert report["jobs"][e]["returnvalue"] == {"ok": 2}
    assert report["counts"]["failed"] == 4 and report["counts"]["completed"] == 1

    seen_workers = run_node("workers.mjs", redis_url, Q)
    assert len(seen_workers["workers"]) == 1 and "meta" in seen_workers["metricsFailed"]


def test_redis_server_restarts_on_its_port(redis_server: RedisServer, redis_url: str) -> None:
    client = redis.Redis.from_url(redis_url, socket_connect_timeout=0.5)
    assert client.ping()
    redis_server.stop()
    with pytest.raises(redis.ConnectionError):
        client.ping()
    redis_server.start()
    assert redis_server.url == redis_url and client.ping()
    assert client.dbsize() == 0  # no persistence: a restart starts empty
    client.close()

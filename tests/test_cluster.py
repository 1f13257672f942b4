"""corral's Redis layer on a real Redis Cluster of three masters (tests/redis_cluster.py): the workers' script
connection routed by slot, MOVED and ASK followed while a slot migrates, BZPOPMIN on a node, a lost node connection,
pub/sub, fleet snapshots across slots, clear errors; and Node BullMQ 6 producing on an ioredis Cluster while
corral's real consumers take every job once."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import os
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis
import redis.exceptions

from pool.metrics import publish, read_snapshots
from tests.nodejs import run_node
from tests.queue_consumers import consume
from tests.redis_cluster import ClusterServers
from tests.redis_server import RedisServer
from workers.multiplex import ClusterMultiplexedConnection, script_connection
from workers.redis_clients import async_client, blocking_client, pubsub_client, server_version, sync_client
from workers.redis_url import queue_slot

ROOT = Path(__file__).resolve().parent.parent
SET = "return redis.call('SET', KEYS[1], ARGV[1])"
GET_BOTH = "return {redis.call('GET', KEYS[1]), redis.call('GET', KEYS[2])}"


@pytest.fixture(scope="module")
def cluster() -> Iterator[ClusterServers]:
    servers = ClusterServers()
    servers.start()
    yield servers
    servers.close()


@pytest.fixture
def rc(cluster: ClusterServers) -> ClusterServers:
    cluster.flushall()
    return cluster


def slot_of(c: ClusterServers, key: str) -> int:
    return int(c.client(c.nodes[0].port).execute_command("CLUSTER KEYSLOT", key))


def keys_on_each_node(c: ClusterServers, per_node: int = 3) -> dict[int, list[str]]:
    """Keys such that each master serves `per_node` of them."""
    out: dict[int, list[str]] = {n.port: [] for n in c.nodes}
    i = 0
    while any(len(v) < per_node for v in out.values()):
        key = f"key-{i}"
        owner = out[c.owner(slot_of(c, key))]
        if len(owner) < per_node:
            owner.append(key)
        i += 1
    return out


def errorstat(c: ClusterServers, port: int, code: str) -> int:
    """How many `code` errors (MOVED, ASK, TRYAGAIN) the node has answered."""
    stat = c.client(port).info("errorstats").get(f"errorstat_{code}", {})
    return int(stat.get("count", 0))


async def test_script_calls_go_to_the_node_serving_their_keys_slot(rc: ClusterServers) -> None:
    by_node = keys_on_each_node(rc)
    conn = script_connection(rc.url)
    assert isinstance(conn, ClusterMultiplexedConnection)
    await conn.call("PING")
    keys = [k for ks in by_node.values() for k in ks]
    assert await asyncio.gather(*(conn.call("EVAL", SET, 1, k, f"v-{k}") for k in keys)) == ["OK"] * len(keys)
    for port, mine in by_node.items():
        node = rc.client(port)
        assert sorted(k.decode() for k in node.keys("*")) == sorted(mine)  # each node holds its own, only those
        assert [node.get(k) for k in mine] == [f"v-{k}".encode() for k in mine]
    # Plain commands too, routed by the key Redis's command table names (here the first argument).
    assert await conn.call("GET", keys[0]) == f"v-{keys[0]}"
    await conn.aclose()


def test_the_slot_of_a_queue_is_the_one_redis_computes(rc: ClusterServers) -> None:
    for prefix, queue in [("{bq}", "emails"), ("bull", "{emails}"), ("a{b}c", "q"), ("bq{", "x}")]:
        slot = queue_slot(prefix, queue)
        assert slot is not None
        for suffix in ("wait", "active", "1", "42:lock", "events"):
            assert slot_of(rc, f"{prefix}:{queue}:{suffix}") == slot


async def test_a_moved_slot_is_followed(rc: ClusterServers) -> None:
    key = "moving-key"
    slot = slot_of(rc, key)
    conn = script_connection(rc.url)
    assert await conn.run_script(*_script(SET), [key], ["before"]) == "OK"  # the slot map is now known
    src = rc.owner(slot)
    dst = next(n.port for n in rc.nodes if n.port != src)
    moved_before = errorstat(rc, src, "MOVED")
    rc.migrate_slot(slot, dst)
    # The connection still thinks `src` serves the slot: it gets MOVED, corrects its map, and sends it to `dst`,
    # where the script is not cached yet (NOSCRIPT, then EVAL).
    assert await conn.run_script(*_script(SET), [key], ["after"]) == "OK"
    assert errorstat(rc, src, "MOVED") == moved_before + 1
    assert rc.client(dst).get(key) == b"after"
    assert rc.client(src).execute_command("CLUSTER COUNTKEYSINSLOT", slot) == 0
    assert await conn.call("EVAL", SET, 1, key, "again") == "OK"  # straight to `dst` now
    assert errorstat(rc, src, "MOVED") == moved_before + 1
    rc.migrate_slot(slot, src)  # leave the cluster as the module found it
    await conn.aclose()


async def test_ask_and_tryagain_while_a_slot_migrates(rc: ClusterServers) -> None:
    moved, staying = "{mig}moved", "{mig}staying"
    slot = slot_of(rc, moved)
    conn = script_connection(rc.url)
    assert await asyncio.gather(conn.call("SET", moved, "m"), conn.call("SET", staying, "s")) == ["OK", "OK"]
    src = rc.owner(slot)
    dst = next(n.port for n in rc.nodes if n.port != src)
    rc.begin_migration(slot, dst)
    rc.move_keys(src, dst, [moved])
    asks = errorstat(rc, src, "ASK")
    # The source no longer has `moved`: ASK; the call goes to `dst` behind ASKING. `staying` is still served there.
    assert await conn.call("EVAL", "return redis.call('GET', KEYS[1])", 1, moved) == "m"
    assert await conn.call("GET", staying) == "s"
    assert errorstat(rc, src, "ASK") == asks + 1
    # A script on both keys, half migrated: TRYAGAIN until the migration ends, then MOVED to `dst`.
    finisher = threading.Timer(0.3, rc.end_migration, (slot, src, dst))
    finisher.start()
    try:
        assert await conn.call("EVAL", GET_BOTH, 2, moved, staying) == ["m", "s"]
    finally:
        finisher.join()
    assert errorstat(rc, src, "TRYAGAIN") >= 1
    rc.migrate_slot(slot, src)
    await conn.aclose()


async def test_bzpopmin_waits_on_the_node_of_its_key(rc: ClusterServers) -> None:
    marker = "{bq}:emails:marker"
    client = blocking_client(rc.url, decode_responses=True, client_name="corral-test-blocking")
    pop = asyncio.create_task(client.bzpopmin(marker, timeout=10))
    await asyncio.sleep(0.3)
    assert not pop.done()
    owner = rc.client(rc.owner(slot_of(rc, marker)))
    names = [c["name"] for c in owner.client_list()]
    assert "corral-test-blocking" in names  # named on the node it blocks on (Node's getWorkers reads the names)
    owner.zadd(marker, {"0": 0})
    assert await asyncio.wait_for(pop, 5) == (marker, "0", 0.0)
    await client.aclose()


async def test_a_lost_node_connection_fails_its_calls_and_the_next_call_reconnects(rc: ClusterServers) -> None:
    key = "{lost}k"
    conn = script_connection(rc.url)
    await conn.call("SET", key, "1")
    node = rc.client(rc.owner(slot_of(rc, key)))
    blocked = conn.call("BLPOP", key + ":list", 10)
    await asyncio.sleep(0.2)
    [victim] = [c for c in node.client_list() if c["cmd"] == "blpop"]
    node.client_kill_filter(_id=victim["id"])
    with pytest.raises(redis.exceptions.ConnectionError):
        await blocked
    assert await conn.call("GET", key) == "1"
    await conn.aclose()


async def test_pubsub_on_the_node_of_the_channel(rc: ClusterServers) -> None:
    channel = "{bq}:corral:cancel"
    listener = await pubsub_client(rc.url, channel, decode_responses=True)
    publisher = await pubsub_client(rc.url, channel, decode_responses=True)
    async with listener.pubsub() as ps:
        await ps.subscribe(channel)
        assert await publisher.publish(channel, "hello") == 1  # counted: both on the channel's node
        got = None
        for _ in range(50):
            msg = await ps.get_message(ignore_subscribe_messages=True, timeout=0.1)
            if msg:
                got = msg["data"]
                break
        assert got == "hello"
    await listener.aclose()
    await publisher.aclose()


async def test_fleet_snapshots_are_read_across_slots(rc: ClusterServers) -> None:
    """With a prefix without a hash tag (queues tagged instead), the daemons' snapshot keys spread over slots."""
    client = async_client(rc.url, decode_responses=True)
    now = time.time()
    ids = [f"daemon-{i}" for i in range(6)]
    for i in ids:
        await publish(client, "bull", {"daemonId": i, "at": now})
    assert len({slot_of(rc, f"bull:corral:daemon:{i}") for i in ids}) > 1
    assert sorted(s["daemonId"] for s in await read_snapshots(client, "bull")) == ids
    await client.aclose()


async def test_the_lock_keepers_client_runs_scripts_on_a_cluster(rc: ClusterServers) -> None:
    client = sync_client(rc.url)
    script = client.register_script(SET)
    assert script(keys=["{bq}:sync"], args=["x"]) == b"OK"
    assert rc.client(rc.owner(slot_of(rc, "{bq}:sync"))).get("{bq}:sync") == b"x"
    client.close()


async def test_a_cluster_says_what_is_wrong(rc: ClusterServers) -> None:
    assert await server_version(rc.url) == "7.0.15"
    with pytest.raises(redis.exceptions.ConnectionError, match="no seed node of the Redis Cluster answered"):
        await server_version("redis+cluster://127.0.0.1:1,127.0.0.1:2", connect_timeout=1)
    plain = RedisServer()
    plain.start()
    try:
        with pytest.raises(redis.exceptions.ConnectionError, match="not in cluster mode"):
            await server_version(f"redis+cluster://127.0.0.1:{plain.port}")
        conn = script_connection(f"redis+cluster://127.0.0.1:{plain.port}")
        with pytest.raises(redis.exceptions.ConnectionError, match="not in cluster mode"):
            await conn.call("PING")
        await conn.aclose()
    finally:
        plain.close()


def corral(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "pool.cli", *args], cwd=ROOT, capture_output=True, text=True,
                          timeout=60, env={**os.environ, **(env or {})})


def test_corral_run_refuses_a_prefix_without_a_hash_tag(rc: ClusterServers) -> None:
    res = corral("run", "--redis-url", rc.url, "--queue", "emails=workers.processors.builtin:noop",
                 env={"CORRAL_REDIS_PREFIX": "bull"})
    assert res.returncode == 2
    [line] = res.stderr.strip().splitlines()
    assert "every key of a queue must hash to one slot" in line and "CORRAL_REDIS_PREFIX='{bull}'" in line
    bad = corral("status", "--redis-url", "redis+cluster://127.0.0.1:1")
    assert bad.returncode == 1 and "no seed node of the Redis Cluster answered (127.0.0.1:1)" in bad.stderr


@pytest.mark.parametrize(("prefix", "queues"), [
    ("{bq}", ["emails", "builds", "reports"]),  # a tagged prefix: the three queues in one slot
    ("bull", ["{emails}", "{builds}", "{invoices}"]),  # tagged names, one per master (redis-cli gives thirds)
])
async def test_node_bullmq_produces_on_a_cluster_and_corral_takes_every_job_once(
        rc: ClusterServers, node_modules: None, prefix: str, queues: list[str]) -> None:
    per_queue = 200
    seeds = ",".join(f"127.0.0.1:{n.port}" for n in rc.nodes)
    ids = run_node("produce_cluster.mjs", seeds, prefix, str(per_queue), *queues)["ids"]
    assert {q: len(v) for q, v in ids.items()} == dict.fromkeys(queues, per_queue)
    owners = {rc.owner(queue_slot(prefix, q) or 0) for q in queues}
    assert len(owners) == (1 if prefix == "{bq}" else 3)
    client = async_client(rc.url, decode_responses=True)

    async def all_completed() -> bool:
        counts = [await client.zcard(f"{prefix}:{q}:completed") for q in queues]
        return sum(counts) == per_queue * len(queues)

    await consume(rc.url, prefix, queues, all_completed)
    for q in queues:
        k = f"{prefix}:{q}"
        assert sorted(await client.zrange(f"{k}:completed", 0, -1), key=int) == ids[q]
        assert [await client.llen(f"{k}:{s}") for s in ("wait", "active")] == [0, 0]
        assert await client.zcard(f"{k}:prioritized") == 0
        pipe = client.pipeline(transaction=False)
        for job_id in ids[q]:
            pipe.hmget(f"{k}:{job_id}", ["ats", "atm", "finishedOn", "pb"])
        for ats, atm, finished, pb in await pipe.execute():
            assert (ats, atm, pb) == ("1", "1", "corral-test-w1") and finished  # started once, finished once
        completed = Counter(e["jobId"] for _, e in await client.xrange(f"{k}:events") if e["event"] == "completed")
        assert set(completed.values()) == {1} and len(completed) == per_queue
    await client.aclose()


def _script(source: str) -> tuple[str, str]:
    return hashlib.sha1(source.encode()).hexdigest(), source


async def test_a_cluster_with_a_password() -> None:
    servers = ClusterServers(password="s3cret")
    servers.start()
    try:
        conn = script_connection(servers.url)
        by_node = keys_on_each_node(servers, per_node=1)
        keys = [k for ks in by_node.values() for k in ks]
        assert await asyncio.gather(*(conn.call("EVAL", SET, 1, k, "v") for k in keys)) == ["OK"] * 3
        await conn.aclose()
        client = async_client(servers.url, decode_responses=True)
        assert [await client.get(k) for k in keys] == ["v"] * 3
        await client.aclose()
        wrong = script_connection(servers.url.replace(":s3cret@", ":wrong@"))
        with pytest.raises(redis.exceptions.AuthenticationError, match="refused the URL's credentials"):
            await wrong.call("EVAL", SET, 1, keys[0], "x")
        await wrong.aclose()
    finally:
        servers.close()


def _start_daemon(url: str, queues: list[str], env: dict[str, str]) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "pool.cli", "run", "--redis-url", url, "--no-http", "--min-workers", "1",
         "--max-workers", "2", *(a for q in queues for a in ("--queue", f"{q}=workers.processors.builtin:sleep@20"))],
        cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)


async def test_the_daemon_serves_queues_spread_over_the_cluster(rc: ClusterServers, node_modules: None) -> None:
    """`corral run` on a cluster URL with one queue per master: Node's jobs all done once, `corral status` reads the
    daemon, and `corral cancel` reaches a running job through the cancel channel's node."""
    queues = ["{emails}", "{builds}", "{invoices}"]
    env = {**os.environ, "CORRAL_REDIS_PREFIX": "bull", "CORRAL_LOG_LEVEL": "WARNING"}
    daemon = _start_daemon(rc.url, queues, env)
    client = async_client(rc.url, decode_responses=True)
    try:
        seeds = ",".join(f"127.0.0.1:{n.port}" for n in rc.nodes)
        ids = run_node("produce_cluster.mjs", seeds, "bull", "100", *queues)["ids"]

        async def done() -> bool:
            return sum([await client.zcard(f"bull:{q}:completed") for q in queues]) == 300

        for _ in range(600):
            if await done():
                break
            assert daemon.poll() is None, daemon.communicate()[1][-3000:]
            await asyncio.sleep(0.1)
        for q in queues:
            assert sorted(await client.zrange(f"bull:{q}:completed", 0, -1), key=int) == sorted(ids[q], key=int)
        # Node's getWorkers() asks every node's CLIENT LIST and keeps the node with the most: corral's workers
        # name their blocking connection on the node that holds the queue.
        seen = run_node("workers_cluster.mjs", seeds, "bull", *queues)["workers"]
        for q in queues:
            assert seen[q] and all(n.startswith(f"bull:{base64.b64encode(q.encode()).decode()}:w:")
                                   for n in seen[q]), seen

        from bullmq import Queue
        queue = Queue("{emails}", {"connection": client, "prefix": "bull"})
        job = await queue.add("long", {"seconds": 60})
        for _ in range(100):
            if await client.hget(f"bull:{{emails}}:{job.id}", "processedOn"):
                break
            await asyncio.sleep(0.1)
        res = await asyncio.to_thread(corral, "cancel", "--redis-url", rc.url, "{emails}", str(job.id), env=env)
        assert res.returncode == 0 and '"daemonsListening": 1' in res.stdout, res.stdout + res.stderr
        for _ in range(100):
            if await client.zscore("bull:{emails}:failed", str(job.id)) is not None:
                break
            await asyncio.sleep(0.1)
        assert "cancelled" in (await client.hget(f"bull:{{emails}}:{job.id}", "failedReason") or "")

        for _ in range(30):  # a snapshot that has probed the queues (published every few seconds)
            status = await asyncio.to_thread(corral, "status", "--redis-url", rc.url, env=env)
            assert status.returncode == 0, status.stderr
            if "queue {invoices}: " in status.stdout and "completed 100" in status.stdout:
                break
            await asyncio.sleep(0.5)
        assert "queue {invoices}: " in status.stdout and "completed 100" in status.stdout, status.stdout
    finally:
        daemon.terminate()
        code = daemon.wait(60)
        await client.aclose()
    assert code == 0, daemon.stderr.read() if daemon.stderr else ""

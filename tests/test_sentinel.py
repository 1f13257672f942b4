"""corral's Redis layer on a real master, replica and sentinel (tests/redis_cluster.py): SENTINEL FAILOVER while
calls are in flight (they reach the new master, none acknowledged is lost, nothing hangs), corral's real consumers
and then the whole pool (supervisor and worker processes) riding out a failover on 2,000 jobs (each runs once),
redis-py's clients following, and a demoted master's answers turned into reconnections."""

from __future__ import annotations

import asyncio
import socket
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis
import redis.exceptions
from bullmq import Queue

from tests.pool_harness import RunningPool, make_config
from tests.queue_consumers import consume
from tests.redis_cluster import SentinelSet
from workers import failover
from workers.multiplex import MultiplexedConnection, script_connection
from workers.redis_clients import async_client, blocking_client, server_version, sync_client

INCR = "return redis.call('INCR', KEYS[1])"


@pytest.fixture
def sentinel_set() -> Iterator[SentinelSet]:
    """A fresh set per test: a failover changes which server is the master."""
    s = SentinelSet()
    s.start()
    yield s
    s.close()


def test_the_test_sentinel_moves_off_a_port_taken_since_it_was_picked() -> None:
    """free_port() only said the port was free; a sentinel that cannot bind it exits, and the set starts it on
    another (a CI run had waited 20 s for a sentinel that had never started)."""
    s = SentinelSet()
    taken = s.sentinel_port
    with socket.socket() as blocker:
        blocker.bind(("127.0.0.1", taken))
        blocker.listen()
        try:
            s.start()
            assert s.sentinel_port != taken and s.master_port() == s.master.port
        finally:
            s.close()


def port_of(info: str) -> int:
    return int(info.split("tcp_port:")[1].split()[0])


async def test_calls_in_flight_during_a_failover_reach_the_new_master_and_none_is_lost(
        sentinel_set: SentinelSet) -> None:
    conn = script_connection(sentinel_set.url)
    await conn.call("PING")
    acknowledged = failed = after = 0
    switched = asyncio.Event()
    stop = False

    async def slot() -> None:
        nonlocal acknowledged, failed, after
        while not stop:
            try:
                await conn.call("EVAL", INCR, 1, "counter")
                acknowledged += 1
                after += switched.is_set()
            except redis.exceptions.ConnectionError:
                failed += 1
                await asyncio.sleep(0.05)

    async with asyncio.timeout(60):  # nothing hangs
        slots = [asyncio.create_task(slot()) for _ in range(20)]
        await asyncio.sleep(0.5)
        _, new = await asyncio.to_thread(sentinel_set.failover)
        switched.set()
        await asyncio.sleep(0.5)
        stop = True
        await asyncio.gather(*slots)
        assert port_of(await conn.call("INFO", "server")) == new
    assert after > 0
    final = int(sentinel_set.data_client(new).get("counter") or 0)
    # Every increment Redis acknowledged is on the new master; a call that failed may or may not have landed.
    assert acknowledged <= final <= acknowledged + failed, (acknowledged, failed, final)
    await conn.aclose()


async def test_calls_made_during_a_failover_wait_for_its_end(sentinel_set: SentinelSet,
                                                             monkeypatch: pytest.MonkeyPatch) -> None:
    """Driven by the announcements themselves (what the sentinel subscription hands to `apply`): calls made after
    +try-failover reach Redis only after +switch-master, or after MAX_PAUSE_SECONDS if it never comes."""
    monkeypatch.setattr(failover, "MAX_PAUSE_SECONDS", 0.5)
    conn = MultiplexedConnection(sentinel_set.url)
    master = sentinel_set.data_client(sentinel_set.master.port)
    assert await conn.call("INCR", "n") == 1
    watch = conn._watch
    assert watch is not None
    where = f"127.0.0.1 {sentinel_set.master.port}"
    watch.apply("+try-failover", f"master mymaster {where}")
    held = [conn.call("INCR", "n") for _ in range(5)]
    await asyncio.sleep(0.2)
    assert not any(f.done() for f in held) and master.get("n") == "1"  # held, not sent
    watch.apply("+switch-master", f"mymaster {where} {where}")  # (same address: the test has one master)
    assert sorted(await asyncio.gather(*held)) == [2, 3, 4, 5, 6]
    watch.apply("+try-failover", f"master mymaster {where}")
    late = conn.call("INCR", "n")
    await asyncio.sleep(0.2)
    assert not late.done()
    assert await late == 7  # no +switch-master: sent once the pause's bound passed
    await conn.aclose()


async def test_the_announcement_subscription_outlives_an_idle_spell(sentinel_set: SentinelSet) -> None:
    """The subscription has no read timeout (the sentinels' lookups have 5 s): an idle minute is not a lost
    connection, so no announcement falls into a reconnection's gap."""
    conn = script_connection(sentinel_set.url)
    await conn.call("PING")

    def subscribers() -> list[str]:
        return [c["id"] for c in sentinel_set.sentinel().client_list() if c.get("cmd") == "psubscribe"]

    first = subscribers()
    await asyncio.sleep(6)
    assert len(first) == 1 and subscribers() == first
    await conn.aclose()
    assert subscribers() == []  # the last client of the watch let go of it


async def test_consumers_ride_out_a_failover_and_run_each_job_once(sentinel_set: SentinelSet) -> None:
    url, n = sentinel_set.url, 2000
    client = async_client(url, decode_responses=True)
    queue = Queue("failover", {"connection": client, "prefix": "bull"})
    for start in range(0, n, 500):
        await queue.addBulk([{"name": "noop", "data": {"i": i}, "opts": {}} for i in range(start, start + 500)])
    failed_over: list[tuple[int, int]] = []

    async def completed() -> int:
        return int(await client.zcard("bull:failover:completed"))

    async def fail_over_midway() -> None:
        while await completed() < 300:  # noqa: ASYNC110 - polling Redis, not waiting on an event of ours
            await asyncio.sleep(0.01)
        failed_over.append(await asyncio.to_thread(sentinel_set.failover))

    async def all_done() -> bool:
        return await completed() == n

    try:
        await consume(url, "bull", ["failover"], all_done, concurrency=20, timeout=120, during=fail_over_midway)
    except TimeoutError as e:  # say where the data was (an empty promoted replica: see SentinelSet.failover)
        raise AssertionError(f"{e}; before the failover: {sentinel_set.before_failover}; "
                             f"now: {sentinel_set.describe()}") from e
    [(_, new)] = failed_over
    new_master = sentinel_set.data_client(new)
    assert new_master.zcard("bull:failover:completed") == n
    assert new_master.llen("bull:failover:wait") == 0 and new_master.llen("bull:failover:active") == 0
    pipe = new_master.pipeline(transaction=False)
    for i in range(1, n + 1):
        pipe.hmget(f"bull:failover:{i}", ["ats", "atm"])
    assert Counter(tuple(x) for x in pipe.execute()) == {("1", "1"): n}  # each job started once, finished once
    events = Counter(e["jobId"] for _, e in new_master.xrange("bull:failover:events") if e["event"] == "completed")
    assert len(events) == n and set(events.values()) == {1}
    await queue.close()
    await client.aclose()


async def test_the_pool_rides_out_a_failover_and_runs_each_job_once(
        sentinel_set: SentinelSet, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """The issue's case: SENTINEL FAILOVER while 2,000 jobs run on two worker processes; every job completes, and
    each ran once (its processor counts its runs, BullMQ counts its starts). Without the failover follower, about
    1,460 of the completions went to the demoted master and were lost with it."""
    url, n = sentinel_set.url, 2000
    runs = tmp_path / "runs"
    monkeypatch.setenv("TEST_RUNS_FILE", str(runs))  # tests.procs:tracked writes a line per run there
    client = async_client(url, decode_responses=True)
    queue = Queue("pool", {"connection": client, "prefix": "bull"})
    for start in range(0, n, 500):
        await queue.addBulk([{"name": "t", "data": {"seconds": 0.01}, "opts": {}} for _ in range(start, start + 500)])
    cfg = make_config(url, [("pool", "tests.procs:tracked", 20)], min_workers=2, max_workers=2)
    async with RunningPool(cfg):
        async with asyncio.timeout(60):
            while await client.zcard("bull:pool:completed") < 400:  # noqa: ASYNC110 - polling Redis
                await asyncio.sleep(0.01)
        _, new = await asyncio.to_thread(sentinel_set.failover)
        try:
            async with asyncio.timeout(120):
                while await client.zcard("bull:pool:completed") < n:  # noqa: ASYNC110
                    await asyncio.sleep(0.05)
        except TimeoutError as e:
            raise AssertionError(f"not all completed; before the failover: {sentinel_set.before_failover}; "
                                 f"now: {sentinel_set.describe()}") from e
    new_master = sentinel_set.data_client(new)
    assert new_master.zcard("bull:pool:completed") == n
    assert Counter(Counter(runs.read_text().split()).values()) == {1: n}
    pipe = new_master.pipeline(transaction=False)
    for i in range(1, n + 1):
        pipe.hmget(f"bull:pool:{i}", ["ats", "atm"])
    assert Counter(tuple(x) for x in pipe.execute()) == {("1", "1"): n}
    await queue.close()
    await client.aclose()


async def test_redis_py_clients_follow_a_failover(sentinel_set: SentinelSet) -> None:
    url = sentinel_set.url
    a = async_client(url, decode_responses=True)
    s = sync_client(url, decode_responses=True)
    b = blocking_client(url, decode_responses=True)
    assert await a.set("k", "before") and s.get("k") == "before"
    blocked = asyncio.create_task(b.bzpopmin("marker", timeout=20))
    await asyncio.sleep(0.2)
    async with asyncio.timeout(60):
        _, new = await asyncio.to_thread(sentinel_set.failover)
        await a.set("k", "async after")
        assert sentinel_set.data_client(new).get("k") == "async after"
        # The blocking call on the old master is cut when the sentinels name the new one; the retry blocks there.
        with pytest.raises(redis.exceptions.ConnectionError):
            await blocked
        again = asyncio.create_task(b.bzpopmin("marker", timeout=20))
        await asyncio.sleep(0.2)
        sentinel_set.data_client(new).zadd("marker", {"0": 0})
        assert await again == ("marker", "0", 0.0)
        await asyncio.sleep(1.1)  # the threaded client asks the sentinels again at most once a second
        assert await asyncio.to_thread(s.set, "k", "sync after")
        assert sentinel_set.data_client(new).get("k") == "sync after"
    assert (await a.info("server"))["tcp_port"] == new
    await a.aclose()
    await b.aclose()
    s.close()


async def test_a_demoted_masters_answers_become_reconnections(sentinel_set: SentinelSet) -> None:
    """A master made a replica behind the sentinel's back answers writes with READONLY, and one that lost its
    replicas (min-replicas-to-write) with NOREPLICAS: each becomes a ConnectionError, and the next connection
    checks with ROLE that the sentinel's master is one."""
    master = sentinel_set.data_client(sentinel_set.master.port)
    conn = script_connection(sentinel_set.url)
    plain = async_client(sentinel_set.url, decode_responses=True)
    assert await conn.call("EVAL", INCR, 1, "n") == 1 and await plain.incr("n") == 2
    master.config_set("min-replicas-to-write", 2)  # one replica only: writes refused
    try:
        with pytest.raises(redis.exceptions.ConnectionError, match=r"being demoted.*NOREPLICAS"):
            await conn.call("EVAL", INCR, 1, "n")
        with pytest.raises(redis.exceptions.ConnectionError, match=r"being demoted.*NOREPLICAS"):
            await plain.incr("n")
    finally:
        master.config_set("min-replicas-to-write", 0)
    assert await conn.call("EVAL", INCR, 1, "n") == 3  # reconnected, to the same master
    master.execute_command("REPLICAOF", "127.0.0.1", sentinel_set.replica.port)  # demoted; the sentinel not told
    try:
        with pytest.raises(redis.exceptions.ConnectionError, match="being demoted"):
            await conn.call("EVAL", INCR, 1, "n")
        with pytest.raises(redis.exceptions.ConnectionError, match="is a slave; a failover is under way"):
            await conn.call("PING")
    finally:
        master.execute_command("REPLICAOF", "NO", "ONE")
    await conn.aclose()
    await plain.aclose()


async def test_a_sentinel_url_says_what_is_wrong(sentinel_set: SentinelSet) -> None:
    assert await server_version(sentinel_set.url) == "7.0.15"
    unknown = sentinel_set.url.replace("/mymaster", "/nosuch")
    with pytest.raises(redis.exceptions.ConnectionError, match=r"no sentinel of \S+ names a master 'nosuch' "
                       r"\(those that answered know no such master, or it is down\)"):
        await server_version(unknown)
    conn = MultiplexedConnection(unknown)
    with pytest.raises(redis.exceptions.ConnectionError, match=r"no sentinel of \S+ names a master 'nosuch'"):
        await conn.call("PING")
    await conn.aclose()
    with pytest.raises(redis.exceptions.ConnectionError, match=r"names a master 'mymaster' \(no answer from "
                       r"127.0.0.1:1, 127.0.0.1:2\)"):
        await server_version("redis+sentinel://127.0.0.1:1,127.0.0.1:2/mymaster", connect_timeout=1)


async def test_a_sentinel_watched_master_with_a_password() -> None:
    s = SentinelSet(password="s3cret")
    s.start()
    try:
        conn = script_connection(s.url)
        assert await conn.call("EVAL", INCR, 1, "n") == 1
        client = async_client(s.url, decode_responses=True)
        assert await client.incr("n") == 2
        sync = sync_client(s.url, decode_responses=True)
        assert sync.get("n") == "2"
        sync.close()
        await client.aclose()
        await conn.aclose()
        wrong = script_connection(s.url.replace(":s3cret@", ":wrong@"))
        with pytest.raises(redis.exceptions.AuthenticationError):
            await wrong.call("PING")
        await wrong.aclose()
    finally:
        s.close()

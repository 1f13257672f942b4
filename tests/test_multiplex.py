"""The workers' script connection (workers/multiplex.py) against real redis-servers: one write per loop
turn, replies matched to their calls, errors kept per call, scripts reloaded, a lost or silent connection
reported to every caller and replaced, and the URL's password, database, unix socket and TLS honoured."""

from __future__ import annotations

import asyncio
import math
import time
from collections.abc import Iterator

import pytest
import redis
import redis.exceptions

from tests.redis_server import RedisServer
from workers.multiplex import FLUSH_AFTER, MultiplexedConnection

ECHO = "return {KEYS[1], ARGV[1]}"
FAIL_ON_X = "if ARGV[1] == 'x' then return redis.error_reply('no x here') end return ARGV[1]"


def stats(client: redis.Redis) -> dict[str, int]:
    info = client.info("stats")
    return {k: int(info[k]) for k in ("total_commands_processed", "total_reads_processed")}


async def test_calls_of_one_turn_go_in_a_few_writes_and_keep_their_own_replies(redis_url: str) -> None:
    conn = MultiplexedConnection(redis_url)
    await conn.call("PING")
    probe = redis.Redis.from_url(redis_url)
    sha = probe.script_load(ECHO)
    before = stats(probe)
    n = 50
    replies = await asyncio.gather(*(conn.call("EVALSHA", sha, 1, f"k{i}", f"v{i}") for i in range(n)))
    after = stats(probe)
    assert replies == [[f"k{i}", f"v{i}"] for i in range(n)]
    # n EVALSHA and the second INFO, nothing else; Redis read the 50 calls in at most one read per FLUSH_AFTER calls
    # (fewer when writes arrive together), plus that INFO: not one read per call.
    assert after["total_commands_processed"] - before["total_commands_processed"] == n + 1
    reads = after["total_reads_processed"] - before["total_reads_processed"]
    assert 2 <= reads <= math.ceil(n / FLUSH_AFTER) + 1, reads
    await conn.aclose()


async def test_an_error_stays_with_its_call(redis_url: str) -> None:
    conn = MultiplexedConnection(redis_url)
    results = await asyncio.gather(*(conn.call("EVAL", FAIL_ON_X, 0, v) for v in ("a", "x", "b")),
                                   return_exceptions=True)
    assert results[0] == "a" and results[2] == "b"
    assert isinstance(results[1], redis.exceptions.ResponseError) and "no x here" in str(results[1])
    assert await conn.call("PING") == "PONG"  # the connection carries on
    await conn.aclose()


async def test_a_script_redis_does_not_know_is_sent_again(redis_url: str) -> None:
    conn = MultiplexedConnection(redis_url)
    sha = redis.Redis.from_url(redis_url).script_load(ECHO)
    redis.Redis.from_url(redis_url).script_flush()  # as after a Redis restart: EVALSHA answers NOSCRIPT
    with pytest.raises(redis.exceptions.NoScriptError):
        await conn.call("EVALSHA", sha, 1, "k", "v")
    replies = await asyncio.gather(*(conn.run_script(sha, ECHO, ["k"], [str(i)]) for i in range(5)))
    assert replies == [["k", str(i)] for i in range(5)]
    assert redis.Redis.from_url(redis_url).script_exists(sha) == [True]  # cached again
    await conn.aclose()


async def test_a_cancelled_caller_does_not_shift_the_replies(redis_url: str) -> None:
    conn = MultiplexedConnection(redis_url)
    futures = [conn.call("ECHO", str(i)) for i in range(10)]
    futures[3].cancel()
    futures[7].cancel()
    results = await asyncio.gather(*futures, return_exceptions=True)
    assert [r for i, r in enumerate(results) if i not in (3, 7)] == [str(i) for i in range(10) if i not in (3, 7)]
    assert await conn.call("ECHO", "after") == "after"
    await conn.aclose()


async def test_a_lost_connection_fails_every_call_in_flight_and_the_next_call_reconnects(redis_url: str) -> None:
    conn = MultiplexedConnection(redis_url)
    await conn.call("CLIENT", "SETNAME", "multiplex-test")
    first_id = await conn.call("CLIENT", "ID")
    blocked = conn.call("BLPOP", "never-pushed", 10)  # holds the replies behind it
    behind = [conn.call("ECHO", str(i)) for i in range(3)]
    await asyncio.sleep(0.2)
    assert redis.Redis.from_url(redis_url).client_kill_filter(_id=first_id) == 1
    results = await asyncio.gather(blocked, *behind, return_exceptions=True)
    assert all(isinstance(r, redis.exceptions.ConnectionError) for r in results), results
    assert await conn.call("ECHO", "again") == "again"
    assert await conn.call("CLIENT", "ID") != first_id
    await conn.aclose()


async def test_a_reply_that_never_comes_times_out_and_frees_the_connection(redis_url: str) -> None:
    conn = MultiplexedConnection(redis_url, reply_timeout=0.5)
    started = time.monotonic()
    results = await asyncio.gather(conn.call("BLPOP", "never-pushed", 30), conn.call("ECHO", "behind"),
                                   return_exceptions=True)
    waited = time.monotonic() - started
    assert all(isinstance(r, redis.exceptions.TimeoutError) for r in results), results
    assert "did not reply within 0.5 s" in str(results[0])
    assert 0.5 <= waited < 5, waited  # the watchdog looks every second
    assert await conn.call("ECHO", "fresh") == "fresh"
    await conn.aclose()


async def test_no_redis_is_a_connection_error_naming_the_cause() -> None:
    conn = MultiplexedConnection("redis://127.0.0.1:1/0", connect_timeout=1)
    results = await asyncio.gather(*(conn.call("PING") for _ in range(3)), return_exceptions=True)
    assert all(isinstance(r, redis.exceptions.ConnectionError) for r in results)
    assert "cannot connect to Redis" in str(results[0])
    await conn.aclose()
    with pytest.raises(redis.exceptions.ConnectionError, match="closed"):
        await conn.call("PING")


@pytest.mark.parametrize("value", ["plain", "ünïcödé", "\udcff-not-utf8", 12, 1.5, b"\x00\xff", 2**70])
async def test_arguments_round_trip_as_redis_py_sends_them(redis_url: str, value: object) -> None:
    conn = MultiplexedConnection(redis_url)
    assert await conn.call("SET", "v", value) == "OK"
    got = await conn.call("GET", "v")
    expected = value.decode("utf-8", "surrogateescape") if isinstance(value, bytes) else str(value)
    assert got == expected
    plain = redis.Redis.from_url(redis_url, decode_responses=True, encoding_errors="surrogateescape")
    assert plain.get("v") == expected  # the same bytes as redis-py would have stored
    await conn.aclose()


async def test_an_argument_redis_cannot_take_is_a_data_error(redis_url: str) -> None:
    conn = MultiplexedConnection(redis_url)
    with pytest.raises(redis.exceptions.DataError, match="SET"):
        conn.call("SET", "v", None)
    with pytest.raises(redis.exceptions.DataError, match="not encodable"):
        conn.call("SET", "v", "\ud800")  # a lone surrogate that no bytes stand behind
    assert await conn.call("PING") == "PONG"
    await conn.aclose()


@pytest.fixture(params=["password", "unix socket", "tls"])
def special_redis(request: pytest.FixtureRequest) -> Iterator[RedisServer]:
    kind = request.param
    server = RedisServer(password="s3cret" if kind == "password" else "", unix_socket=kind == "unix socket",
                         tls=kind == "tls")
    server.start()
    yield server
    server.close()


async def test_the_urls_password_database_socket_and_tls_are_honoured(special_redis: RedisServer) -> None:
    url = special_redis.url.replace("/0", "/3").replace("db=0", "db=3")
    conn = MultiplexedConnection(url)
    assert await conn.call("SET", "where", "db 3") == "OK"
    assert redis.Redis.from_url(url, decode_responses=True).get("where") == "db 3"
    assert redis.Redis.from_url(special_redis.url).get("where") is None  # not in db 0
    await conn.aclose()


async def test_a_wrong_password_says_so() -> None:
    server = RedisServer(password="right")
    server.start()
    try:
        conn = MultiplexedConnection(server.url.replace(":right@", ":wrong@"))
        with pytest.raises(redis.exceptions.AuthenticationError):
            await conn.call("PING")
        await conn.aclose()
    finally:
        server.close()

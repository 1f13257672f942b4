"""The workers' Redis path: script calls batched per loop turn, commands packed by hiredis."""

from __future__ import annotations

import asyncio

import pytest
import redis.asyncio
import redis.exceptions

from workers.batching import MAX_BATCH, ScriptBatcher
from workers.connection import HiredisPackedConnection, async_client

ECHO = "return {KEYS[1], ARGV[1]}"
FAIL_ON_X = "if ARGV[1] == 'x' then return redis.error_reply('no x here') end return ARGV[1]"


async def test_calls_of_one_turn_share_a_pipeline_and_keep_their_own_replies(redis_url: str) -> None:
    client = async_client(redis_url, decode_responses=True)
    assert isinstance(client.connection_pool.connection_class(), HiredisPackedConnection)
    batcher = ScriptBatcher(client)
    echo = client.register_script(ECHO)
    await client.script_load(ECHO)
    before = int((await client.info("stats"))["total_commands_processed"])
    n = MAX_BATCH * 2 + 3
    replies = await asyncio.gather(*(batcher.call(echo, [f"k{i}"], [f"v{i}"]) for i in range(n)))
    after = int((await client.info("stats"))["total_commands_processed"])
    assert replies == [[f"k{i}", f"v{i}"] for i in range(n)]
    assert after - before == n + 1  # n EVALSHA and the first INFO: no extra round trips, no SCRIPT EXISTS
    await client.aclose()


async def test_an_error_stays_with_its_call(redis_url: str) -> None:
    client = async_client(redis_url, decode_responses=True)
    batcher = ScriptBatcher(client)
    script = client.register_script(FAIL_ON_X)
    results = await asyncio.gather(*(batcher.call(script, [], [v]) for v in ("a", "x", "b")),
                                   return_exceptions=True)
    assert results[0] == "a" and results[2] == "b"
    assert isinstance(results[1], redis.exceptions.ResponseError) and "no x here" in str(results[1])
    await client.aclose()


async def test_unknown_scripts_are_loaded_after_a_flush(redis_url: str) -> None:
    client = async_client(redis_url, decode_responses=True)
    batcher = ScriptBatcher(client)
    echo = client.register_script(ECHO)
    await client.script_flush()  # as after a Redis restart: every EVALSHA answers NOSCRIPT
    replies = await asyncio.gather(*(batcher.call(echo, ["k"], [str(i)]) for i in range(5)))
    assert replies == [["k", str(i)] for i in range(5)]
    await client.aclose()


async def test_a_lost_connection_reaches_every_caller(redis_url: str) -> None:
    client = redis.asyncio.Redis.from_url("redis://127.0.0.1:1/0", socket_connect_timeout=0.5)
    batcher = ScriptBatcher(client)
    echo = client.register_script(ECHO)
    results = await asyncio.gather(*(batcher.call(echo, ["k"], ["v"]) for _ in range(3)), return_exceptions=True)
    assert all(isinstance(r, redis.exceptions.ConnectionError) for r in results)
    await client.aclose()


@pytest.mark.parametrize("value", ["plain", "ünïcödé", "\udcff-not-utf8", 12, 1.5, b"\x00\xff"])
async def test_hiredis_packing_round_trips_what_redis_py_sends(redis_url: str, value: object) -> None:
    client = async_client(redis_url, decode_responses=True, encoding_errors="surrogateescape")
    await client.set("v", value)  # type: ignore[arg-type]
    got = await client.get("v")
    expected = value.decode("utf-8", "surrogateescape") if isinstance(value, bytes) else str(value)
    assert got == expected
    await client.aclose()

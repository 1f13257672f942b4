"""The Redis clients everything in corral connects through, for any URL of workers/redis_url.py.

Each factory takes redis-py's keyword options as `Redis.from_url` does (`decode_responses`, `socket_timeout`,
`client_name`, ...) and builds redis-py's own client: `redis.asyncio.Redis` (or `redis.Redis`) for a single server,
`RedisCluster` for a cluster, and for a sentinel URL a client whose connections ask the sentinels where the master
is and follow a failover (workers/failover.py). The workers' script connection is workers/multiplex.py's
`script_connection`.
"""

from __future__ import annotations

import re
from typing import Any

import redis
import redis.asyncio
import redis.asyncio.sentinel
import redis.exceptions

from workers.failover import AsyncFollowingPool, SyncFollowingPool
from workers.redis_url import (
    AsyncClient,
    RedisTarget,
    SyncClient,
    async_cluster,
    cluster_error,
    no_master,
    parse,
    sync_cluster,
    sync_sentinel,
)


def async_client(url: str, **opts: Any) -> AsyncClient:
    """An asyncio client for `url`: `redis.asyncio.Redis`, `RedisCluster` for a cluster URL, or for a sentinel URL
    a `redis.asyncio.Redis` on the master that follows failovers. (`single_connection_client` is ignored on a
    cluster, where a client holds a connection per node.)"""
    t = parse(url)
    if t.kind == "single":
        return redis.asyncio.Redis.from_url(url, **opts)
    single = bool(opts.pop("single_connection_client", False))
    if t.kind == "cluster":
        return async_cluster(t, **opts)
    client = redis.asyncio.Redis(connection_pool=AsyncFollowingPool(t, **opts), single_connection_client=single)
    client.auto_close_connection_pool = True  # as redis-py's own Redis.from_pool: the client owns its pool
    return client


def blocking_client(url: str, **opts: Any) -> AsyncClient:
    """An asyncio client for blocking calls (BZPOPMIN, XREAD BLOCK, SUBSCRIBE): no socket timeout, since redis-py
    would turn each long block into a hidden timeout and retry, and one connection (on a cluster, one per node that
    a call goes to), named by `client_name` if given."""
    opts["socket_timeout"] = None
    opts.setdefault("socket_connect_timeout", 5)
    opts["single_connection_client"] = True
    return async_client(url, **opts)


def sync_client(url: str, **opts: Any) -> SyncClient:
    """A threaded client, as `async_client` (the lock keeper's)."""
    t = parse(url)
    if t.kind == "single":
        return redis.Redis.from_url(url, **opts)
    opts.pop("single_connection_client", None)
    if t.kind == "cluster":
        return sync_cluster(t, **opts)
    return redis.Redis.from_pool(SyncFollowingPool(t, sync_sentinel(t, **opts), **opts))


async def pubsub_client(url: str, channel: str, **opts: Any) -> redis.asyncio.Redis:
    """A client for PUBLISH and SUBSCRIBE on `channel` (no socket timeout unless given).

    On a cluster, a client of the node that serves the channel's slot: a message published on any node reaches
    every node's subscribers, but PUBLISH counts only the subscribers of the node it ran on, and `corral cancel`
    reports that count. (redis-py's asyncio RedisCluster has no pub/sub.) Elsewhere, as `async_client`."""
    opts.setdefault("socket_timeout", None)
    t = parse(url)
    if t.kind != "cluster":
        client = async_client(url, **opts)
        return client
    topology = async_cluster(t, socket_connect_timeout=opts.get("socket_connect_timeout") or 5, socket_timeout=5)
    try:
        await initialize(topology, t)
        node = topology.get_node_from_key(channel)
    finally:
        await topology.aclose()
    return node_client(t, str(node.host), int(node.port), **opts)


def node_client(t: RedisTarget, host: str, port: int, **opts: Any) -> redis.asyncio.Redis:
    """A plain asyncio client of one node of a cluster, with the URL's credentials and TLS."""
    connection_class = redis.asyncio.SSLConnection if t.tls else redis.asyncio.Connection
    pool = redis.asyncio.ConnectionPool(connection_class=connection_class, host=host, port=port,
                                        **{**t.params, **opts})
    return redis.asyncio.Redis.from_pool(pool)


async def initialize(cluster: redis.asyncio.RedisCluster, t: RedisTarget) -> None:
    """Connect a RedisCluster (it reads the slot map), failing with a ConnectionError that says what went wrong."""
    try:
        await cluster.initialize()
    except redis.exceptions.RedisClusterException as e:
        raise cluster_error(t, e) from None


async def server_version(url: str, connect_timeout: float = 3.0) -> str:
    """Connect as the daemon will and return the lowest Redis version among the servers it would use.

    Raises RedisUrlError for a URL that names nothing, and redis-py's ConnectionError (or AuthenticationError)
    with a line naming what could not be reached: the server, every seed node of a cluster, or the sentinels and
    the master they name."""
    t = parse(url)
    client = async_client(url, socket_connect_timeout=connect_timeout, socket_timeout=connect_timeout,
                          decode_responses=True)
    try:
        if isinstance(client, redis.asyncio.RedisCluster):
            await initialize(client, t)
            infos = await client.info("server", target_nodes=redis.asyncio.RedisCluster.PRIMARIES)
            versions = [str(i.get("redis_version", "0")) for i in _per_node(infos)]
        else:
            versions = [str((await client.info("server")).get("redis_version", "0"))]
    except redis.asyncio.sentinel.MasterNotFoundError as e:
        raise no_master(t, e) from None
    finally:
        await client.aclose()
    return min(versions, key=_version_key)


def _per_node(infos: Any) -> list[dict[str, Any]]:
    """RedisCluster's INFO on several nodes: {node name: info}, or one info when they were merged."""
    if isinstance(infos, dict) and infos and all(isinstance(v, dict) for v in infos.values()):
        return list(infos.values())
    return [infos]


def _version_key(v: str) -> tuple[int, ...]:
    return tuple(int(x) for x in re.findall(r"\d+", v)[:3])

"""Every Redis corral talks to, named by one URL: a single server, a Redis Cluster, or a master watched by Sentinel.

    redis://[[USER]:PASSWORD@]HOST[:PORT][/DB][?OPTIONS]        (also rediss:// for TLS, unix:///path?db=N)
    redis+cluster://[[USER]:PASSWORD@]HOST:PORT[,HOST:PORT...][?OPTIONS]       (rediss+cluster:// for TLS)
    redis+sentinel://[[USER]:PASSWORD@]HOST:PORT[,HOST:PORT...]/MASTER_NAME[/DB][?OPTIONS]  (rediss+sentinel://)

A cluster URL lists seed nodes (any reachable one tells the client the rest); a sentinel URL lists sentinels
(default port 26379) and the name of the master they watch. USER and PASSWORD are those of the data nodes, as in
`redis://`; OPTIONS are redis-py's URL options (`ssl_ca_certs`, `ssl_cert_reqs`, `socket_keepalive`, ...), plus,
for sentinels that require their own password, `sentinel_password` and `sentinel_username`. With `rediss+`, the
sentinels are spoken to over TLS too.

This module parses them (`parse`), builds redis-py's own Sentinel and RedisCluster objects for them, and holds the
cluster's key rule (`cluster_key_problem`). The clients everything connects through are made by
workers/redis_clients.py; workers/failover.py follows a Sentinel failover; workers/multiplex.py is the workers'
script connection on any of the three.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, TypeAlias
from urllib.parse import parse_qsl, unquote, urlencode

import redis
import redis.asyncio
import redis.asyncio.cluster
import redis.asyncio.retry
import redis.asyncio.sentinel
import redis.cluster
import redis.exceptions
import redis.retry
import redis.sentinel
from redis.asyncio.connection import parse_url
from redis.backoff import NoBackoff
from redis.crc import key_slot

from workers.urls import redact

AsyncClient: TypeAlias = redis.asyncio.Redis | redis.asyncio.RedisCluster
SyncClient: TypeAlias = redis.Redis | redis.RedisCluster
Kind = Literal["single", "cluster", "sentinel"]

CLUSTER_PORT = 6379
SENTINEL_PORT = 26379
_SCHEMES: dict[str, tuple[Kind, bool]] = {  # scheme -> (kind, TLS)
    "redis": ("single", False), "rediss": ("single", True), "unix": ("single", False),
    "redis+cluster": ("cluster", False), "rediss+cluster": ("cluster", True),
    "redis+sentinel": ("sentinel", False), "rediss+sentinel": ("sentinel", True),
}
_SENTINEL_OPTIONS = ("sentinel_password", "sentinel_username")
_HOST_PORT = re.compile(r"^(?:\[(?P<v6>[0-9A-Fa-f:.]+)\]|(?P<host>[^:\[\]]+))(?::(?P<port>[^:]*))?$")
DEMOTION_CODES = ("READONLY", "NOREPLICAS", "UNBLOCKED")


class RedisUrlError(ValueError):
    """A Redis URL that cannot name a Redis; the message says what is wrong, without the URL's secrets."""


@dataclass(frozen=True)
class RedisTarget:
    """What a URL names. `params` are redis-py's connection arguments for the data nodes (password, username, db,
    TLS options; for a single server also its host and port or unix path, and its connection class)."""

    url: str
    kind: Kind
    tls: bool
    params: Mapping[str, Any]
    nodes: tuple[tuple[str, int], ...] = ()  # cluster: seed nodes; sentinel: the sentinels
    master: str = ""  # sentinel: the name the sentinels know the master by
    sentinel_params: Mapping[str, Any] = field(default_factory=dict)

    @property
    def where(self) -> str:
        """The nodes, for messages: `127.0.0.1:7000, 127.0.0.1:7001`."""
        return ", ".join(f"{h}:{p}" for h, p in self.nodes)


def parse(url: str) -> RedisTarget:
    """Parse a Redis URL of any of the three forms; RedisUrlError names the problem."""
    scheme, sep, rest = url.partition("://")
    if not sep:
        raise RedisUrlError(f"{redact(url)!r} is not a Redis URL (expected redis://, rediss://, unix://, "
                            "redis+cluster:// or redis+sentinel://)")
    form = _SCHEMES.get(scheme.lower())
    if form is None:
        raise RedisUrlError(f"unknown Redis URL scheme {scheme!r} in {redact(url)!r}: use redis://, rediss://, "
                            "unix://, redis+cluster:// or redis+sentinel:// (rediss+... for TLS)")
    kind, tls = form
    if kind == "single":
        try:
            params = dict(parse_url(url))
        except ValueError as e:
            raise RedisUrlError(f"Redis URL {redact(url)!r} is not valid: {e}") from None
        return RedisTarget(url, "single", tls, params)
    return _parse_multi(url, kind, tls, rest)


def _parse_multi(url: str, kind: Kind, tls: bool, rest: str) -> RedisTarget:
    shown = redact(url)
    rest, _, query = rest.partition("?")
    userinfo, at, hosts_and_path = rest.rpartition("@")
    if not at:
        userinfo = ""
    hosts, slash, path = hosts_and_path.partition("/")
    default_port = CLUSTER_PORT if kind == "cluster" else SENTINEL_PORT
    what = "seed node" if kind == "cluster" else "sentinel"
    nodes = tuple(_host_port(h, default_port, shown) for h in hosts.split(",") if h.strip())
    if not nodes:
        raise RedisUrlError(f"{shown!r} names no {what}: list at least one HOST:PORT after '://'")
    options = dict(parse_qsl(query, keep_blank_values=True))
    sentinel_auth = {k: options.pop(k) for k in _SENTINEL_OPTIONS if k in options}
    # redis-py parses the credentials and options as for one server of the same kind (its own URL parser).
    h, p = nodes[0]
    single = f"{'rediss' if tls else 'redis'}://{userinfo + '@' if at else ''}{_netloc(h, p)}"
    if options:
        single += "?" + urlencode(options)
    try:
        params = dict(parse_url(single))
    except ValueError as e:
        raise RedisUrlError(f"Redis URL {shown!r} is not valid: {e}") from None
    for k in ("host", "port", "connection_class"):
        params.pop(k, None)
    segments = [unquote(s) for s in path.split("/")] if slash else []
    if kind == "cluster":
        if any(segments) and segments not in (["0"], ["0", ""]):
            raise RedisUrlError(f"{shown!r}: a Redis Cluster has only database 0; remove {'/' + path!r}")
        if params.get("db", 0) != 0:
            raise RedisUrlError(f"{shown!r}: a Redis Cluster has only database 0")
        params.pop("db", None)
        return RedisTarget(url, "cluster", tls, params, nodes)
    if not segments or not segments[0]:
        raise RedisUrlError(f"{shown!r} names no master: add the name the sentinels know it by, "
                            f"as in redis+sentinel://{_netloc(h, p)}/mymaster")
    master, db = segments[0], [s for s in segments[1:] if s]
    if len(db) > 1 or (db and not db[0].isdigit()):
        raise RedisUrlError(f"{shown!r}: after the master's name only a database number may follow, "
                            f"as in /{master}/0")
    if db:
        params["db"] = int(db[0])
    sentinel_params: dict[str, Any] = {
        k.removeprefix("sentinel_"): v for k, v in sentinel_auth.items()}
    if tls:
        sentinel_params.update({k: v for k, v in params.items() if k.startswith("ssl_")}, ssl=True)
    return RedisTarget(url, "sentinel", tls, params, nodes, master, sentinel_params)


def _host_port(text: str, default_port: int, shown: str) -> tuple[str, int]:
    m = _HOST_PORT.match(text.strip())
    port_text = m.group("port") if m else None
    if m is None or (port_text is not None and not port_text.isdigit()):
        raise RedisUrlError(f"{shown!r}: {text.strip()!r} is not HOST:PORT")
    port = int(port_text) if port_text else default_port
    if not 0 < port < 65536:
        raise RedisUrlError(f"{shown!r}: port {port} is out of range")
    return unquote(m.group("v6") or m.group("host")), port


def _netloc(host: str, port: int) -> str:
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


def is_demotion(error: BaseException) -> bool:
    """Whether a reply error says that the master we speak to is being demoted: READONLY (it is a replica now),
    NOREPLICAS (with `min-replicas-to-write`: it lost the replica that is being promoted) or UNBLOCKED (a blocking
    call cut by its demotion). A script's error keeps the code first."""
    if isinstance(error, redis.exceptions.ReadOnlyError):
        return True
    return isinstance(error, redis.exceptions.ResponseError) and str(error).startswith(DEMOTION_CODES)


def demoted(host: Any, port: Any, error: BaseException) -> redis.exceptions.ConnectionError:
    return redis.exceptions.ConnectionError(
        f"the master at {host}:{port} is being demoted ({error}); reconnecting through the sentinels")


# -- redis-py's clients for the two multi-node forms (the factories are in workers/redis_clients.py) ---------------


def _sentinel_kwargs(t: RedisTarget, opts: Mapping[str, Any], read_timeout: float | None = 5) -> dict[str, Any]:
    """How to reach the sentinels: their own credentials and TLS, and the caller's connect timeout (a sentinel
    answers at once or is down, whatever the caller's socket timeout for the master)."""
    out = dict(t.sentinel_params)
    out["socket_connect_timeout"] = opts.get("socket_connect_timeout") or 5
    out["socket_timeout"] = read_timeout
    if read_timeout is None:
        out["socket_keepalive"] = True  # a subscription: a sentinel host gone without a word is still noticed
    return out


def async_sentinel(t: RedisTarget, *, read_timeout: float | None = 5, **opts: Any) -> redis.asyncio.sentinel.Sentinel:
    """redis-py's Sentinel for a sentinel URL: `discover_master(t.master)` says where the master is now. Each
    sentinel is asked once (redis-py then asks the next), not retried with backoff: a lookup that finds none fails
    within the connect timeout. `read_timeout=None` for a subscription to their announcements."""
    kwargs = {**_sentinel_kwargs(t, opts, read_timeout), "retry": redis.asyncio.retry.Retry(NoBackoff(), 0)}
    return redis.asyncio.sentinel.Sentinel(list(t.nodes), sentinel_kwargs=kwargs)


def sync_sentinel(t: RedisTarget, **opts: Any) -> redis.sentinel.Sentinel:
    kwargs = {**_sentinel_kwargs(t, opts), "retry": redis.retry.Retry(NoBackoff(), 0)}
    return redis.sentinel.Sentinel(list(t.nodes), sentinel_kwargs=kwargs)


def no_master(t: RedisTarget, e: Exception) -> redis.exceptions.ConnectionError:
    """redis-py's MasterNotFoundError as one readable line (its own lists each sentinel as a client object)."""
    silent = [f"{h}:{p}" for h, p in _SILENT_SENTINEL.findall(str(e))]
    why = f"no answer from {', '.join(silent)}" if silent else "those that answered know no such master, or it is down"
    return redis.exceptions.ConnectionError(f"no sentinel of {t.where} names a master {t.master!r} ({why})")


_SILENT_SENTINEL = re.compile(r"host=([^,]+),port=(\d+)")  # in redis-py's text: a sentinel that did not answer


def cluster_kwargs(t: RedisTarget, opts: Mapping[str, Any]) -> dict[str, Any]:
    return {**t.params, **({"ssl": True} if t.tls else {}), **opts}


def async_cluster(t: RedisTarget, **opts: Any) -> redis.asyncio.RedisCluster:
    """redis-py's asyncio RedisCluster on the URL's seed nodes (it learns the others from them)."""
    try:
        return redis.asyncio.RedisCluster(startup_nodes=[redis.asyncio.cluster.ClusterNode(h, p) for h, p in t.nodes],
                                          **cluster_kwargs(t, opts))
    except TypeError as e:  # an option a cluster client does not take (from the URL's query or the caller)
        raise RedisUrlError(f"{redact(t.url)}: {e}") from None


def sync_cluster(t: RedisTarget, **opts: Any) -> redis.RedisCluster:
    try:
        return redis.RedisCluster(startup_nodes=[redis.cluster.ClusterNode(h, p) for h, p in t.nodes],
                                  **cluster_kwargs(t, opts))
    except TypeError as e:
        raise RedisUrlError(f"{redact(t.url)}: {e}") from None


def cluster_error(t: RedisTarget, e: Exception) -> redis.exceptions.ConnectionError:
    """redis-py's RedisClusterException (not a RedisError: callers would not take it for a Redis problem) as a
    ConnectionError with a line that says what failed."""
    text = str(e)
    if isinstance(e.__cause__, redis.exceptions.AuthenticationError):
        return redis.exceptions.AuthenticationError(
            f"the Redis Cluster at {t.where} refused the URL's credentials: {e.__cause__}")
    if "Cluster mode is not enabled" in text:
        return redis.exceptions.ConnectionError(
            f"the seed nodes of {redact(t.url)} are not in cluster mode (cluster-enabled no): use redis:// for a "
            "single server")
    if "cannot be connected" in text:
        return redis.exceptions.ConnectionError(
            f"no seed node of the Redis Cluster answered ({t.where}): {text.partition(': ')[2] or text}")
    return redis.exceptions.ConnectionError(f"Redis Cluster at {t.where}: {text}")


# -- the cluster's key rule ----------------------------------------------------------------------------------------


def hash_tag(base: str) -> str | None:
    """The hash tag that every key starting with `base` is hashed by, as Redis Cluster reads keys (the text between
    the first '{' and the next '}', if not empty); None when the rest of each key decides its slot."""
    start = base.find("{")
    if start < 0:
        return None
    end = base.find("}", start + 1)
    if end <= start + 1:
        return None
    return base[start + 1:end]


def queue_slot(prefix: str, queue: str) -> int | None:
    """The one hash slot of every key of `queue` (`<prefix>:<queue>:...`), or None if its keys would spread."""
    tag = hash_tag(f"{prefix}:{queue}:")
    return None if tag is None else int(key_slot(tag.encode("utf-8", "surrogateescape")))


def cluster_key_problem(url: str, prefix: str, queues: Sequence[str]) -> str | None:
    """On a cluster URL, the line the daemon prints and stops on when a queue's keys would not all hash to one
    slot (BullMQ's scripts take many keys of a queue at once, and a cluster refuses keys of different slots in one
    script with CROSSSLOT). None when every queue is fine, or the URL is not a cluster's."""
    if parse(url).kind != "cluster":
        return None
    spread = [q for q in queues if queue_slot(prefix, q) is None]
    if not spread:
        return None
    names = ", ".join(repr(q) for q in spread)
    return (f"on a Redis Cluster every key of a queue must hash to one slot, but with the prefix {prefix!r} the keys "
            f"of {names} would not: set a prefix with a hash tag, e.g. CORRAL_REDIS_PREFIX='{{{prefix}}}' "
            f"(then all queues share one slot), or put a hash tag in each queue's name, e.g. '{{{spread[0]}}}'")

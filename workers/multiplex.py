"""One multiplexed Redis connection for a worker's script calls, as ioredis runs Node BullMQ's.

Why: a busy worker makes one script call per job, tens of thousands a second. redis-py's asyncio client
spends more CPU per call than Redis spends running the script: a pool checkout, a pipeline object, a
timeout context and a stream read per reply. Here the calls of an event-loop turn are packed by hiredis
and written to one socket in a few writes (every FLUSH_AFTER calls, and at the turn's end); replies are
parsed by hiredis as bytes arrive and each caller's future is resolved in order, so no call waits for another's reply.

What it keeps of a Redis client: the URL's address, TLS, password, user and database (parsed by
redis-py); replies decoded as UTF-8 with `surrogateescape`; redis-py's exception classes
(`ResponseError`, `NoScriptError`, `ConnectionError`, `TimeoutError`), so callers handle errors as
before; reconnecting on the next call after a connection is lost. A reply that takes longer than
`reply_timeout` closes the connection and fails every call on it with a TimeoutError, since the replies
behind it can no longer be matched to their calls.

Order: calls reach Redis in the order they were made, on one connection, until it is lost.
Calls are made from the event loop's thread (a `def` processor's job writes are handed to it).

Sentinel (`redis+sentinel://`): each connect asks the sentinels where the master is (redis-py's Sentinel) and
checks with ROLE that it is one. A failover the sentinels announce (workers/failover.py) holds new calls from its
start (the calls already sent finish on the old master, while it is still replicated) and sends them to the new
master once they name it. A reply that says the master is being demoted (READONLY, NOREPLICAS, UNBLOCKED) closes
the connection like a loss: that call and those behind it fail with ConnectionError, and the next call connects
to the master the sentinels name. Redis Cluster (`redis+cluster://`): `ClusterMultiplexedConnection`, one such
connection per node, each call sent to the node that serves the hash slot of its first key.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import socket
import ssl
from collections import deque
from collections.abc import Sequence
from typing import Any, TypeAlias, cast

import hiredis
import redis.asyncio.sentinel
import redis.exceptions
from redis._parsers.base import BaseParser
from redis.asyncio.connection import RedisSSLContext
from redis.crc import key_slot

from workers.failover import Follower, SentinelWatch, watch
from workers.redis_url import (
    RedisTarget,
    RedisUrlError,
    async_cluster,
    async_sentinel,
    cluster_error,
    is_demotion,
    no_master,
    parse,
)

WATCHDOG_SECONDS = 1.0
# Calls are written when the loop turn ends, or as soon as this many wait. One write per turn made Redis wait while
# the worker handled a whole batch of replies (50 slots: up to 50 jobs), then the worker wait while Redis ran the
# batch. `python scripts/bench_cpu_per_job.py --jobs 50000 --rounds 2`: one write per turn, 16,043 jobs/s with Redis
# 0.77 busy; every 8 calls, 19,140 jobs/s with Redis 0.95 busy (Redis-bound), the worker's CPU per job unchanged
# (34 -> 37 us). Writing every call cost 15% more CPU per job; every 16 or 32 let Redis idle again.
FLUSH_AFTER = 8
MAX_REDIRECTS = 16  # MOVED/ASK/TRYAGAIN/CLUSTERDOWN answers to one call before giving up (redis-py's request TTL)
RETRY_PAUSE_SECONDS = 0.05  # before sending again a call a migrating slot (TRYAGAIN) or a failing cluster refused
RELOAD_EVERY_MOVED = 5  # every so many MOVED, read the whole slot map again (redis-py's reinitialize_steps)
ASKING = b"*1\r\n$6\r\nASKING\r\n"


def pack(args: tuple[Any, ...]) -> bytes:
    """One command in RESP, packed by hiredis's C packer (str, bytes, int and float arguments)."""
    try:
        # (hiredis's stub types the tuple as one element long)
        packed: bytes = hiredis.pack_command(cast(Any, args))
    except UnicodeEncodeError:
        # Text with lone surrogates, kept from a job hash that was not UTF-8: back to its original bytes.
        try:
            packed = hiredis.pack_command(cast(Any, tuple(
                a.encode("utf-8", "surrogateescape") if isinstance(a, str) else a for a in args)))
        except UnicodeEncodeError as e:
            raise redis.exceptions.DataError(f"{args[0]}: an argument is not encodable text: {e}") from None
    except TypeError as e:
        raise redis.exceptions.DataError(f"{args[0]}: {e}") from None
    return packed


class _Protocol(asyncio.Protocol):
    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.loop = loop
        self.reader = hiredis.Reader(
            protocolError=redis.exceptions.InvalidResponse, replyError=BaseParser.parse_error,
            encoding="utf-8", errors="surrogateescape",
        )
        self.pending: deque[asyncio.Future[Any]] = deque()
        self.out: list[bytes] = []
        self.transport: asyncio.Transport | None = None
        self.lost: Exception | None = None
        self.waiting_since = 0.0  # loop time of the last reply, or of the first call after an idle spell
        self.follows_master = False  # sentinel: a demotion reply means "reconnect", not "this call failed"
        self.address: tuple[str, int] | None = None
        self.retiring = False  # a failover began: no new calls; close once the calls in flight are answered
        self._flush_scheduled = False
        self._closed = asyncio.Event()

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)
        sock = transport.get_extra_info("socket")
        if sock is not None and sock.family in (socket.AF_INET, socket.AF_INET6):
            # A peer that vanished without a FIN (a host or NAT gone) is found even while we are idle.
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE, 1)

    def data_received(self, data: bytes) -> None:
        self.reader.feed(data)
        pending = self.pending
        try:
            while True:
                reply = self.reader.gets()
                if reply is False:
                    break
                fut = pending.popleft()
                if fut.done():  # its caller was cancelled; the reply is still consumed, in order
                    continue
                if isinstance(reply, redis.exceptions.RedisError):
                    if self.follows_master and is_demotion(reply):
                        self.abort(redis.exceptions.ConnectionError(
                            f"the master is being demoted ({reply}); reconnecting through the sentinels"))
                        fut.set_exception(self.lost or reply)
                        continue
                    fut.set_exception(reply)
                else:
                    fut.set_result(reply)
        except (redis.exceptions.InvalidResponse, IndexError) as e:
            self.abort(redis.exceptions.ConnectionError(f"Redis sent a reply that cannot be read: {e}"))
            return
        self.waiting_since = self.loop.time()
        if self.retiring and not pending and self.transport is not None:
            self.transport.close()

    def connection_lost(self, exc: Exception | None) -> None:
        if self.lost is None:
            self.lost = redis.exceptions.ConnectionError(f"connection to Redis lost: {exc or 'closed'}")
        self.transport = None
        self._fail_pending(self.lost)
        self._closed.set()

    def abort(self, why: Exception) -> None:
        if self.lost is None:
            self.lost = why
        if self.transport is not None:
            self.transport.abort()  # connection_lost follows and fails the calls in flight
        else:
            self._fail_pending(why)

    def _fail_pending(self, why: Exception) -> None:
        while self.pending:
            fut = self.pending.popleft()
            if not fut.done():
                fut.set_exception(why)
        self.out.clear()

    def send(self, packed: bytes) -> asyncio.Future[Any]:
        fut = self.loop.create_future()
        if self.lost is not None:
            fut.set_exception(self.lost)
            return fut
        if not self.pending:
            self.waiting_since = self.loop.time()
        self.pending.append(fut)
        self.out.append(packed)
        if len(self.out) >= FLUSH_AFTER:
            self._flush()  # Redis starts on these while the rest of this turn's callers make theirs
            return fut
        if not self._flush_scheduled:
            self._flush_scheduled = True
            self.loop.call_soon(self._flush)  # after every caller ready this turn has made its call
        return fut

    def _flush(self) -> None:
        self._flush_scheduled = False
        if self.out and self.transport is not None:
            self.transport.write(b"".join(self.out))
            self.out.clear()

    async def wait_closed(self) -> None:
        await self._closed.wait()

    def retire(self, reply_timeout: float) -> None:
        """Take no more calls; close once those in flight are answered (within `reply_timeout`)."""
        self.retiring = True
        if not self.pending:
            if self.transport is not None:
                self.transport.close()
            return
        self.loop.call_later(reply_timeout, self.abort, redis.exceptions.TimeoutError(
            f"Redis did not reply within {reply_timeout} s; connection closed"))


class _RunsScripts:
    def call(self, *args: Any) -> asyncio.Future[Any]:
        raise NotImplementedError

    async def run_script(self, sha: str, source: str, keys: Sequence[Any], args: Sequence[Any]) -> Any:
        """EVALSHA; a Redis that does not know the script (restarted, or SCRIPT FLUSH) gets it with EVAL,
        which runs it and caches it again."""
        try:
            return await self.call("EVALSHA", sha, len(keys), *keys, *args)
        except redis.exceptions.NoScriptError:
            return await self.call("EVAL", source, len(keys), *keys, *args)


class MultiplexedConnection(_RunsScripts, Follower):
    """`await conn.call("EVALSHA", sha, 2, k1, k2, a1)`: the reply, or redis-py's exception for it.

    `url`: a single server's or a sentinel's (a cluster's needs `ClusterMultiplexedConnection`, or
    `script_connection`, which picks). `address`: one node of a cluster, with the URL's credentials and TLS."""

    def __init__(self, url: str | RedisTarget, *, reply_timeout: float = 30.0, connect_timeout: float = 5.0,
                 address: tuple[str, int] | None = None) -> None:
        target = url if isinstance(url, RedisTarget) else parse(url)
        if target.kind == "cluster" and address is None:
            raise RedisUrlError("a Redis Cluster needs ClusterMultiplexedConnection (script_connection picks it)")
        self.url = target.url
        self.reply_timeout = reply_timeout
        self.connect_timeout = connect_timeout
        self._target = target
        self._params: dict[str, Any] = dict(target.params)
        if address is not None:
            self._params.update(host=address[0], port=address[1])
        self._sentinel = async_sentinel(target, socket_connect_timeout=connect_timeout) \
            if target.kind == "sentinel" else None
        self._watch: SentinelWatch | None = None
        self._proto: _Protocol | None = None
        self._connecting: asyncio.Task[_Protocol] | None = None
        self._watchdog: asyncio.TimerHandle | None = None
        self._closed = False

    def call(self, *args: Any) -> asyncio.Future[Any]:
        """Queue a command for this loop turn's write; its future resolves with the reply.

        An argument Redis cannot take raises DataError here, before anything is sent."""
        packed = pack(args)
        proto = self._proto
        if proto is not None and proto.lost is None:
            return proto.send(packed)
        return asyncio.ensure_future(self._send_after_connect(packed))

    def send(self, packed: bytes) -> asyncio.Future[Any]:
        """`call` for a command already packed (the cluster's routing packs once, and may send it again). (`call`
        repeats these lines rather than calling this: it is the single server's hot path.)"""
        proto = self._proto
        if proto is not None and proto.lost is None:
            return proto.send(packed)
        return asyncio.ensure_future(self._send_after_connect(packed))

    def send_asking(self, packed: bytes) -> asyncio.Future[Any]:
        """ASKING and the command, side by side on the connection (a cluster's ASK redirection: ASKING lets only
        the next command of the connection into a slot being imported)."""
        proto = self._proto
        if proto is not None and proto.lost is None:
            return _asking_on(proto, packed)
        return asyncio.ensure_future(self._asking_after_connect(packed))

    async def _send_after_connect(self, packed: bytes) -> Any:
        proto = await self._connect()
        return await proto.send(packed)

    async def _asking_after_connect(self, packed: bytes) -> Any:
        proto = await self._connect()
        return await _asking_on(proto, packed)

    async def _connect(self) -> _Protocol:
        if self._closed:
            raise redis.exceptions.ConnectionError("connection closed")
        if self._connecting is None or self._connecting.done():
            if self._proto is not None and self._proto.lost is None:
                return self._proto
            self._connecting = asyncio.create_task(self._open())
        return await asyncio.shield(self._connecting)

    async def _open(self) -> _Protocol:
        if self._sentinel is None:
            proto = await self._open_once()
        else:
            if self._watch is None:
                self._watch = watch(self._target, self)
                await self._watch.ready()
            while True:
                await self._watch.wait_resumed()
                proto = await self._open_once()
                if not self._watch.paused:
                    break
                proto.retire(self.reply_timeout)  # a failover began while we connected: wait for its end
        self._proto = proto
        if self._watchdog is not None:
            self._watchdog.cancel()
        self._arm_watchdog()
        return proto

    def on_pause(self) -> None:
        """A failover began: new calls wait for its end (`_open`); those in flight finish on the old master."""
        proto = self._proto
        if proto is not None and proto.lost is None:
            self._proto = None
            proto.retire(self.reply_timeout)

    def on_switch(self, address: tuple[str, int]) -> None:
        """The sentinels named a new master: leave the old one now, whatever is in flight there."""
        proto = self._proto
        if proto is not None and proto.lost is None and proto.address != address:
            proto.abort(redis.exceptions.ConnectionError(
                f"the sentinels moved master {self._target.master!r} to {address[0]}:{address[1]}"))

    async def _open_once(self) -> _Protocol:
        loop = asyncio.get_running_loop()
        p = self._params
        proto: _Protocol | None = None
        try:
            async with asyncio.timeout(self.connect_timeout):
                if "path" in p:
                    _, proto = await loop.create_unix_connection(lambda: _Protocol(loop), p["path"])
                else:
                    host, port = await self._address()
                    _, proto = await loop.create_connection(
                        lambda: _Protocol(loop), host, port, ssl=self._ssl_context())
                    proto.address = (host, port)
                for command in self._handshake():
                    await proto.send(pack(command))
                if self._sentinel is not None:
                    await self._check_master(proto, host, port)
        except BaseException as e:
            if proto is not None:
                proto.abort(redis.exceptions.ConnectionError("handshake failed"))
            if isinstance(e, TimeoutError):
                raise redis.exceptions.TimeoutError(
                    f"connecting to Redis took over {self.connect_timeout} s") from None
            if isinstance(e, OSError):
                raise redis.exceptions.ConnectionError(f"cannot connect to Redis: {e}") from None
            raise
        return proto

    async def _address(self) -> tuple[str, int]:
        """Where to connect: the URL's host, or the master the sentinels name now."""
        if self._sentinel is None:
            return str(self._params.get("host", "localhost")), int(self._params.get("port", 6379))
        try:
            host, port = await self._sentinel.discover_master(self._target.master)
        except redis.asyncio.sentinel.MasterNotFoundError as e:
            raise no_master(self._target, e) from None
        return str(host), int(port)

    async def _check_master(self, proto: _Protocol, host: str, port: int) -> None:
        """What the sentinels named is a master: during a failover they may still name the one being demoted."""
        role = await proto.send(pack(("ROLE",)))
        if not role or role[0] != "master":
            raise redis.exceptions.ConnectionError(
                f"{host}:{port}, named master {self._target.master!r} by the sentinels, is a {role[0] if role else '?'}"
                "; a failover is under way")
        proto.follows_master = True

    def _ssl_context(self) -> ssl.SSLContext | None:
        p: Any = self._params
        if not self._target.tls:
            return None
        context: ssl.SSLContext = RedisSSLContext(
            keyfile=p.get("ssl_keyfile"), certfile=p.get("ssl_certfile"),
            cert_reqs=p.get("ssl_cert_reqs", "required"), ca_certs=p.get("ssl_ca_certs"),
            ca_data=p.get("ssl_ca_data"), check_hostname=p.get("ssl_check_hostname", True),
        ).get()
        return context

    def _handshake(self) -> list[tuple[Any, ...]]:
        p: Any = self._params
        out: list[tuple[Any, ...]] = []
        if p.get("password"):
            out.append(("AUTH", p["username"], p["password"]) if p.get("username") else ("AUTH", p["password"]))
        if p.get("db"):
            out.append(("SELECT", int(p["db"])))
        return out

    def _arm_watchdog(self) -> None:
        self._watchdog = asyncio.get_running_loop().call_later(WATCHDOG_SECONDS, self._check_replies)

    def _check_replies(self) -> None:
        proto = self._proto
        if proto is None or self._closed:
            return
        if proto.lost is None and proto.pending and proto.loop.time() - proto.waiting_since > self.reply_timeout:
            proto.abort(redis.exceptions.TimeoutError(
                f"Redis did not reply within {self.reply_timeout} s; connection closed"))
        if proto.lost is None:
            self._arm_watchdog()

    async def aclose(self) -> None:
        self._closed = True
        if self._watchdog is not None:
            self._watchdog.cancel()
        if self._connecting is not None and not self._connecting.done():
            self._connecting.cancel()
            with contextlib.suppress(BaseException):
                await self._connecting
        proto = self._proto
        if proto is not None:
            proto.abort(redis.exceptions.ConnectionError("connection closed"))
            await proto.wait_closed()
        if self._sentinel is not None:
            for s in self._sentinel.sentinels:
                await s.aclose()
        if self._watch is not None:
            w, self._watch = self._watch, None
            await w.release(self)


def _asking_on(proto: _Protocol, packed: bytes) -> asyncio.Future[Any]:
    asking = proto.send(ASKING)
    asking.add_done_callback(_consume)  # its OK (or the error it shares with the command) is not needed
    return proto.send(packed)


def _consume(fut: asyncio.Future[Any]) -> None:
    if not fut.cancelled():
        fut.exception()


_SCRIPTS = frozenset({"EVALSHA", "EVAL", "evalsha", "eval", "FCALL", "fcall"})
# Answers that mean the cluster did not run the call (it belongs elsewhere, or the slot is moving): sent again.
_REROUTED = (redis.exceptions.AskError, redis.exceptions.TryAgainError, redis.exceptions.ClusterDownError)


def _slot(key: Any) -> int:
    raw = key.encode("utf-8", "surrogateescape") if isinstance(key, str) else \
        key if isinstance(key, bytes) else str(key).encode()
    return int(key_slot(raw))


def _script_slot(args: tuple[Any, ...]) -> int | None:
    """A script call's slot, from its first key, without asking anyone; None for anything else."""
    if args[0] in _SCRIPTS and len(args) > 3 and args[2] not in (0, "0"):
        return _slot(args[3])
    return None


class ClusterMultiplexedConnection(_RunsScripts):
    """A MultiplexedConnection per node of a Redis Cluster; each call goes to the node serving the hash slot of its
    first key. redis-py's RedisCluster keeps the slot map (CLUSTER SLOTS) and reads the command table for the keys
    of commands other than scripts; it never carries a call.

    MOVED: the slot map is corrected (every 5th time read again whole) and the call sent to the new node; ASK: the
    call goes to the named node behind ASKING; TRYAGAIN (a multi-key call on a slot half migrated) and CLUSTERDOWN:
    sent again after a pause, the slot map read again for the latter. None of these ran the call, so sending it
    again is safe; after 16 answers of that kind it fails with ConnectionError. A connection lost to a node fails
    the calls in flight on it with ConnectionError, as on a single server, and the slot map is read again before
    the next call (the node may have been replaced by its replica). A script's calls keep their order per node."""

    def __init__(self, url: str | RedisTarget, *, reply_timeout: float = 30.0, connect_timeout: float = 5.0) -> None:
        target = url if isinstance(url, RedisTarget) else parse(url)
        if target.kind != "cluster":
            raise RedisUrlError(f"{target.kind} URL given to ClusterMultiplexedConnection")
        self.url = target.url
        self.reply_timeout = reply_timeout
        self.connect_timeout = connect_timeout
        self._target = target
        self._topology = async_cluster(target, socket_connect_timeout=connect_timeout,
                                       socket_timeout=max(5.0, connect_timeout))
        self._nodes: dict[tuple[str, int], MultiplexedConnection] = {}
        self._stale = True  # the slot map must be (re)read before the next call is routed
        self._loaded = False
        self._loading: asyncio.Future[None] | None = None
        self._moved = 0
        self._closed = False

    def call(self, *args: Any) -> asyncio.Future[Any]:
        """As MultiplexedConnection.call. A script with keys, once the slot map is known, is sent in this loop turn's
        write to its node; anything else is routed by a task."""
        packed = pack(args)
        slot = None if self._stale else _script_slot(args)
        if slot is not None:
            try:
                node = self._topology.nodes_manager.get_node_from_slot(slot)
            except redis.exceptions.SlotNotCoveredError:
                node = None
            if node is not None:
                inner = self._node(node.host, node.port).send(packed)
                outer: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
                inner.add_done_callback(functools.partial(self._settle, args, packed, outer))
                return outer
        return asyncio.ensure_future(self._route(args, packed, None))

    def _settle(self, args: tuple[Any, ...], packed: bytes, outer: asyncio.Future[Any],
                inner: asyncio.Future[Any]) -> None:
        if inner.cancelled():
            if not outer.done():
                outer.cancel()
            return
        error = inner.exception()
        if outer.done():  # its caller was cancelled
            return
        if error is None:
            outer.set_result(inner.result())
        elif isinstance(error, _REROUTED):
            _chain(asyncio.ensure_future(self._route(args, packed, error)), outer)
        else:
            self._note(error)
            outer.set_exception(error)

    async def _route(self, args: tuple[Any, ...], packed: bytes, error: BaseException | None) -> Any:
        for _ in range(MAX_REDIRECTS):
            asking = await self._follow(error) if error is not None else None
            fut = asking.send_asking(packed) if asking is not None else (await self._node_for(args)).send(packed)
            try:
                return await fut
            except _REROUTED as e:
                error = e
            except (redis.exceptions.ConnectionError, redis.exceptions.TimeoutError) as e:
                self._note(e)
                raise
        raise redis.exceptions.ConnectionError(
            f"{args[0]}: the Redis Cluster still redirected it after {MAX_REDIRECTS} tries (last: {error})")

    async def _follow(self, error: BaseException) -> MultiplexedConnection | None:
        """Act on a redirection; the node to send the call to behind ASKING, if that is what it asked."""
        if isinstance(error, redis.exceptions.MovedError):
            self._moved += 1
            if self._moved % RELOAD_EVERY_MOVED == 0 or error.slot_id not in self._topology.nodes_manager.slots_cache:
                self._stale = True
            else:
                self._topology.nodes_manager.move_slot(error)
            return None
        if isinstance(error, redis.exceptions.AskError):
            return self._node(error.host, error.port)
        if isinstance(error, redis.exceptions.ClusterDownError):
            self._stale = True
        await asyncio.sleep(RETRY_PAUSE_SECONDS)
        return None

    async def _node_for(self, args: tuple[Any, ...]) -> MultiplexedConnection:
        await self._load()
        slot = _script_slot(args)
        if slot is None and args[0] not in _SCRIPTS:
            keys = await self._topology.commands_parser.get_keys(*args)  # from Redis's own command table
            slot = _slot(keys[0]) if keys else None
        if slot is None:  # no key: any node answers
            node = self._topology.get_default_node()
        else:
            try:
                node = self._topology.nodes_manager.get_node_from_slot(slot)
            except redis.exceptions.SlotNotCoveredError:
                self._stale = True
                raise redis.exceptions.ConnectionError(f"no node of the Redis Cluster serves slot {slot}") from None
        return self._node(node.host, node.port)

    def _node(self, host: str, port: int | str) -> MultiplexedConnection:
        key = (host, int(port))
        conn = self._nodes.get(key)
        if conn is None:
            if self._closed:
                raise redis.exceptions.ConnectionError("connection closed")
            conn = self._nodes[key] = MultiplexedConnection(
                self._target, reply_timeout=self.reply_timeout, connect_timeout=self.connect_timeout, address=key)
        return conn

    def _note(self, error: BaseException) -> None:
        if isinstance(error, redis.exceptions.ConnectionError | redis.exceptions.TimeoutError):
            self._stale = True  # the node may be gone for good, its slots served by a promoted replica

    async def _load(self) -> None:
        """Read the slot map if it is stale: one reading at a time, shared by every call waiting for it."""
        if self._closed:
            raise redis.exceptions.ConnectionError("connection closed")
        if not self._stale:
            return
        if self._loading is None or self._loading.done():
            self._loading = asyncio.ensure_future(self._read_slot_map())
        await asyncio.shield(self._loading)

    async def _read_slot_map(self) -> None:
        self._stale = False  # a failure seen while reading marks it stale again
        try:
            if not self._loaded:
                await self._topology.initialize()  # the slot map and the command table
                self._loaded = True
            else:
                await self._topology.nodes_manager.initialize()
        except redis.exceptions.RedisClusterException as e:
            self._stale = True
            raise cluster_error(self._target, e) from None
        except BaseException:
            self._stale = True
            raise

    async def aclose(self) -> None:
        self._closed = True
        if self._loading is not None and not self._loading.done():
            self._loading.cancel()
            with contextlib.suppress(BaseException):
                await self._loading
        for conn in self._nodes.values():
            await conn.aclose()
        await self._topology.aclose()


def _chain(source: asyncio.Future[Any], target: asyncio.Future[Any]) -> None:
    """`target` settles as `source` does; cancelling `target` cancels `source`."""
    def settle(src: asyncio.Future[Any]) -> None:
        if target.done():
            _consume(src)
        elif src.cancelled():
            target.cancel()
        elif (e := src.exception()) is not None:
            target.set_exception(e)
        else:
            target.set_result(src.result())

    source.add_done_callback(settle)
    target.add_done_callback(lambda t: source.cancel() if t.cancelled() else None)


ScriptConnection: TypeAlias = MultiplexedConnection | ClusterMultiplexedConnection


def script_connection(url: str, *, reply_timeout: float = 30.0, connect_timeout: float = 5.0) -> ScriptConnection:
    """The workers' script connection for any Redis URL: a cluster's routes by slot, any other is one connection."""
    target = parse(url)
    if target.kind == "cluster":
        return ClusterMultiplexedConnection(target, reply_timeout=reply_timeout, connect_timeout=connect_timeout)
    return MultiplexedConnection(target, reply_timeout=reply_timeout, connect_timeout=connect_timeout)

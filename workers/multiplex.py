"""One multiplexed Redis connection for a worker's script calls, as ioredis runs Node BullMQ's.

Why: a busy worker makes one script call per job, tens of thousands a second. redis-py's asyncio client
spends more CPU per call than Redis spends running the script: a pool checkout, a pipeline object, a
timeout context and a stream read per reply. Here every call of an event-loop turn is packed by hiredis
and written to one socket in one write; replies are parsed by hiredis as bytes arrive and each
caller's future is resolved in order, so no call waits for another's reply.

What it keeps of a Redis client: the URL's address, TLS, password, user and database (parsed by
redis-py); replies decoded as UTF-8 with `surrogateescape`; redis-py's exception classes
(`ResponseError`, `NoScriptError`, `ConnectionError`, `TimeoutError`), so callers handle errors as
before; reconnecting on the next call after a connection is lost. A reply that takes longer than
`reply_timeout` closes the connection and fails every call on it with a TimeoutError, since the replies
behind it can no longer be matched to their calls.

Order: calls reach Redis in the order they were made, on one connection, until it is lost.
Calls are made from the event loop's thread (a `def` processor's job writes are handed to it).
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import ssl
from collections import deque
from collections.abc import Sequence
from typing import Any, cast

import hiredis
import redis.exceptions
from redis._parsers.base import BaseParser
from redis.asyncio.connection import RedisSSLContext, parse_url

WATCHDOG_SECONDS = 1.0


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
                    fut.set_exception(reply)
                else:
                    fut.set_result(reply)
        except (redis.exceptions.InvalidResponse, IndexError) as e:
            self.abort(redis.exceptions.ConnectionError(f"Redis sent a reply that cannot be read: {e}"))
            return
        self.waiting_since = self.loop.time()

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


class MultiplexedConnection:
    """`await conn.call("EVALSHA", sha, 2, k1, k2, a1)`: the reply, or redis-py's exception for it."""

    def __init__(self, url: str, *, reply_timeout: float = 30.0, connect_timeout: float = 5.0) -> None:
        self.url = url
        self.reply_timeout = reply_timeout
        self.connect_timeout = connect_timeout
        self._params = parse_url(url)
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

    async def run_script(self, sha: str, source: str, keys: Sequence[Any], args: Sequence[Any]) -> Any:
        """EVALSHA; a Redis that does not know the script (restarted, or SCRIPT FLUSH) gets it with EVAL,
        which runs it and caches it again."""
        try:
            return await self.call("EVALSHA", sha, len(keys), *keys, *args)
        except redis.exceptions.NoScriptError:
            return await self.call("EVAL", source, len(keys), *keys, *args)

    async def _send_after_connect(self, packed: bytes) -> Any:
        proto = await self._connect()
        return await proto.send(packed)

    async def _connect(self) -> _Protocol:
        if self._closed:
            raise redis.exceptions.ConnectionError("connection closed")
        if self._connecting is None or self._connecting.done():
            if self._proto is not None and self._proto.lost is None:
                return self._proto
            self._connecting = asyncio.create_task(self._open())
        return await asyncio.shield(self._connecting)

    async def _open(self) -> _Protocol:
        loop = asyncio.get_running_loop()
        p = self._params
        proto: _Protocol | None = None
        try:
            async with asyncio.timeout(self.connect_timeout):
                if "path" in p:
                    _, proto = await loop.create_unix_connection(lambda: _Protocol(loop), p["path"])
                else:
                    _, proto = await loop.create_connection(
                        lambda: _Protocol(loop), p.get("host", "localhost"), p.get("port", 6379),
                        ssl=self._ssl_context())
                for command in self._handshake():
                    await proto.send(pack(command))
        except BaseException as e:
            if proto is not None:
                proto.abort(redis.exceptions.ConnectionError("handshake failed"))
            if isinstance(e, TimeoutError):
                raise redis.exceptions.TimeoutError(
                    f"connecting to Redis took over {self.connect_timeout} s") from None
            if isinstance(e, OSError):
                raise redis.exceptions.ConnectionError(f"cannot connect to Redis: {e}") from None
            raise
        self._proto = proto
        if self._watchdog is not None:
            self._watchdog.cancel()
        self._arm_watchdog()
        return proto

    def _ssl_context(self) -> ssl.SSLContext | None:
        p: Any = self._params
        if not self.url.startswith("rediss://"):
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

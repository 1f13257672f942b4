"""Following a Sentinel failover as it happens, from the sentinels' own announcements.

Why: redis-py asks the sentinels where the master is only when it connects, and nothing makes it connect again
after a failover until the old master, reconfigured as a replica about ten seconds later, drops its clients.
Meanwhile the old master still takes writes, and every write it takes after its replica was promoted is lost:
a job fetched there runs again elsewhere, a completion recorded there is undone. So every connection here listens
(one subscription per process and event loop, to every sentinel) and:

- at `+try-failover` for our master, holds its new calls (calls already sent finish on the old master, which is
  still replicated: the sentinel promotes the replica a few hundred milliseconds after announcing the attempt);
- at `+switch-master`, connects to the new master and sends what it held; at a `-failover-abort-*`, carries on
  with the old one; after `MAX_PAUSE_SECONDS` without either, carries on with whatever master the sentinels then
  name (a failover that stalls must not stall corral for good). Not at `+failover-end`: it comes before
  `+switch-master`, while the sentinels' SENTINEL MASTERS, which redis-py asks, still names the old master.

What is decided from each announcement is a pure function (`step`); `SentinelWatch` only listens and tells.
The workers' script connection (workers/multiplex.py) and the asyncio clients of workers/redis_clients.py follow
it. The threaded client (the lock keeper's) asks the sentinels at most once a second, before a command, whether
the master moved: it renews locks every 15 s, and one renewal lost to the old master costs nothing.

Besides, a master that is being demoted answers READONLY, NOREPLICAS or UNBLOCKED (see `is_demotion`); the
connections here turn those into a ConnectionError and ask the sentinels again at the next connect, where
redis-py's only does so for READONLY.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
import weakref
from dataclasses import dataclass
from typing import Any

import redis.asyncio.connection
import redis.asyncio.sentinel
import redis.connection
import redis.exceptions
import redis.sentinel

from workers.redis_url import RedisTarget, async_sentinel, demoted, is_demotion

log = logging.getLogger("corral.redis")

MAX_PAUSE_SECONDS = 10.0
SUBSCRIBE_WAIT_SECONDS = 2.0  # how long a first connection waits for the subscriptions to be in place
RETRY_SECONDS = (0.2, 0.5, 1.0, 2.0, 5.0)  # backoff while a sentinel is unreachable


@dataclass(frozen=True)
class Step:
    """What an announcement means for the clients of one master."""

    paused: bool
    new_master: tuple[str, int] | None = None


def step(paused: bool, channel: str, data: str, master: str) -> Step:
    """The state after a sentinel's announcement on `channel` (its payload `data`), for the master named `master`.

    `+try-failover master NAME IP PORT` pauses; `+switch-master NAME OLD_IP OLD_PORT NEW_IP NEW_PORT` resumes on
    the new address; `-failover-abort-*` (same payload as +try-failover) resumes. Anything else, or about another
    master, changes nothing."""
    parts = data.split()
    if channel == "+switch-master":
        if len(parts) == 5 and parts[0] == master and parts[4].isdigit():
            return Step(False, (parts[3], int(parts[4])))
        return Step(paused)
    about_us = len(parts) >= 2 and parts[0] == "master" and parts[1] == master
    if not about_us:
        return Step(paused)
    if channel == "+try-failover":
        return Step(True)
    if channel.startswith("-failover-abort"):
        return Step(False)
    return Step(paused)


class Follower:
    """What a client does when told (both called on the event loop's thread)."""

    def on_pause(self) -> None:
        pass

    def on_switch(self, address: tuple[str, int]) -> None:
        pass


class SentinelWatch:
    """One process's subscription to a master's failover announcements, shared by every client of that master in one
    event loop (`watch(target)`); it stops when the last client lets go (`release`)."""

    def __init__(self, target: RedisTarget) -> None:
        self.target = target
        self.master = target.master
        self.paused = False
        self._followers: set[Follower] = set()
        self._resumed = asyncio.Event()
        self._resumed.set()
        self._subscribed = asyncio.Event()  # the first subscription attempt of each sentinel is over
        self._pause_timer: asyncio.TimerHandle | None = None
        self._sentinel = async_sentinel(target, read_timeout=None)  # subscriptions: silent for days, not dead
        self._tasks: list[asyncio.Task[None]] = []

    def add(self, follower: Follower) -> None:
        self._followers.add(follower)
        if not self._tasks:
            self._tasks = [asyncio.create_task(self._listen(s), name=f"sentinel watch {self.master}")
                           for s in self._sentinel.sentinels]

    async def release(self, follower: Follower) -> None:
        self._followers.discard(follower)
        if self._followers:
            return
        _forget(self)
        for t in self._tasks:
            t.cancel()
        for t in self._tasks:
            with contextlib.suppress(BaseException):
                await t
        self._tasks = []
        for s in self._sentinel.sentinels:
            await s.aclose()

    async def ready(self) -> None:
        """Once the subscriptions are in place (or the first attempt failed), so that a failover that starts right
        after a client's first call is not missed. Bounded: an unreachable sentinel must not delay the client."""
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(SUBSCRIBE_WAIT_SECONDS):
                await self._subscribed.wait()

    async def wait_resumed(self) -> None:
        """Return at once unless a failover is under way; then when it ends (at most MAX_PAUSE_SECONDS)."""
        if not self.paused:
            return
        await self._resumed.wait()

    def apply(self, channel: str, data: str) -> None:
        before = self.paused
        s = step(self.paused, channel, data, self.master)
        if s.paused and not before:
            log.warning("sentinels: failover of %r started; holding new Redis calls until it ends", self.master)
            self.paused = True
            self._resumed.clear()
            self._pause_timer = asyncio.get_running_loop().call_later(MAX_PAUSE_SECONDS, self._give_up)
            for f in list(self._followers):
                f.on_pause()
        if s.new_master is not None:
            log.warning("sentinels: master %r is now %s:%s", self.master, *s.new_master)
            for f in list(self._followers):
                f.on_switch(s.new_master)
        if before and not s.paused:
            self._resume()

    def _give_up(self) -> None:
        log.warning("sentinels: failover of %r not over after %g s; carrying on with the master they name",
                    self.master, MAX_PAUSE_SECONDS)
        self._resume()

    def _resume(self) -> None:
        self.paused = False
        if self._pause_timer is not None:
            self._pause_timer.cancel()
            self._pause_timer = None
        self._resumed.set()

    async def _listen(self, sentinel: redis.asyncio.Redis) -> None:
        failures = 0
        while True:
            try:
                async with sentinel.pubsub() as ps:
                    await ps.psubscribe("*")
                    self._subscribed.set()
                    failures = 0
                    async for msg in ps.listen():
                        if msg.get("type") == "pmessage":
                            self.apply(_text(msg["channel"]), _text(msg["data"]))
            except (redis.exceptions.ConnectionError, redis.exceptions.TimeoutError, OSError) as e:
                self._subscribed.set()  # do not hold a first connection back for a sentinel that is down
                if failures == 2:
                    log.warning("sentinel %s unreachable (%s); failovers are followed through the others or on "
                                "reconnection", _where(sentinel), e)
                await asyncio.sleep(RETRY_SECONDS[min(failures, len(RETRY_SECONDS) - 1)])
                failures += 1


def _text(v: Any) -> str:
    return v.decode("utf-8", "replace") if isinstance(v, bytes) else str(v)


def _where(sentinel: redis.asyncio.Redis) -> str:
    kw = sentinel.connection_pool.connection_kwargs
    return f"{kw.get('host')}:{kw.get('port')}"


# One watch per event loop and master: worker processes make their own (a fork's loop is new).
_watches: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, dict[tuple[Any, ...], SentinelWatch]] = \
    weakref.WeakKeyDictionary()


def _key(target: RedisTarget) -> tuple[Any, ...]:
    return (target.nodes, target.master, tuple(sorted(target.sentinel_params.items())))


def watch(target: RedisTarget, follower: Follower) -> SentinelWatch:
    """The running loop's watch of `target`'s master, with `follower` told of its failovers."""
    loop = asyncio.get_running_loop()
    per_loop = _watches.setdefault(loop, {})
    w = per_loop.get(_key(target))
    if w is None:
        w = per_loop[_key(target)] = SentinelWatch(target)
    w.add(follower)
    return w


def _forget(w: SentinelWatch) -> None:
    for per_loop in _watches.values():
        if per_loop.get(_key(w.target)) is w:
            del per_loop[_key(w.target)]



# -- redis-py's Sentinel-managed connections, following ----------------------------------------------------------

SYNC_CHECK_SECONDS = 1.0


class AsyncFollowingConnection(redis.asyncio.sentinel.SentinelManagedConnection):  # type: ignore[misc]
    _resolved = False

    async def connect_to(self, address: Any) -> None:
        self._resolved = True
        try:
            await super().connect_to(address)
        finally:
            self._resolved = False

    async def connect_check_health(self, *args: Any, **kwargs: Any) -> Any:
        # redis-py reconnects a dropped connection (when a command is sent on it) through here, to the address it
        # had, not through connect(), which asks the sentinels: a client holding one connection would go back to
        # the old master. Ask them.
        if self._resolved or not self.connection_pool.is_master:
            return await super().connect_check_health(*args, **kwargs)
        return await self.connect()

    async def read_response(self, *args: Any, **kwargs: Any) -> Any:
        try:
            return await super().read_response(*args, **kwargs)
        except redis.exceptions.ResponseError as e:
            if not is_demotion(e):
                raise
            await self.disconnect()  # the next connect asks the sentinels again
            raise demoted(self.host, self.port, e) from e


class AsyncFollowingTLSConnection(AsyncFollowingConnection, redis.asyncio.connection.SSLConnection):  # type: ignore[misc]
    pass


class AsyncFollowingPool(redis.asyncio.sentinel.SentinelConnectionPool, Follower):  # type: ignore[misc]
    """redis-py's pool for a sentinel-watched master, which also holds new commands during a failover and drops
    every connection to the old master at `+switch-master` (a blocked call fails with ConnectionError and its
    caller retries on the new master)."""

    def __init__(self, target: RedisTarget, **kwargs: Any) -> None:
        connection_class = AsyncFollowingTLSConnection if target.tls else AsyncFollowingConnection
        super().__init__(target.master, async_sentinel(target, **kwargs), connection_class=connection_class,
                         **{**target.params, **kwargs})
        self.target = target
        self._watch: SentinelWatch | None = None
        self._switching: asyncio.Future[None] | None = None

    async def get_connection(self, *args: Any, **kwargs: Any) -> Any:
        if self._watch is None:
            self._watch = watch(self.target, self)
            await self._watch.ready()
        await self._watch.wait_resumed()
        if self._switching is not None:
            await asyncio.shield(self._switching)  # no connection to the old master is handed out again
        return await super().get_connection(*args, **kwargs)

    def on_switch(self, address: tuple[str, int]) -> None:
        self._switching = asyncio.ensure_future(super().disconnect(inuse_connections=True))

    async def disconnect(self, inuse_connections: bool = True) -> None:
        await super().disconnect(inuse_connections)
        if not inuse_connections:
            return  # redis-py's sweep of idle connections when the master moved, not a close
        # The client's close: let go of the watch and of the sentinels' connections too.
        if self._watch is not None:
            w, self._watch = self._watch, None
            await w.release(self)
        for s in self.sentinel_manager.sentinels:
            await s.connection_pool.disconnect()


class SyncFollowingConnection(redis.sentinel.SentinelManagedConnection):  # type: ignore[misc]
    _resolved = False

    def connect_to(self, address: Any) -> None:
        self._resolved = True
        try:
            super().connect_to(address)
        finally:
            self._resolved = False

    def connect_check_health(self, *args: Any, **kwargs: Any) -> Any:
        # As AsyncFollowingConnection's.
        if self._resolved or not self.connection_pool.is_master:
            return super().connect_check_health(*args, **kwargs)
        return self.connect()

    def read_response(self, *args: Any, **kwargs: Any) -> Any:
        try:
            return super().read_response(*args, **kwargs)
        except redis.exceptions.ResponseError as e:
            if not is_demotion(e):
                raise
            self.disconnect()
            raise demoted(self.host, self.port, e) from e


class SyncFollowingTLSConnection(SyncFollowingConnection, redis.connection.SSLConnection):  # type: ignore[misc]
    pass


class SyncFollowingPool(redis.sentinel.SentinelConnectionPool):  # type: ignore[misc]
    """redis-py's pool for a sentinel-watched master, which asks the sentinels at most once a second, before a
    command, where the master is: redis-py's own sweep then drops the idle connections to the old one."""

    def __init__(self, target: RedisTarget, sentinel: redis.sentinel.Sentinel, **kwargs: Any) -> None:
        connection_class = SyncFollowingTLSConnection if target.tls else SyncFollowingConnection
        super().__init__(target.master, sentinel, connection_class=connection_class, **{**target.params, **kwargs})
        self._checked_at = 0.0

    def get_connection(self, *args: Any, **kwargs: Any) -> Any:
        now = time.monotonic()
        if now - self._checked_at >= SYNC_CHECK_SECONDS:
            self._checked_at = now
            with contextlib.suppress(redis.exceptions.ConnectionError, redis.exceptions.TimeoutError):
                self.get_master_address()  # unreachable sentinels: carry on with the connection we have
        return super().get_connection(*args, **kwargs)

    def disconnect(self, inuse_connections: bool = True) -> None:
        super().disconnect(inuse_connections)
        if inuse_connections:
            for s in self.sentinel_manager.sentinels:
                s.connection_pool.disconnect()

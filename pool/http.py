"""The daemon's one HTTP server: uvicorn serving a FastAPI app inside the supervisor's event loop.

The socket is bound here, before uvicorn starts, so a port in use is a clear error at start (uvicorn itself
would call sys.exit from inside the loop).

uvicorn times out idle keep-alive connections but never a request still arriving: a client that trickles
its headers or body a byte at a time holds a connection (and the memory behind it) for ever, and a few
hundred of them starve the dashboard. `GuardedH11Protocol` gives each request `header_timeout` seconds
for its headers and `body_timeout` for its body, then answers 408 and closes. It also caps open
connections at `max_connections`: a new one beyond it closes the connection that has owed a request the
longest (408), and is refused (503) only when every connection is serving a request. uvicorn's
`limit_concurrency` would instead answer 503 to everyone while slow clients hold the slots. HTTP/1.1 runs
one request at a time per connection, so this caps requests too.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
from collections.abc import Iterator

import h11
import uvicorn
from fastapi import FastAPI
from uvicorn.protocols.http.h11_impl import H11Protocol

from pool.config import HttpConfig

log = logging.getLogger("corral.http")


class HttpBindError(Exception):
    pass


class _Server(uvicorn.Server):
    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield  # SIGTERM/SIGINT belong to the supervisor, which drains the pool before stopping this server


class GuardedH11Protocol(H11Protocol):
    """uvicorn's h11 protocol with deadlines on the request still arriving, and a connection cap."""

    header_timeout = 10.0
    body_timeout = 30.0
    max_connections = 100
    _phase = ""  # what the deadline running now waits for: "headers", "body" or nothing
    _deadline: asyncio.TimerHandle | None = None
    _waiting_since: float | None = None  # since when the client owes us a request (None: one is being served)

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._watch(fresh=True)
        if self._open_connections() > self.max_connections and not self._make_room():
            log.debug("refused a connection from %s: %d open, all serving requests", self.client,
                      self.max_connections)
            self._answer_and_close(503, f"too many connections (at most {self.max_connections})")

    def data_received(self, data: bytes) -> None:
        super().data_received(data)
        self._watch()

    def on_response_complete(self) -> None:
        super().on_response_complete()
        self._watch()

    def connection_lost(self, exc: Exception | None) -> None:
        self._arm("")
        super().connection_lost(exc)

    def _open_connections(self) -> int:
        return sum(1 for c in self.connections if not c.transport.is_closing())

    def _make_room(self) -> bool:
        """Full: close the connection that has owed us a request the longest (a slow client, or an idle
        keep-alive one) so this one gets its turn. A flood of slow clients then pushes out its own oldest,
        and a client that sends its request at once is served. False if every connection is serving one."""
        waiting = [c for c in self.connections if isinstance(c, GuardedH11Protocol) and c is not self
                   and c._waiting_since is not None and not c.transport.is_closing()]
        if not waiting:
            return False
        oldest = min(waiting, key=lambda c: c._waiting_since or 0.0)
        log.debug("closed a connection from %s to make room (at most %d)", oldest.client, self.max_connections)
        if oldest._phase == "headers":
            oldest._answer_and_close(408, f"closed for a newer connection (at most {self.max_connections})")
        else:
            oldest.transport.close()  # idle between requests: as uvicorn's keep-alive timeout does
        return True

    def _watch(self, *, fresh: bool = False) -> None:
        """Arm the deadline for what the client still owes. The phase's deadline is not moved by data that
        arrives within it: a byte now and then must not keep a request going."""
        state = self.conn.their_state
        if state is h11.IDLE:
            if self._waiting_since is None:
                self._waiting_since = self.loop.time()
        else:
            self._waiting_since = None
        if state is h11.SEND_BODY:
            self._arm("body")
        elif state is h11.IDLE and (fresh or self.conn.trailing_data[0]):
            self._arm("headers")  # a new connection, or part of the next request (idle: uvicorn's keep-alive)
        else:
            self._arm("")

    def _arm(self, phase: str) -> None:
        if phase == self._phase:
            return
        if self._deadline is not None:
            self._deadline.cancel()
            self._deadline = None
        self._phase = phase
        if phase:
            timeout = self.header_timeout if phase == "headers" else self.body_timeout
            self._deadline = self.loop.call_later(timeout, self._expired)

    def _expired(self) -> None:
        phase, self._deadline = self._phase, None
        if self.transport.is_closing():
            return
        timeout = self.header_timeout if phase == "headers" else self.body_timeout
        log.debug("closed a connection from %s: the request's %s took over %gs", self.client, phase, timeout)
        cycle = self.cycle if phase == "body" else None
        if cycle is not None:
            # The app may be waiting for the body: it sees the client gone, and its answer goes nowhere.
            cycle.disconnected = True
            cycle.message_event.set()
            if cycle.response_started:
                self.transport.close()
                return
        self._answer_and_close(408, f"the request's {phase} did not arrive within {timeout:g}s")

    def _answer_and_close(self, status: int, message: str) -> None:
        body = message.encode()
        reason = {408: b"Request Timeout", 503: b"Service Unavailable"}[status]
        self.transport.write(b"HTTP/1.1 %d %s\r\ncontent-type: text/plain; charset=utf-8\r\nconnection: close\r\n"
                             b"content-length: %d\r\n\r\n%s" % (status, reason, len(body), body))
        self.transport.close()


def guarded_protocol(cfg: HttpConfig) -> type[GuardedH11Protocol]:
    class Protocol(GuardedH11Protocol):
        header_timeout = cfg.header_timeout
        body_timeout = cfg.body_timeout
        max_connections = cfg.max_connections

    return Protocol


class HttpServer:
    def __init__(self, cfg: HttpConfig, app: FastAPI) -> None:
        self.cfg = cfg
        self.app = app
        self.port = cfg.port
        self._server: _Server | None = None
        self._task: asyncio.Task[None] | None = None
        self._sock: socket.socket | None = None

    async def start(self) -> int:
        sock = socket.socket(socket.AF_INET6 if ":" in self.cfg.host else socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((self.cfg.host, self.cfg.port))
        except OSError as e:
            sock.close()
            raise HttpBindError(f"cannot serve HTTP on {self.cfg.host}:{self.cfg.port}: {e.strerror} "
                                "(set [http] port or CORRAL_HTTP_PORT, or [http] enabled = false)") from None
        sock.set_inheritable(False)  # forked workers must not hold the listening socket
        self._sock = sock
        self.port = sock.getsockname()[1]
        config = uvicorn.Config(self.app, log_config=None, access_log=False, lifespan="off",
                                timeout_graceful_shutdown=5, http=guarded_protocol(self.cfg))
        self._server = _Server(config)
        self._task = asyncio.create_task(self._server.serve(sockets=[sock]))
        while not self._server.started:
            if self._task.done():
                self._task.result()
                raise HttpBindError("the HTTP server stopped while starting")
            await asyncio.sleep(0.01)
        log.info("HTTP on http://%s:%d (%s)", self.cfg.host, self.port,
                 "access token required" if self.cfg.access_token else "no access token: loopback only")
        return self.port

    @property
    def started(self) -> bool:
        return self._server is not None and self._server.started

    def filenos(self) -> tuple[int, ...]:
        return (self._sock.fileno(),) if self._sock is not None and self._sock.fileno() >= 0 else ()

    async def stop(self) -> None:
        if self._server is None or self._task is None:
            return
        self._server.should_exit = True
        try:
            await asyncio.wait_for(self._task, 10)
        except (TimeoutError, asyncio.CancelledError):
            self._task.cancel()

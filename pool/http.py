"""The daemon's one HTTP server: uvicorn serving a FastAPI app inside the supervisor's event loop.

The socket is bound here, before uvicorn starts, so a port in use is a clear error at start (uvicorn itself
would call sys.exit from inside the loop).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
from collections.abc import Iterator

import uvicorn
from fastapi import FastAPI

from pool.config import HttpConfig

log = logging.getLogger("corral.http")


class HttpBindError(Exception):
    pass


class _Server(uvicorn.Server):
    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield  # SIGTERM/SIGINT belong to the supervisor, which drains the pool before stopping this server


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
                                timeout_graceful_shutdown=5)
        self._server = _Server(config)
        self._task = asyncio.create_task(self._server.serve(sockets=[sock]))
        while not self._server.started:
            if self._task.done():
                self._task.result()
                raise HttpBindError("the HTTP server stopped while starting")
            await asyncio.sleep(0.01)
        log.info("HTTP on http://%s:%d", self.cfg.host, self.port)
        return self.port

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

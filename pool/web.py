"""The daemon's HTTP application: the routes each feature mounts on the one server (pool/http.py)."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable

from fastapi import FastAPI

from workers.myst.settings import SECRET_ENV, load_settings, secret

log = logging.getLogger("corral.http")


class WebApp:
    def __init__(self, redis_url: str, prefix: str, served: set[str]) -> None:
        self.app = FastAPI(title="corral", version="1", summary="BullMQ worker pool daemon",
                           docs_url="/docs", redoc_url=None)
        self._closers: list[Callable[[], Awaitable[None]]] = []
        token = secret()
        if token:
            from pool.intake import Intake

            settings = load_settings()
            if settings.queue not in served:
                # Legitimate when other hosts build, so not an error; but on one host the jobs would wait forever.
                log.warning("MYST intake queues jobs on %r, which this daemon does not consume (no [[queues]] "
                            "entry); they wait for another corral to take them", settings.queue)
            intake = Intake(redis_url, prefix, settings, token)
            self.app.include_router(intake.router)
            self._closers.append(intake.close)
        else:
            log.warning("MYST intake route off: %s is not set", SECRET_ENV)

    async def close(self) -> None:
        for close in self._closers:
            await close()

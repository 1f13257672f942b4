"""The daemon's HTTP application: the routes each feature mounts on the one server (pool/http.py).

- `/healthz`, `/readyz`: probes for a process manager or Kubernetes (pool/health.py)
- `/metrics`: Prometheus (pool/prometheus.py)
- `/`, `/api/snapshot`, `/api/events`: the live dashboard (pool/dashboard.py)
- `/v1/services/process-journal-submission`: the MYST intake route, when a secret is set (pool/intake.py)

With `[http] token` set, everything but `/healthz` and the intake route (which has its own secret) needs it
(pool/access.py).
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING

from fastapi import FastAPI

from pool.access import TokenGuard
from pool.dashboard import Dashboard
from pool.health import health_router
from pool.prometheus import metrics_endpoint
from workers.myst.settings import SECRET_ENV, load_settings, secret

if TYPE_CHECKING:
    from pool.supervisor import Supervisor

log = logging.getLogger("corral.http")


class WebApp:
    def __init__(self, sup: Supervisor) -> None:
        self.app = FastAPI(title="corral", version="1", summary="BullMQ worker pool daemon",
                           docs_url="/docs", redoc_url=None)
        self._closers: list[Callable[[], Awaitable[None]]] = []
        self.app.include_router(health_router(sup))
        self.app.add_api_route("/metrics", metrics_endpoint(sup), methods=["GET"], include_in_schema=False)
        self.dashboard = Dashboard(sup)
        self.app.include_router(self.dashboard.router)
        self._closers.append(self.dashboard.close)
        intake_path = self._mount_intake(sup)
        http = sup.cfg.http
        if http.access_token:
            self.app.add_middleware(TokenGuard, token=http.access_token, open_monitoring=http.open_monitoring,
                                    own_auth_prefixes=[intake_path] if intake_path else [])

    def _mount_intake(self, sup: Supervisor) -> str | None:
        """Mount the MYST intake route if its secret is set; its path, which that secret guards."""
        token = secret()
        if not token:
            log.warning("MYST intake route off: %s is not set", SECRET_ENV)
            return None
        from pool.intake import PATH, Intake

        settings = load_settings()
        if settings.queue not in {q.name for q in sup.cfg.queues}:
            # Legitimate when other hosts build, so not an error; but on one host the jobs would wait forever.
            log.warning("MYST intake queues jobs on %r, which this daemon does not consume (no [[queues]] "
                        "entry); they wait for another corral to take them", settings.queue)
        intake = Intake(sup.redis_url, sup.prefix, settings, token)
        self.app.include_router(intake.router)
        self._closers.append(intake.close)
        return PATH

    async def close(self) -> None:
        for close in self._closers:
            await close()

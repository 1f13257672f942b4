"""The daemon's HTTP application: the routes each feature mounts on the one server (pool/http.py).

- `/healthz`, `/readyz`: probes for a process manager or Kubernetes (pool/health.py)
- `/metrics`: Prometheus (pool/prometheus.py)
- `/`, `/api/snapshot`, `/api/events`: the live dashboard (pool/dashboard.py)
- the job types' own routes (the MYST intake, for one), from their plug-ins

Everything here reads the pool through PoolState (pool/state.py). With `[http] token` set, everything but
`/healthz` and routes that check their own secret needs it (pool/access.py).
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable

from fastapi import FastAPI

from pool.access import TokenGuard
from pool.config import CorralConfig
from pool.dashboard import Dashboard
from pool.health import health_router
from pool.prometheus import metrics_endpoint
from pool.state import PoolState
from workers.jobtype import RouteContext, Routes

log = logging.getLogger("corral.http")


def jobtype_routes(cfg: CorralConfig, redis_url: str) -> list[Routes]:
    """Each enabled job type's routes (a job type may decline, e.g. the MYST intake without its secret)."""
    served = frozenset(q.name for q in cfg.queues)
    out = []
    for name, jt in cfg.jobtypes.items():
        if jt.routes is None:
            continue
        routes = jt.routes(RouteContext(redis_url=redis_url, prefix=cfg.redis.prefix,
                                        settings=cfg.jobtype_settings.get(name), place=cfg.place,
                                        served_queues=served))
        if routes is not None:
            out.append(routes)
    return out


class WebApp:
    def __init__(self, state: PoolState, ping: Callable[[], Awaitable[object]], cfg: CorralConfig,
                 routes: list[Routes]) -> None:
        self.app = FastAPI(title="corral", version="1", summary="BullMQ worker pool daemon",
                           docs_url="/docs", redoc_url=None)
        self._closers: list[Callable[[], Awaitable[None]]] = []
        self.app.include_router(health_router(state, ping))
        self.app.add_api_route("/metrics", metrics_endpoint(state), methods=["GET"], include_in_schema=False)
        self.dashboard = Dashboard(state)
        self.app.include_router(self.dashboard.router)
        self._closers.append(self.dashboard.close)
        own_auth = []
        for r in routes:
            self.app.include_router(r.router)
            if r.close is not None:
                self._closers.append(r.close)
            if r.own_auth_prefix:
                own_auth.append(r.own_auth_prefix)
        http = cfg.http
        if http.access_token:
            self.app.add_middleware(TokenGuard, token=http.access_token, open_monitoring=http.open_monitoring,
                                    own_auth_prefixes=own_auth)

    async def close(self) -> None:
        for close in self._closers:
            await close()

"""Probes: `/healthz` (the supervisor's loop is turning) and `/readyz` (it can do its job right now).

Liveness does not look at Redis: a Redis outage is not cured by restarting corral, and a liveness probe
that failed on it would have Kubernetes kill every daemon at once. Readiness does.
"""

from __future__ import annotations

import asyncio
import time
from typing import TYPE_CHECKING, Any

import redis.exceptions
from fastapi import APIRouter
from fastapi.responses import JSONResponse

if TYPE_CHECKING:
    from pool.supervisor import Supervisor

# The loop ticks every 0.25 s; a backlog probe against a hanging Redis can hold one step for its 10 s
# socket timeout. Silence beyond this means the loop is stuck.
STUCK_AFTER_SECONDS = 30.0
REDIS_PING_TIMEOUT = 1.0


def health_router(sup: Supervisor) -> APIRouter:
    router = APIRouter(tags=["health"])

    @router.get("/healthz", summary="Liveness: the supervisor's loop is turning")
    async def healthz() -> JSONResponse:
        silent = time.time() - sup.last_step_at
        ok = silent < STUCK_AFTER_SECONDS
        return JSONResponse({"ok": ok, "daemonId": sup.daemon_id, "loopSilentSeconds": round(silent, 2)},
                            status_code=200 if ok else 503)

    @router.get("/readyz", summary="Readiness: Redis answers and at least min_workers are ready")
    async def readyz() -> JSONResponse:
        checks: dict[str, Any] = {}
        redis_ok = await _ping(sup)
        checks["redis"] = "ok" if redis_ok is None else redis_ok
        ready = sum(1 for w in sup.workers.values() if w.ready and w.drain_requested_at is None)
        wanted = sup.cfg.pool.min_workers
        checks["workers"] = f"{ready} ready of min {wanted}"
        checks["stopping"] = sup.stopping
        ok = redis_ok is None and ready >= wanted and not sup.stopping
        return JSONResponse({"ok": ok, "daemonId": sup.daemon_id, "checks": checks},
                            status_code=200 if ok else 503)

    return router


async def _ping(sup: Supervisor) -> str | None:
    """None when Redis answers, else why not."""
    if sup.client is None:
        return "not connected"
    try:
        await asyncio.wait_for(sup.client.ping(), REDIS_PING_TIMEOUT)
        return None
    except TimeoutError:
        return f"no answer within {REDIS_PING_TIMEOUT:g}s"
    except (redis.exceptions.RedisError, OSError) as e:
        return f"{type(e).__name__}: {e}"

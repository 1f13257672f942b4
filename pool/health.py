"""Probes: `/healthz` (the supervisor's loop is turning) and `/readyz` (it can do its job right now).

Liveness does not look at Redis: a Redis outage is not cured by restarting corral, and a liveness probe
that failed on it would have Kubernetes kill every daemon at once. Readiness does.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import Any

import redis.exceptions
from fastapi import APIRouter
from fastapi.responses import JSONResponse

from pool.state import PoolState

# The loop ticks every 0.25 s; a backlog probe against a hanging Redis can hold one step for its 10 s
# socket timeout. Silence beyond this means the loop is stuck.
STUCK_AFTER_SECONDS = 30.0
REDIS_PING_TIMEOUT = 1.0


def health_router(state: PoolState, ping: Callable[[], Awaitable[object]]) -> APIRouter:
    router = APIRouter(tags=["health"])

    @router.get("/healthz", summary="Liveness: the supervisor's loop is turning")
    async def healthz() -> JSONResponse:
        silent = time.time() - state.last_step_at
        ok = silent < STUCK_AFTER_SECONDS
        body: dict[str, Any] = {"ok": ok, "daemonId": state.daemon_id, "loopSilentSeconds": round(silent, 2)}
        if state.tasks_down:
            body["tasksRestarting"] = dict(state.tasks_down)  # shown, not fatal: they come back by themselves
        return JSONResponse(body, status_code=200 if ok else 503)

    @router.get("/readyz", summary="Readiness: Redis answers and at least min_workers are ready")
    async def readyz() -> JSONResponse:
        checks: dict[str, Any] = {}
        redis_ok = await _ping(ping)
        checks["redis"] = "ok" if redis_ok is None else redis_ok
        ready = state.ready_workers()
        wanted = sum(g.min_workers for g in state.groups.values())
        checks["workers"] = f"{ready} ready of min {wanted}"
        checks["stopping"] = state.stopping
        deps = {name: ("ok: " if c.ok else "DOWN: ") + c.detail for name, c in state.checks.items()}
        if deps:
            checks["dependencies"] = deps  # a warning; fatal only with [http] readiness_needs_dependencies
        deps_ok = all(c.ok for c in state.checks.values()) or not state.cfg.http.readiness_needs_dependencies
        ok = redis_ok is None and ready >= wanted and not state.stopping and deps_ok
        return JSONResponse({"ok": ok, "daemonId": state.daemon_id, "checks": checks},
                            status_code=200 if ok else 503)

    return router


async def _ping(ping: Callable[[], Awaitable[object]]) -> str | None:
    """None when Redis answers, else why not."""
    try:
        await asyncio.wait_for(ping(), REDIS_PING_TIMEOUT)
        return None
    except TimeoutError:
        return f"no answer within {REDIS_PING_TIMEOUT:g}s"
    except (redis.exceptions.RedisError, OSError) as e:
        return f"{type(e).__name__}: {e}"

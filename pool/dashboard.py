"""The live dashboard: one static page fed by server-sent events of the supervisor's metrics snapshots.

`GET /` the page (pool/static/dashboard.html, no external assets: it works on a host without internet),
`GET /api/snapshot` the latest snapshot and the recent history, `GET /api/events` the stream: one
`snapshot` event per metrics interval (the snapshot, plus `historyPoint`: the point it adds to the charts, so
the page never derives one itself). The history lives in memory: the charts cover the last `HISTORY`
snapshots (30 minutes at the default 5 s interval) and restart empty with the daemon.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections import deque
from collections.abc import AsyncIterator
from importlib import resources
from typing import Any

from fastapi import APIRouter
from fastapi.responses import HTMLResponse, JSONResponse
from sse_starlette.sse import EventSourceResponse

from pool.state import PoolState

HISTORY = 360
SUBSCRIBER_BACKLOG = 16  # a client this far behind misses snapshots rather than growing our memory


def history_point(snap: dict[str, Any], previous: dict[str, Any] | None = None) -> dict[str, Any]:
    """What the time charts need from one snapshot: small, since the page loads all of them.

    `backlog` is the level when the snapshot was taken, `peak` the largest backlog probed since the one before
    (a spike that came and went between two snapshots shows). `rates` are per queue, per second over the interval
    since `previous`: jobs ended (completed or failed), jobs failed, attempts retried.
    """
    queues = {q: {"completed": c["completed"], "failed": c["failed"], "retried": c["retried"]}
              for q, c in snap["queues"].items()}
    point = {"at": snap["at"], "workers": snap["totalWorkers"], "busy": snap["activeWorkers"],
             "backlog": snap["queueDepth"], "peak": snap["peakQueueDepth"],
             "throughput": snap["throughput"], "processed": snap["totalProcessed"], "failed": snap["totalFailed"],
             "retried": snap["totalRetried"], "queues": queues}
    # The counters start at zero with the daemon: its start is the first point's baseline.
    point["rates"] = interval_rates(previous or {"at": snap["at"] - snap["uptime"], "queues": {}}, point)
    return point


def interval_rates(previous: dict[str, Any], point: dict[str, Any]) -> dict[str, dict[str, float]]:
    """Per queue, per second between two history points: jobs ended, jobs failed, attempts retried. A queue missing
    from the earlier point had not been probed yet: its counters were still zero (the probe comes before any worker
    starts). A counter that went down (not expected: counters keep a replaced worker's figures) counts as 0, not as
    a negative rate."""
    seconds = point["at"] - previous["at"]
    if seconds <= 0:
        return {}
    out = {}
    zero = {"completed": 0, "failed": 0, "retried": 0}
    for q, now in point["queues"].items():
        before = previous["queues"].get(q, zero)
        delta = {k: max(0, now[k] - before[k]) for k in ("completed", "failed", "retried")}
        out[q] = {"ended": round((delta["completed"] + delta["failed"]) / seconds, 3),
                  "failed": round(delta["failed"] / seconds, 3), "retried": round(delta["retried"] / seconds, 3)}
    return out


class Dashboard:
    def __init__(self, state: PoolState) -> None:
        self.state = state
        self.history: deque[dict[str, Any]] = deque(maxlen=HISTORY)
        self.latest: dict[str, Any] | None = None
        self._subscribers: set[asyncio.Queue[dict[str, Any] | None]] = set()
        self._page = resources.files("pool").joinpath("static/dashboard.html").read_text(encoding="utf-8")
        state.events.on("metrics", self._on_snapshot)
        self.router = APIRouter(tags=["dashboard"])
        self.router.add_api_route("/", self.page, methods=["GET"], response_class=HTMLResponse,
                                  summary="The live dashboard", include_in_schema=False)
        self.router.add_api_route("/api/snapshot", self.snapshot, methods=["GET"],
                                  summary="The latest metrics snapshot and the recent history")
        self.router.add_api_route("/api/events", self.events, methods=["GET"],
                                  summary="Server-sent events: one `snapshot` per metrics interval")

    def _on_snapshot(self, snap: dict[str, Any]) -> None:
        self.latest = snap
        point = history_point(snap, self.history[-1] if self.history else None)
        self.history.append(point)
        event = {**snap, "historyPoint": point}
        for q in list(self._subscribers):
            _offer(q, event)

    async def page(self) -> HTMLResponse:
        return HTMLResponse(self._page)

    async def snapshot(self) -> JSONResponse:
        return JSONResponse({"latest": self.latest or self.state.snapshot(), "history": list(self.history)})

    async def events(self) -> EventSourceResponse:
        queue: asyncio.Queue[dict[str, Any] | None] = asyncio.Queue(SUBSCRIBER_BACKLOG)
        self._subscribers.add(queue)

        async def stream() -> AsyncIterator[dict[str, str]]:
            try:
                while (snap := await queue.get()) is not None:
                    yield {"event": "snapshot", "data": json.dumps(snap)}
            finally:
                self._subscribers.discard(queue)

        return EventSourceResponse(stream(), ping=15)

    async def close(self) -> None:
        """End every open stream, so the HTTP server's graceful stop does not wait on them."""
        for q in list(self._subscribers):
            _offer(q, None)


def _offer(q: asyncio.Queue[dict[str, Any] | None], item: dict[str, Any] | None) -> None:
    """Put without waiting; a full queue drops its oldest: the newest snapshot is the one worth showing."""
    if q.full():
        with contextlib.suppress(asyncio.QueueEmpty):
            q.get_nowait()
    q.put_nowait(item)

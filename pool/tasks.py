"""The supervisor's background loops (event watcher, stalled check, metrics, cancel channel, dependency checks),
each kept alive: one that crashes is logged, shown as down (the dashboard, /healthz), and restarted after a backoff.
A loop is never silently gone while the pool runs on."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable

from pool.state import PoolState
from workers.retry import Backoff

log = logging.getLogger("corral.supervisor")

RESTART = Backoff(first=1.0, factor=2.0, cap=60.0)
HEALTHY_AFTER = 60.0  # a loop that ran this long since its last crash starts its backoff over
STOP_WAIT_SECONDS = 5.0


class Background:
    def __init__(self, state: PoolState) -> None:
        self.state = state
        self._tasks: list[asyncio.Task[None]] = []
        self.stopping = False  # the loops' exit, should a cancellation be swallowed inside a Redis call

    def start(self, name: str, loop: Callable[[], Awaitable[None]]) -> None:
        self._tasks.append(asyncio.create_task(self._keep(name, loop), name=name))

    async def _keep(self, name: str, loop: Callable[[], Awaitable[None]]) -> None:
        crashes = 0
        while not self.stopping:
            began = asyncio.get_running_loop().time()
            try:
                await loop()
                return  # it ended on its own: the pool is stopping
            except asyncio.CancelledError:
                raise
            except Exception as e:
                if asyncio.get_running_loop().time() - began > HEALTHY_AFTER:
                    crashes = 0
                crashes += 1
                wait = RESTART.delay(crashes)
                self.state.tasks_down[name] = f"crashed ({type(e).__name__}: {e}); restarting in {wait:g}s"
                log.exception("%s crashed; restarting it in %gs (crash %d in a row)", name, wait, crashes)
                await asyncio.sleep(wait)
                self.state.tasks_down.pop(name, None)

    async def stop(self) -> None:
        self.stopping = True
        for t in self._tasks:
            t.cancel()
        if not self._tasks:
            return
        # Bounded: a cancellation that lands inside a Redis call can be swallowed by the client.
        _, stuck = await asyncio.wait(self._tasks, timeout=STOP_WAIT_SECONDS)
        for t in stuck:
            log.warning("background task %s did not stop within %gs; leaving it", t.get_name(), STOP_WAIT_SECONDS)

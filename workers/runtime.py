"""What a processor may want to know about the worker process it runs in (set once at its start)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from workers.protocol import WorkerSettings

settings: WorkerSettings | None = None
shutdown_hooks: list[Callable[[], Awaitable[None]]] = []


def on_shutdown(hook: Callable[[], Awaitable[None]]) -> None:
    """Run `hook` in the worker's event loop when it exits: close connections a processor opened."""
    shutdown_hooks.append(hook)


def redis_url() -> str | None:
    return settings.redis_url if settings else None


def key_prefix() -> str:
    return settings.prefix if settings else "bull"

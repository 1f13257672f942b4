"""What a processor may want to know about the worker process it runs in (set once at its start)."""

from __future__ import annotations

from workers.protocol import WorkerSettings

settings: WorkerSettings | None = None


def redis_url() -> str | None:
    return settings.redis_url if settings else None


def key_prefix() -> str:
    return settings.prefix if settings else "bull"

"""What a processor may want to know about the worker process it runs in (set once at its start)."""

from __future__ import annotations

import os
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import TypeVar

from workers.protocol import WorkerSettings
from workers.settings import Place, Section, load_section, read_toml

S = TypeVar("S", bound=Section)

settings: WorkerSettings | None = None
shutdown_hooks: list[Callable[[], Awaitable[None]]] = []


def on_shutdown(hook: Callable[[], Awaitable[None]]) -> None:
    """Run `hook` in the worker's event loop when it exits: close connections a processor opened."""
    shutdown_hooks.append(hook)


def redis_url() -> str | None:
    return settings.redis_url if settings else None


def key_prefix() -> str:
    return settings.prefix if settings else "bull"


def place() -> Place:
    """Where data (databases, work folders) and user files are, as the daemon was configured."""
    return settings.place if settings else Place(config_dir=Path("config") if Path("config").is_dir() else Path())


def jobtype_settings(name: str, cls: type[S]) -> S:
    """A job type's settings: as the daemon validated them at start (in a worker), else loaded on their own the
    same way (a script or a test: `$CORRAL_<NAME>_CONFIG`, else config/<name>.toml, and the environment)."""
    if settings is not None and isinstance(settings.jobtype_settings.get(name), cls):
        found: S = settings.jobtype_settings[name]
        return found
    own = os.environ.get(f"CORRAL_{name.upper()}_CONFIG") or str(place().config(f"{name}.toml"))
    table = read_toml(Path(own)) if Path(own).is_file() else {}
    return load_section(cls, table, source=own)

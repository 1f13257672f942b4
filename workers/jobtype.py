"""A job type as a plug-in: what the daemon needs to know of it, declared in its own package.

    # mypkg/plugin.py                    # pyproject.toml of mypkg:
    jobtype = JobType(                   # [project.entry-points."corral.jobtypes"]
        name="thumbs",                   # thumbs = "mypkg.plugin:jobtype"
        queues=(QueueDefault("thumbnails", "mypkg.jobs:processors", concurrency=4),),
        settings=ThumbSettings,          # a workers.settings.Section: the [thumbs] table, CORRAL_THUMBS_* variables
    )

The daemon loads the job types its configuration names (`jobtypes = [...]`), found through the entry-point group
`corral.jobtypes` (or a `module:attribute` path), serves their default queues, validates their settings at start,
mounts their HTTP routes, offers their CLI commands and shows their dependency checks. The supervisor's package
(`pool/`) imports no job type: it only knows this interface.
"""

from __future__ import annotations

import argparse
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from fastapi import APIRouter

    from workers.settings import Place, Section


@dataclass(frozen=True)
class QueueDefault:
    """A queue the job type serves unless the configuration says otherwise ([[queues]] of the same name)."""

    name: str
    processor: str  # "module:attribute"
    concurrency: int = 1
    max_memory_mb: int | None = None  # this queue's workers' memory limit, when it differs from [pool]'s
    workers: tuple[int, int] | None = None  # (min, max) workers serving this queue alone, else the shared pool


@dataclass(frozen=True)
class CheckResult:
    ok: bool
    detail: str  # what was found, or why it failed: shown on /readyz, the dashboard and `corral status`


@dataclass(frozen=True)
class Check:
    """Something the job type's jobs depend on (a service, a tool), checked by the supervisor every so often."""

    name: str  # e.g. "ollama", "desci-server"
    run: Callable[[], Awaitable[CheckResult]]


@dataclass(frozen=True)
class Routes:
    """A job type's HTTP routes on the daemon's server."""

    router: APIRouter
    close: Callable[[], Awaitable[None]] | None = None
    own_auth_prefix: str | None = None  # routes under it check their own secret: the daemon's token is not asked


@dataclass(frozen=True)
class RouteContext:
    """What a job type's HTTP routes may use of the daemon."""

    redis_url: str
    prefix: str
    settings: Any  # the job type's Section, validated
    place: Place
    served_queues: frozenset[str]


class CommandError(Exception):
    """A command's one-line failure; `code` is its exit status."""

    def __init__(self, message: str, code: int = 1) -> None:
        super().__init__(message)
        self.code = code


@dataclass(frozen=True)
class CommandContext:
    """What a job type's CLI command gets: the parsed arguments and a way to reach the configuration."""

    args: argparse.Namespace
    settings: Any  # the job type's Section
    redis_url: Callable[[], str]  # the Redis to use (flag, configuration, embedded server), checked: CommandError
    prefix: str
    place: Place


@dataclass(frozen=True)
class Command:
    """A `corral` subcommand: `corral NAME ...`."""

    name: str
    help: str
    add_arguments: Callable[[argparse.ArgumentParser], None]
    run: Callable[[CommandContext], int]


@dataclass(frozen=True)
class JobType:
    name: str
    queues: tuple[QueueDefault, ...] = ()
    settings: type[Section] | None = None
    routes: Callable[[RouteContext], Routes | None] | None = None
    commands: tuple[Command, ...] = ()
    checks: Callable[[Any], list[Check]] | None = None  # given its settings
    summary: str = ""
    extra: dict[str, Any] = field(default_factory=dict)

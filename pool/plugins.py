"""Finding job types: the entry-point group `corral.jobtypes` (corral's own email and myst, or a user's package),
or a `module:attribute` path named in the configuration. The supervisor's package knows job types only through
this and the interface in workers.jobtype."""

from __future__ import annotations

import importlib
from functools import cache
from importlib.metadata import entry_points

from workers.jobtype import JobType
from workers.settings import SettingsError

GROUP = "corral.jobtypes"


@cache
def installed() -> dict[str, str]:
    """name -> "module:attribute" of every job type an installed package declares."""
    return {ep.name: ep.value for ep in entry_points(group=GROUP)}


def load(name: str) -> JobType:
    """A job type by entry-point name or `module:attribute`; SettingsError with one line when it cannot be had."""
    target = name if ":" in name else installed().get(name)
    if target is None:
        known = ", ".join(sorted(installed())) or "none"
        raise SettingsError(f"job type {name!r} is not installed (entry points of group {GROUP}: {known})")
    module_name, _, attr = target.partition(":")
    try:
        obj = getattr(importlib.import_module(module_name), attr)
    except Exception as e:  # an import error is the job type's own: reported as such
        raise SettingsError(f"job type {name!r}: cannot load {target}: {type(e).__name__}: {e}") from e
    if not isinstance(obj, JobType):
        raise SettingsError(f"job type {name!r}: {target} is a {type(obj).__name__}, not a workers.jobtype.JobType")
    return obj


def load_all(names: list[str]) -> dict[str, JobType]:
    out: dict[str, JobType] = {}
    for name in names:
        jt = load(name)
        out[jt.name] = jt
    return out


def all_installed() -> dict[str, JobType]:
    """Every installed job type that loads: whose variables and tables are known even when not enabled."""
    out: dict[str, JobType] = {}
    for name in installed():
        try:
            out[name] = load(name)
        except SettingsError:
            continue
    return out

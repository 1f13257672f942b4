"""The MYST job type as a corral plug-in: its queue (builds get workers of their own, with room for mystmd), its
settings, its intake route and its dependency checks."""

from __future__ import annotations

import logging
import shutil

import httpx

from workers.jobtype import Check, CheckResult, JobType, QueueDefault, RouteContext, Routes
from workers.myst.settings import SECRET_ENV, MystSettings, secret

log = logging.getLogger("corral.http")
CHECK_TIMEOUT = 3.0  # seconds for a dependency check's request

BUILD_MEMORY_MB = 2048  # a build's worker and its mystmd/typst children: notebooks and PDFs need room
BUILD_WORKERS = (0, 2)  # builds are rare and heavy: none idle, at most two at once per daemon


def _routes(ctx: RouteContext) -> Routes | None:
    token = secret()
    if not token:
        _say_once(ctx, f"MYST intake route off: {SECRET_ENV} is not set (set it in the daemon's environment to the "
                       "secret desci-server sends as X-Internal-Secret; builds queued by other means still run)")
        return None
    from workers.myst.intake import PATH, Intake

    settings: MystSettings = ctx.settings
    if settings.queue not in ctx.served_queues:
        # Legitimate when other hosts build, so not an error; but on one host the jobs would wait forever.
        log.warning("MYST intake queues jobs on %r, which this daemon does not consume (no [[queues]] entry); "
                    "they wait for another corral to take them", settings.queue)
    intake = Intake(ctx.redis_url, ctx.prefix, settings, token)
    return Routes(intake.router, close=intake.close, own_auth_prefix=PATH)


def _say_once(ctx: RouteContext, message: str) -> None:
    """A warning the first time a data folder sees it; later starts say it at INFO, not as a new alarm."""
    mark = ctx.place.data(".myst-intake-off")
    if mark.exists():
        log.info(message)
        return
    log.warning(message)
    try:
        mark.parent.mkdir(parents=True, exist_ok=True)
        mark.touch()
    except OSError:
        pass


def _checks(settings: MystSettings) -> list[Check]:
    return [Check("desci-server", lambda: desci_check(settings)),
            Check("myst build tools", lambda: tools_check(settings))]


async def desci_check(settings: MystSettings) -> CheckResult:
    """desci-server answers HTTP at all (any status: the routes corral calls need a job's ids)."""
    try:
        async with httpx.AsyncClient(timeout=CHECK_TIMEOUT) as client:
            resp = await client.get(settings.desci_server_url)
    except httpx.HTTPError as e:
        return CheckResult(False, f"desci-server unreachable at {settings.desci_server_url}: {type(e).__name__}: "
                                  f"{e}")
    return CheckResult(True, f"desci-server at {settings.desci_server_url} answers (HTTP {resp.status_code})")


async def tools_check(settings: MystSettings) -> CheckResult:
    """The programs a build runs: mystmd (`myst`) and the Node.js it runs on."""
    from workers.myst.mystmd import myst_argv

    myst = myst_argv(settings.myst_command)[0]
    missing = [name for name, found in (("node", shutil.which("node")), ("myst", shutil.which(myst))) if not found]
    if missing:
        return CheckResult(False, f"not installed: {', '.join(missing)} (scripts/run.sh installs them)")
    return CheckResult(True, "mystmd and Node.js installed")


jobtype = JobType(
    name="myst",
    summary="MYST journal builds: a GitHub repository's MyST article built and delivered to desci-server",
    queues=(QueueDefault("myst-build", "workers.myst.processor:processors", concurrency=1,
                         max_memory_mb=BUILD_MEMORY_MB, workers=BUILD_WORKERS),),
    settings=MystSettings,
    routes=_routes,
    checks=_checks,
)

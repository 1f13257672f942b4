"""The `myst-build` job: download the repository, build the MyST project, upload its exports to desci-server.

    --queue myst-build=workers.myst.processor:processors

Each step is reported to desci-server (IN_PROGRESS with the step) and to the BullMQ job (progress, log). The
end: COMPLETED when every export to deliver was delivered; FAILED "Partial import: ..." after uploading what
was built when some failed (the BullMQ job completes, its return value has each export's fate); FAILED with
the reason, and a failed BullMQ job, when nothing could be delivered (docs/myst.md). Every path, success or
failure, removes the job's folder; a folder left by a killed worker is removed when the job runs again, or by
the sweep of old folders.
"""

from __future__ import annotations

import asyncio
import importlib.util
import logging
import os
import shutil
import sys
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any

import httpx

from workers.errors import UnrecoverableError
from workers.job import Job
from workers.myst.archive import ArchiveError, Limits, NotFound, download, extract, project_folder
from workers.myst.build import BuildFailed, BuildRun, BuildTimedOut, run_build
from workers.myst.cache import TemplateCache
from workers.myst.desci import COMPLETED, FAILED, IN_PROGRESS, Desci, UploadRefused
from workers.myst.errors import error_lines
from workers.myst.mystmd import BUILD_LOG, Plan, Resolved, default_plan, read_build_log
from workers.myst.outputs import (
    BUILT_WITH_ERRORS,
    DELIVERED,
    SKIPPED,
    Fate,
    Snapshot,
    judge,
    judge_site,
    snapshot,
    stale_outputs,
    written,
)
from workers.myst.outputs import FAILED as EXPORT_FAILED
from workers.myst.schema import Submission
from workers.myst.settings import MystSettings, load_settings, secret
from workers.myst.source import BadSourceUrl, RepoRef, parse_blob_url

log = logging.getLogger("corral.myst")
MB = 1024 * 1024
MAX_MESSAGE = 4000  # a status message or failure reason: long enough for every export's line
TYPST_SHIM = Path(__file__).resolve().parent / "shim"


async def build_submission(job: Job) -> dict[str, Any]:
    sub: Submission = job.data
    settings = load_settings()
    root = settings.path(settings.work_dir)
    work = root / sub.jobId  # the id is validated: letters, digits and -_.= only
    await asyncio.to_thread(_sweep, root, settings.build_timeout + settings.download_timeout + 3600)
    await _remove(work)  # a killed attempt's leftovers are never reused
    async with httpx.AsyncClient(timeout=settings.http_timeout) as client:
        desci = Desci(client, settings.desci_server_url, secret(), status_attempts=settings.status_attempts)
        try:
            result = await _run(job, sub, settings, client, desci, work)
        except Exception as e:
            final = isinstance(e, UnrecoverableError) or job.attempts_made + 1 >= job.attempts
            if final:
                await desci.status(sub.uuid, sub.jobId, FAILED, str(e))
            else:
                await desci.status(sub.uuid, sub.jobId, IN_PROGRESS,
                                   f"attempt {job.attempts_made + 1} of {job.attempts} failed, will retry: {e}")
            raise
        finally:
            await _remove(work)
        status, message = final_status(result["exports"])
        await desci.status(sub.uuid, sub.jobId, status, message)
    return result


def final_status(exports: list[dict[str, Any]]) -> tuple[str, str]:
    """COMPLETED only when every export to deliver was delivered; a partial import is FAILED, saying so. What
    was delivered although the build reported errors about it (a site whose plugin could not be downloaded)
    is named after either."""
    done = [e for e in exports if e["status"] == DELIVERED]
    failed = [e for e in exports if e["status"] == EXPORT_FAILED]
    names = ", ".join(_name(e) for e in done)
    notes = "; ".join(f"{_name(e)}: {e['reason'].removeprefix(BUILT_WITH_ERRORS)}" for e in done if e["reason"])
    notes = f"; delivered with errors: {notes}" if notes else ""
    if not failed:
        return COMPLETED, f"Files exported successfully (delivered: {names}){notes}"[:MAX_MESSAGE]
    lines = "; ".join(f"{_name(e)}: {e['reason']}" for e in failed)
    return FAILED, (f"Partial import: {len(done)} of {len(done) + len(failed)} exports delivered ({names}); "
                    f"failed: {lines}{notes}")[:MAX_MESSAGE]


def _name(export: dict[str, Any]) -> str:
    return f"{export['format']} {export['output']}".strip()


async def _run(job: Job, sub: Submission, s: MystSettings, client: httpx.AsyncClient, desci: Desci,
               work: Path) -> dict[str, Any]:
    limits = Limits(int(s.max_download_mb * MB), int(s.max_extract_mb * MB), s.max_entries)

    async def step(percent: int, message: str) -> None:
        job.progress(percent)
        job.log(message)
        await desci.status(sub.uuid, sub.jobId, IN_PROGRESS, message)

    try:
        candidates = parse_blob_url(sub.url, s.github_base_url)
    except BadSourceUrl as e:
        raise UnrecoverableError(f"url: {e}") from None
    await asyncio.to_thread(work.mkdir, parents=True)

    await step(10, "Downloading repo files...")
    ref = await _download(client, candidates, work / "repo.zip", limits, s)
    try:  # file work off the event loop: heartbeats and other jobs' slots keep going
        left_out = await asyncio.to_thread(extract, work / "repo.zip", work / "src", limits)
        await asyncio.to_thread((work / "repo.zip").unlink)
        project = await asyncio.to_thread(project_folder, work / "src", ref.folder)
    except ArchiveError as e:
        raise UnrecoverableError(f"archive of {ref}: {e}") from None
    for link in left_out:
        job.log(f"symbolic link {link} not extracted: it points out of the repository")
    if not (project / "myst.yml").is_file():
        ours = [link for link in left_out if link.split(" -> ")[0].endswith(f"/{ref.path}")]
        why = f" (it is a symbolic link out of the repository, not extracted: {ours[0]})" if ours else ""
        raise UnrecoverableError(f"no myst.yml at {ref.path} in {ref.owner}/{ref.repo}@{ref.ref}{why}")

    top = await asyncio.to_thread(project_folder, work / "src", "")
    plan = await asyncio.to_thread(default_plan, s.build_command, s.pixi_task, project, top, s.myst_command)
    await step(30, f"Building the repo files... ({plan.why}, in {ref.folder or 'the repository root'})")
    started = time.monotonic()
    built = await _build(job, s, plan, project, work / "held")
    build_seconds = round(time.monotonic() - started, 1)

    await step(70, "Exporting files...")
    try:
        fates = await asyncio.to_thread(judge, project, built.resolved, sub.parsedDocument.project.exports,
                                        built.before, built.export_errors, work / "unpacked", limits)
        site = await asyncio.to_thread(judge_site, project, built.before, built.site_errors)
    except ArchiveError as e:
        raise UnrecoverableError(f"the built MECA archive: {e}") from None
    if built.no_site_config and site.status == EXPORT_FAILED:
        site.status, site.reason = SKIPPED, "the project has no site configuration"
    fates.append(site)
    for fate in fates:
        job.log(f"export {fate.line()}")
    delivered = [f for f in fates if f.status == DELIVERED]
    if not delivered:
        raise UnrecoverableError(_nothing_built(built, fates))
    files = [u for f in delivered for u in f.files]
    total = sum(u.path.stat().st_size for u in files)
    if total > s.max_upload_mb * MB:
        raise UnrecoverableError(f"exports total {total} bytes, over max_upload_mb ({s.max_upload_mb})")
    try:
        await desci.upload(sub.uuid, sub.jobId, files)
    except UploadRefused as e:
        raise UnrecoverableError(str(e)) from None
    job.progress(100)
    outcome = "completed" if not any(f.status == EXPORT_FAILED for f in fates) else "partial"
    return {"jobId": sub.jobId, "uuid": sub.uuid, "source": str(ref), "build": plan.why,
            "buildSeconds": build_seconds, "outcome": outcome, "exports": [f.as_dict() for f in fates],
            "uploaded": [u.name for u in files], "cachedTemplates": built.cached}


@dataclass
class Built:
    before: Snapshot
    resolved: list[Resolved]
    export_errors: list[str]
    site_errors: list[str]
    no_site_config: bool
    failed_runs: list[BuildRun]
    cached: list[str]


async def _build(job: Job, s: MystSettings, plan: Plan, project: Path, held: Path) -> Built:
    """Run the plan's commands within build_timeout in all; what they wrote is judged afterwards."""
    cache = TemplateCache(s.path(s.cache_dir), int(s.max_cache_mb * MB))
    templates = project / "_build" / "templates"
    seeded = await asyncio.to_thread(cache.seed, templates)
    before = await asyncio.to_thread(snapshot, project)
    deadline = time.monotonic() + s.build_timeout
    runs: list[BuildRun] = []
    resolved: list[Resolved] = []


    async def run(command: str | list[str]) -> BuildRun:
        try:
            return await run_build(command, project, max(deadline - time.monotonic(), 0.001), job.log,
                                   _build_env(s, cache))
        except BuildTimedOut as e:  # build_timeout covers all of the plan's commands
            raise UnrecoverableError(f"build command timed out after {s.build_timeout:g}s: {e.command}") from None
        except BuildFailed as e:
            raise UnrecoverableError(str(e)) from None

    stale: list[str] = []
    for i, command in enumerate(plan.commands):
        runs.append(await (_without(stale, project, held, partial(run, command)) if stale else run(command)))
        if i == 0 or plan.kind != "mystmd":  # mystmd's exports run; a pixi task or command: its last myst run
            if await asyncio.to_thread(written, project, BUILD_LOG.as_posix(), before):
                found: list[Resolved] | None = await asyncio.to_thread(read_build_log, project)
                resolved = found or []
        if i == 0 and plan.kind == "mystmd":
            # mystmd takes whatever is at an export's output into the MECA (its manuscript) and the site (its
            # download): the repository's own copy of an export that was not built here must not be there.
            stale = await asyncio.to_thread(stale_outputs, project, resolved, before)
            if stale:
                job.log(f"the repository's own {', '.join(stale)} (exports this build did not make) are kept out "
                        "of the MECA and the site")
                if plan.meca and any(r.format == "meca" for r in resolved):
                    runs.append(await _without(stale, project, held, partial(run, list(plan.meca))))
    cached = await asyncio.to_thread(cache.keep, templates, seeded)
    for key in cached:
        job.log(f"template {key} kept in the shared cache")
    every = [line for r in runs for line in r.lines]
    site_lines = runs[-1].lines if plan.kind == "mystmd" else every
    export_lines = [line for r in runs[:-1] for line in r.lines] if plan.kind == "mystmd" else every
    return Built(before, resolved, error_lines(export_lines), error_lines(site_lines),
                 any("No site configuration found" in line for line in site_lines),
                 [r for r in runs if r.returncode != 0], cached)


async def _without(stale: list[str], project: Path, held: Path,
                   build: Callable[[], Awaitable[BuildRun]]) -> BuildRun:
    """Run `build` with the stale outputs moved out of the project, then put them back as they were (the same
    files, so still not written by this build: never sent)."""
    moves = [(project / name, held / str(i)) for i, name in enumerate(stale)]
    await asyncio.to_thread(held.mkdir, parents=True, exist_ok=True)
    try:
        for src, dst in moves:
            await asyncio.to_thread(src.rename, dst)
        return await build()
    finally:
        for src, dst in moves:
            if dst.exists():
                await asyncio.to_thread(dst.rename, src)


def _build_env(s: MystSettings, cache: TemplateCache) -> dict[str, str]:
    env = {"CORRAL_PYTHON": sys.executable, "TYPST_PACKAGE_CACHE_PATH": str(cache.typst_packages)}
    if s.myst_api_url:
        env["API_URL"] = s.myst_api_url
    if shutil.which("typst") is None and importlib.util.find_spec("typst") is not None:
        env["PATH"] = f"{TYPST_SHIM}{os.pathsep}{os.environ.get('PATH', os.defpath)}"
    return env


def _nothing_built(built: Built, fates: list[Fate]) -> str:
    runs = "; ".join(f"build command exited with {r.returncode}: {r.command}" for r in built.failed_runs)
    failed = "; ".join(f.line() for f in fates if f.status == EXPORT_FAILED)
    return (f"the build produced none of the exports to deliver{f' ({runs})' if runs else ''}: "
            f"{failed or 'the project declares none'}")[:MAX_MESSAGE]


async def _download(client: httpx.AsyncClient, candidates: list[RepoRef], dest: Path, limits: Limits,
                    s: MystSettings) -> RepoRef:
    """The first candidate reading of the URL whose archive exists."""
    tried = []
    for ref in candidates:
        for url in ref.archive_urls(s.github_base_url):
            try:
                await download(client, url, dest, limits, s.download_timeout)
                return ref
            except NotFound:
                tried.append(url)
            except ArchiveError as e:
                raise UnrecoverableError(f"download of {ref}: {e}") from None
            except httpx.HTTPError as e:  # no connection, 5xx: worth another attempt later
                raise ConnectionError(f"download of {url} failed: {type(e).__name__}: {e}") from None
            except TimeoutError:
                raise ConnectionError(f"download of {url} took longer than {s.download_timeout:g}s") from None
    raise UnrecoverableError(f"no archive found for the url (tried {', '.join(tried)})")


async def _remove(path: Path) -> None:
    await asyncio.to_thread(shutil.rmtree, path, ignore_errors=True)


def _sweep(root: Path, older_than: float) -> None:
    """Remove job folders left by workers killed mid-job long ago."""
    if not root.is_dir():
        return
    cutoff = time.time() - older_than
    for p in root.iterdir():
        try:
            if p.stat().st_mtime < cutoff:
                shutil.rmtree(p, ignore_errors=True)
        except FileNotFoundError:
            pass


build_submission.data_model = Submission  # type: ignore[attr-defined]

JOB_NAME = "process-journal-submission"
processors = {JOB_NAME: build_submission}

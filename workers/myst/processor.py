"""The `myst-build` job: download the repository, build the MyST project, upload its exports to desci-server.

    --queue myst-build=workers.myst.processor:processors

Each step is reported to desci-server (IN_PROGRESS with the step, then COMPLETED or FAILED with the reason)
and to the BullMQ job (progress, log). Every path, success or failure, removes the job's folder; a folder
left by a killed worker is removed when the job runs again, or by the sweep of old folders.
"""

from __future__ import annotations

import asyncio
import logging
import shutil
import time
from pathlib import Path
from typing import Any

import httpx

from workers.errors import UnrecoverableError
from workers.job import Job
from workers.myst.archive import ArchiveError, Limits, NotFound, download, extract, project_folder
from workers.myst.build import BuildFailed, run_build
from workers.myst.collect import collect
from workers.myst.desci import COMPLETED, FAILED, IN_PROGRESS, Desci, UploadRefused
from workers.myst.schema import Submission
from workers.myst.settings import MystSettings, load_settings, secret
from workers.myst.source import BadSourceUrl, RepoRef, parse_blob_url

log = logging.getLogger("corral.myst")
MB = 1024 * 1024


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
        await desci.status(sub.uuid, sub.jobId, COMPLETED, "Files exported successfully")
    return result


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
        await asyncio.to_thread(extract, work / "repo.zip", work / "src", limits)
        await asyncio.to_thread((work / "repo.zip").unlink)
        project = await asyncio.to_thread(project_folder, work / "src", ref.folder)
    except ArchiveError as e:
        raise UnrecoverableError(f"archive of {ref}: {e}") from None
    if not (project / "myst.yml").is_file():
        raise UnrecoverableError(f"no myst.yml at {ref.path} in {ref.owner}/{ref.repo}@{ref.ref}")

    await step(30, f"Building the repo files... ({s.build_command} in {ref.folder or 'the repository root'})")
    started = time.monotonic()
    try:
        await run_build(s.build_command, project, s.build_timeout, job.log)
    except BuildFailed as e:
        raise UnrecoverableError(str(e)) from None
    build_seconds = round(time.monotonic() - started, 1)

    await step(70, "Exporting files...")
    try:
        found = await asyncio.to_thread(collect, project, sub.parsedDocument.project.exports, work / "unpacked",
                                        limits)
    except ArchiveError as e:
        raise UnrecoverableError(f"the built MECA archive: {e}") from None
    if not found.files:
        raise UnrecoverableError("the build produced none of the exports to upload: " + "; ".join(found.skipped))
    if found.total_bytes > s.max_upload_mb * MB:
        raise UnrecoverableError(f"exports total {found.total_bytes} bytes, over max_upload_mb ({s.max_upload_mb})")
    for line in found.skipped:
        job.log(f"skipped {line}")
    try:
        await desci.upload(sub.uuid, sub.jobId, found.files)
    except UploadRefused as e:
        raise UnrecoverableError(str(e)) from None
    job.progress(100)
    return {"jobId": sub.jobId, "uuid": sub.uuid, "source": str(ref), "buildSeconds": build_seconds,
            "uploaded": [f.name for f in found.files], "skipped": found.skipped}


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

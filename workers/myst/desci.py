"""The two calls to desci-server: status updates and the upload of the exports.

Status updates are retried on transient errors (no connection, 5xx, 429) with backoff, and a status that
still cannot be sent is logged, not fatal: the job's BullMQ state stays the record. The upload is the job's
result: its failure fails the attempt, and BullMQ retries it while attempts remain.
"""

from __future__ import annotations

import logging
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path

import httpx

from workers.retry import Backoff, retry

log = logging.getLogger("corral.myst")

IN_PROGRESS, COMPLETED, FAILED = "IN_PROGRESS", "COMPLETED", "FAILED"


class UploadRefused(Exception):
    """desci-server answered 4xx to the upload: retrying the same files will not help."""


@dataclass(frozen=True)
class Upload:
    path: Path  # the file on disk
    name: str  # its name for desci-server, e.g. "exports/manuscript.meca/article.xml"


def _transient(e: Exception) -> bool:
    if isinstance(e, httpx.TransportError):
        return True
    return isinstance(e, httpx.HTTPStatusError) and (e.response.status_code >= 500 or e.response.status_code == 429)


class Desci:
    def __init__(self, client: httpx.AsyncClient, base_url: str, secret: str, *, status_attempts: int = 4,
                 backoff: float = 0.5) -> None:
        self.client = client
        self.base = base_url.rstrip("/")
        self.headers = {"X-Internal-Secret": secret}
        self.status_attempts = status_attempts
        self.backoff = backoff

    async def status(self, uuid: str, job_id: str, status: str, message: str) -> bool:
        """POST {status, message}; True once desci-server took it."""
        url = f"{self.base}/v1/nodes/{uuid}/github-myst-import/{job_id}/updateStatus"

        async def once() -> None:
            try:
                r = await self.client.post(url, json={"status": status, "message": message}, headers=self.headers)
                r.raise_for_status()
            except (httpx.TransportError, httpx.HTTPStatusError) as e:
                if _transient(e):
                    raise _Transient(_describe(e)) from e
                raise

        try:
            await retry(once, on=(_Transient,), backoff=Backoff(first=self.backoff, cap=30.0,
                                                                attempts=self.status_attempts))
            return True
        except (_Transient, httpx.TransportError, httpx.HTTPStatusError) as e:
            log.warning("status %s for job %s not delivered: %s", status, job_id,
                        e if isinstance(e, _Transient) else _describe(e))
            return False

    async def upload(self, uuid: str, job_id: str, files: list[Upload]) -> None:
        """One multipart POST: repeated field `files`, plus `uuid` and `contextPath=root`."""
        url = f"{self.base}/v1/nodes/{uuid}/finalize-myst-import/{job_id}/receiveFiles"
        with ExitStack() as stack:
            parts = [("files", (f.name, stack.enter_context(f.path.open("rb")), "application/octet-stream"))
                     for f in files]
            try:
                r = await self.client.post(url, files=parts, data={"uuid": uuid, "contextPath": "root"},
                                           headers=self.headers)
                r.raise_for_status()
            except httpx.HTTPStatusError as e:
                if _transient(e):
                    raise ConnectionError(f"upload to desci-server failed: {_describe(e)}") from None
                raise UploadRefused(f"desci-server refused the upload: {_describe(e)}") from None
            except httpx.TransportError as e:
                raise ConnectionError(f"upload to desci-server failed: {_describe(e)}") from None


class _Transient(Exception):
    """A connection error, a 5xx or a 429: worth another try."""


def _describe(e: Exception) -> str:
    if isinstance(e, httpx.HTTPStatusError):
        return f"{e.request.method} {e.request.url} answered {e.response.status_code}: {e.response.text[:200]}"
    return f"{type(e).__name__}: {e}" if str(e) else type(e).__name__

"""The MYST intake route: `POST /v1/services/process-journal-submission` queues a `myst-build` job (mounted on
the daemon's HTTP server by the myst plug-in, workers/myst/plugin.py).

The order of the checks is the caller's contract: size (413), secret (401, compared in constant time),
body (400 naming the field), Redis (503); then 202 with the job's status URL. The BullMQ job id is the
request's jobId, so a repeated submission finds its job instead of building twice.
"""

from __future__ import annotations

import hmac
import json
import logging
from typing import Any

import redis.asyncio
from bullmq import Job, Queue
from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ValidationError
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff
from starlette.requests import ClientDisconnect

from workers.bullmq_scripts import QueueKeys
from workers.myst.processor import JOB_NAME
from workers.myst.schema import Submission, is_job_id
from workers.myst.settings import MystSettings
from workers.myst.source import BadSourceUrl, parse_blob_url
from workers.redis_clients import async_client
from workers.validation import first

log = logging.getLogger("corral.intake")

PATH = "/v1/services/process-journal-submission"
SECRET_HEADER = "X-Internal-Secret"


class Accepted(BaseModel):
    jobId: str
    uuid: str
    message: str
    state: str
    statusUrl: str


class AcceptedResponse(BaseModel):
    ok: bool = True
    data: Accepted


class JobStatus(BaseModel):
    jobId: str
    state: str
    progress: Any = None
    attemptsMade: int = 0
    failedReason: str | None = None
    returnvalue: Any = None
    finishedOn: int | None = None


class StatusResponse(BaseModel):
    ok: bool = True
    data: JobStatus


class ErrorResponse(BaseModel):
    ok: bool = False
    message: str
    field: str | None = None


def _error(status: int, message: str, field: str | None = None) -> JSONResponse:
    body: dict[str, Any] = {"ok": False, "message": message}
    if field is not None:
        body["field"] = field
    return JSONResponse(body, status_code=status)


def _validation_message(e: ValidationError) -> tuple[str, str]:
    p = first(e, whole="(body)")
    return p.where, f"{p.where}: {p.what}" + (f" ({e.error_count() - 1} more)" if e.error_count() > 1 else "")


def _openapi_body() -> dict[str, Any]:
    schema = Submission.model_json_schema(ref_template="#/components/schemas/{model}")
    return {"requestBody": {"required": True, "content": {"application/json": {"schema": schema}}}}


def _errors(*codes: int) -> dict[int | str, dict[str, Any]]:
    text = {400: "invalid body; `field` names the failing field", 401: "missing or wrong X-Internal-Secret",
            404: "no such job", 413: "body over the size limit", 503: "Redis is unreachable"}
    return {c: {"model": ErrorResponse, "description": text[c]} for c in codes}


class Intake:
    def __init__(self, redis_url: str, prefix: str, settings: MystSettings, secret: str) -> None:
        if not secret:
            raise ValueError("the intake route needs a secret")
        self.settings = settings
        self.secret = secret.encode()
        # Fail fast when Redis is down (503), instead of bullmq's default of retrying for minutes.
        self.client = async_client(redis_url, decode_responses=True, socket_connect_timeout=2, socket_timeout=5,
                                   retry=Retry(NoBackoff(), 0))
        self.queue = Queue(settings.queue, {"connection": self.client, "prefix": prefix})
        self.keys = QueueKeys(prefix, settings.queue)
        self.router = APIRouter(tags=["MYST journal submissions"])
        self.router.add_api_route(
            PATH, self.submit, methods=["POST"], status_code=202, response_model=AcceptedResponse,
            responses=_errors(400, 401, 413, 503), openapi_extra=_openapi_body(),
            summary="Queue a MyST build of a GitHub repository",
            description="Checks X-Internal-Secret, validates the body, and queues a `myst-build` job whose "
                        "BullMQ id is `jobId` (a repeated jobId returns the existing job).")
        self.router.add_api_route(
            PATH + "/{job_id}", self.status, methods=["GET"], response_model=StatusResponse,
            responses=_errors(401, 404, 503), summary="A submission's state, progress and failure reason")

    async def _is_job(self, job_id: str) -> bool:
        """A job is a hash with BullMQ's `name` and `timestamp`; any other key is not one."""
        key = self.keys.job(job_id)
        if await self.client.type(key) != "hash":
            return False
        name, timestamp = await self.client.hmget(key, ["name", "timestamp"])
        return name is not None and timestamp is not None

    async def close(self) -> None:
        await self.queue.close()
        await self.client.aclose()

    def _authorised(self, request: Request) -> bool:
        given = request.headers.get(SECRET_HEADER, "").encode()
        return hmac.compare_digest(given, self.secret)

    async def _read_body(self, request: Request) -> bytes | None:
        limit = self.settings.max_body_kb * 1024
        declared = request.headers.get("content-length")
        if declared and declared.isdigit() and int(declared) > limit:
            return None
        chunks, size = [], 0
        async for chunk in request.stream():
            size += len(chunk)
            if size > limit:
                return None
            chunks.append(chunk)
        return b"".join(chunks)

    async def submit(self, request: Request) -> JSONResponse:
        try:
            body = await self._read_body(request)
        except ClientDisconnect:  # gone, or cut off by the server's body timeout: no one reads this answer
            return _error(408, "the body did not arrive")
        if body is None:
            return _error(413, f"body is over {self.settings.max_body_kb} KB")
        if not self._authorised(request):
            return _error(401, "Unauthorized")
        try:
            raw = json.loads(body)
        except (ValueError, UnicodeDecodeError) as e:
            return _error(400, f"body is not valid JSON: {e}", "(body)")
        try:
            sub = Submission.model_validate(raw)
        except ValidationError as e:
            field, message = _validation_message(e)
            return _error(400, message, field)
        try:
            parse_blob_url(sub.url, self.settings.github_base_url)
        except BadSourceUrl as e:
            return _error(400, f"url: {e}", "url")
        status_url = str(request.url_for("status", job_id=sub.jobId))
        try:
            existed = bool(await self.client.exists(self.keys.job(sub.jobId)))
            if not existed:
                keep = self.settings.keep_jobs_seconds
                await self.queue.add(JOB_NAME, sub.model_dump(mode="json"), {
                    "jobId": sub.jobId, "attempts": self.settings.attempts,
                    "backoff": {"type": "exponential", "delay": self.settings.backoff_ms},
                    "removeOnComplete": {"age": keep}, "removeOnFail": {"age": keep}})
            state = await self.queue.getJobState(sub.jobId)
        except (redis.RedisError, OSError) as e:
            log.warning("submission %s not queued: Redis unreachable: %s", sub.jobId, e)
            return _error(503, f"the job queue is unavailable, try again later ({type(e).__name__})")
        message = "Job already queued; not queued again" if existed else "Job queued for processing"
        log.info("submission %s (node %s): %s", sub.jobId, sub.uuid, message.lower())
        data = Accepted(jobId=sub.jobId, uuid=sub.uuid, message=message, state=state, statusUrl=status_url)
        return JSONResponse(AcceptedResponse(data=data).model_dump(), status_code=202,
                            headers={"Location": status_url})

    async def status(self, request: Request, job_id: str) -> JSONResponse:
        if not self._authorised(request):
            return _error(401, "Unauthorized")
        missing = _error(404, f"no job {job_id[:200]!r} in queue {self.settings.queue!r}")
        if not is_job_id(job_id):
            return missing  # `meta`, `events`, `id`, ...: the queue's own keys, not jobs
        try:
            if not await self._is_job(job_id):
                return missing
            # State first: the Lua script that moves a job to completed/failed writes its hash in the same step,
            # so a final state read first guarantees the hash read next has the result and reason.
            state = await self.queue.getJobState(job_id)
            job = await Job.fromId(self.queue, job_id)
        except (redis.RedisError, OSError) as e:
            return _error(503, f"the job queue is unavailable, try again later ({type(e).__name__})")
        if job is None:
            return missing
        data = JobStatus(jobId=job_id, state=state, progress=job.progress, attemptsMade=job.attemptsMade,
                         failedReason=job.failedReason or None, returnvalue=job.returnvalue,
                         finishedOn=job.finishedOn or None)
        return JSONResponse(StatusResponse(data=data).model_dump())

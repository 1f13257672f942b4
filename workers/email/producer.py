"""Enqueue `process-emails` jobs from Python with the original producer's defaults.

Node producers keep working unchanged; this is the Python side of the same contract. Data is validated
before it is queued, so a bad job is refused here rather than failing in a worker.
"""

from __future__ import annotations

from typing import Any

from bullmq import Queue

from workers.email.schema import PRIORITY_MAP, EmailJob

QUEUE = "email-processing"
JOB_NAME = "process-emails"
DEFAULT_OPTS: dict[str, Any] = {
    "attempts": 3,
    "backoff": {"type": "exponential", "delay": 2000},
    "removeOnComplete": 1000,
    "removeOnFail": 5000,
}


def job_options(job: EmailJob, **overrides: Any) -> dict[str, Any]:
    return {**DEFAULT_OPTS, "priority": PRIORITY_MAP[job.priority], **overrides}


async def enqueue_emails(redis_url: str, jobs: list[dict[str, Any]], *, prefix: str = "bull",
                         **opts: Any) -> list[str]:
    """Validate and add each job; returns the BullMQ job ids. Raises pydantic.ValidationError on bad data."""
    parsed = [EmailJob.model_validate(j) for j in jobs]
    queue = Queue(QUEUE, {"connection": redis_url, "prefix": prefix})
    try:
        ids = []
        for raw, job in zip(jobs, parsed, strict=True):
            added = await queue.add(JOB_NAME, raw, job_options(job, **opts))
            ids.append(str(added.id))
        return ids
    finally:
        await queue.close()

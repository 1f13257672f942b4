"""Enqueue `process-emails` jobs from Python with the original producer's defaults.

Node producers keep working unchanged; this is the Python side of the same contract. Data is validated
before it is queued, so a bad job is refused here rather than failing in a worker.
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
from pathlib import Path
from typing import Any

from bullmq import Queue
from pydantic import ValidationError

from workers.email.schema import MAX_EMAILS_PER_JOB, PRIORITY_MAP, EmailJob
from workers.redis_clients import async_client
from workers.validation import describe

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
                         job_ids: list[str] | None = None, **opts: Any) -> list[str]:
    """Validate and add each job; returns the BullMQ job ids. Raises InvalidItem (naming the item's index and
    field) on bad data, before anything is queued.

    Each job's BullMQ id is `job_ids[i]`, else derived from its content: adding the same job again (a command run
    twice) finds the first one instead of queuing it twice, as BullMQ ignores an add whose id is in the queue."""
    parsed = []
    for i, j in enumerate(jobs):
        try:
            parsed.append(EmailJob.model_validate(j))
        except ValidationError as e:
            raise InvalidItem(i, e) from None
    queue = Queue(QUEUE, {"connection": async_client(redis_url, decode_responses=True), "prefix": prefix})
    try:
        ids = []
        for i, (raw, job) in enumerate(zip(jobs, parsed, strict=True)):
            job_id = job_ids[i] if job_ids else content_id(raw)
            added = await queue.add(JOB_NAME, raw, job_options(job, jobId=job_id, **opts))
            ids.append(str(added.id))
        return ids
    finally:
        await queue.close()


class InvalidItem(ValueError):
    def __init__(self, index: int, error: ValidationError) -> None:
        self.index = index
        self.error = error
        super().__init__(describe(error, lead=f"item {index}"))


def content_id(raw: dict[str, Any]) -> str:
    """A BullMQ job id from the job's data: the same data, the same id."""
    canonical = json.dumps(raw, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return "emails-" + hashlib.sha256(canonical.encode()).hexdigest()[:24]


_PRIORITY_ORDER = ("low", "medium", "high", "critical")


def reanalysis_jobs(database: Path) -> tuple[list[dict[str, Any]], list[str]]:
    """Jobs for every email whose stored result says a phase fell back (Ollama was down or answered garbage),
    one per conversation so Phase 3 sees the chain, with the data as a producer would send it.

    Each job's BullMQ id is derived from its emails and their run counts: running the command again before
    the workers got to them adds nothing, and after a new run that fell back again it queues them anew."""
    if not database.exists():
        raise FileNotFoundError(f"no email database at {database}")
    con = sqlite3.connect(f"file:{database}?mode=ro", uri=True)
    try:
        rows = con.execute(
            """SELECT e.id, e.conversation_id, e.subject, e.body, e.sender_email, e.received_at, e.importance,
                      r.priority, r.runs
               FROM email_results r JOIN emails e ON e.id = r.email_id
               WHERE r.needs_reanalysis = 1 ORDER BY e.conversation_id, e.received_at, e.id""").fetchall()
    finally:
        con.close()
    by_conversation: dict[str, list[tuple[Any, ...]]] = {}
    for row in rows:
        by_conversation.setdefault(row[1], []).append(row)
    jobs, ids = [], []
    for conversation, members in by_conversation.items():
        for start in range(0, len(members), MAX_EMAILS_PER_JOB):
            chunk = members[start:start + MAX_EMAILS_PER_JOB]
            digest = hashlib.sha256(repr([(m[0], m[8]) for m in chunk]).encode()).hexdigest()[:16]
            emails = [{"id": m[0], "conversation_id": m[1], "subject": m[2], "body": m[3], "sender_email": m[4],
                       "received_at": m[5], **({"importance": m[6]} if m[6] else {})} for m in chunk]
            priority = max((m[7] for m in chunk), key=_PRIORITY_ORDER.index)
            jobs.append({"id": f"reanalyse-{conversation}-{digest}", "conversationId": conversation,
                         "emails": emails, "priority": priority, "options": {}})
            ids.append(f"reanalyse-{digest}")
    return jobs, ids

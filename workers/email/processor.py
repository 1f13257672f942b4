"""The `process-emails` processor: `--queue email-processing=workers.email.processor:processors`.

Validates the job (workers.email.schema), runs Phase 1 on every email, analyses each conversation's
chain over its stored history plus this job's emails, and saves emails and results in one transaction.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

from workers.email.rules import RULES_VERSION, analyse, chain_analysis, load_senders
from workers.email.schema import EmailJob
from workers.email.settings import load_settings
from workers.email.store import EmailRow, EmailStore, ResultRow
from workers.job import Job

ANALYSIS_VERSION = f"corral-email-1/{RULES_VERSION}"

_store: EmailStore | None = None
_store_lock = asyncio.Lock()


async def store() -> EmailStore:
    """The worker process's one connection, opened on first use (after the fork, in this event loop)."""
    global _store
    async with _store_lock:
        if _store is None:
            settings = load_settings()
            _store = await EmailStore(settings.path(settings.database)).open()
    return _store


async def process_emails(job: Job) -> dict[str, Any]:
    data: EmailJob = job.data
    settings = load_settings()
    senders = load_senders(str(settings.path(settings.senders)))
    db = await store()

    rows = [EmailRow(id=e.id, conversation_id=data.conversation_of(e), subject=e.subject, body=e.body,
                     sender_email=e.sender_email, received_at=e.received_at, importance=e.importance)
            for e in data.emails]
    phase1: dict[str, dict[str, Any]] = {}
    timings: dict[str, float] = {}
    for e in data.emails:
        t0 = time.perf_counter()
        phase1[e.id] = analyse(e.subject, e.body, e.sender_email, senders).as_dict()
        timings[e.id] = round((time.perf_counter() - t0) * 1000, 3)
    job.progress({"phase": 1, "emails": len(rows)})

    chains: dict[str, dict[str, Any]] = {}
    for conv in {r.conversation_id for r in rows}:
        history = dict(await db.conversation_times(conv))
        history.update({r.id: r.received_at for r in rows if r.conversation_id == conv})
        ordered = sorted(history.items(), key=lambda kv: kv[1])
        chains[conv] = chain_analysis([t for _, t in ordered], email_ids=[i for i, _ in ordered])

    results = []
    for r in rows:
        p1 = phase1[r.id]
        p1["chain_analysis"] = chains[r.conversation_id]
        results.append(ResultRow(
            email_id=r.id, job_id=job.id, conversation_id=r.conversation_id,
            workflow_state=p1["workflow_state"], priority=p1["priority"], phases_run=["phase1"],
            phases_fallback={}, phase1=p1, phase2=None, phase3=None, models={},
            timings_ms={"phase1": timings[r.id]}, analysis_version=ANALYSIS_VERSION,
        ))
    await db.save_job(rows, results)
    job.progress(100)
    return {
        "jobId": data.id,
        "conversationId": data.conversationId,
        "emails": [{"id": res.email_id, "phases": res.phases_run, "priority": res.priority,
                    "workflowState": res.workflow_state, "fallbacks": res.phases_fallback}
                   for res in results],
    }


process_emails.data_model = EmailJob  # type: ignore[attr-defined]

# The queue's processors by job name: other names fail at once with a clear reason.
processors = {"process-emails": process_emails}

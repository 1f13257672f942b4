"""The `process-emails` processor: `--queue email-processing=workers.email.processor:processors`.

Validates the job (workers.email.schema), runs Phase 1 on every email, analyses each conversation's
chain over its stored history plus this job's emails, and saves emails and results in one transaction.
"""

from __future__ import annotations

import asyncio
import threading
import time
from typing import Any

import ollama

from workers import runtime
from workers.bullmq_scripts import corral_key
from workers.email.limits import OllamaLimiter, PoolSemaphore
from workers.email.llm import (
    OllamaUnavailable,
    Phase2Output,
    Phase3Output,
    PhaseResult,
    ask,
    phase2_prompt,
    phase3_prompt,
)
from workers.email.locales import LocaleTable, load_locales
from workers.email.parts import PartCatalogue, load_parts
from workers.email.rules import RULES_VERSION, SenderLists, analyse, chain_analysis, load_senders
from workers.email.schema import Email, EmailJob
from workers.email.settings import EmailSettings, OllamaSettings, load_settings
from workers.email.store import EmailRow, EmailStore, ResultRow
from workers.job import Job
from workers.redis_clients import async_client

ANALYSIS_VERSION = f"corral-email-1/{RULES_VERSION}"

_store: EmailStore | None = None
_store_lock = asyncio.Lock()
_WARM_UP = threading.Lock()
_warm = False  # whether this process has built Phase 1's probe databases (_warm_up)


async def store() -> EmailStore:
    """The worker process's one connection, opened on first use (after the fork, in this event loop)."""
    global _store
    async with _store_lock:
        if _store is None:
            settings = load_settings()
            _store = await EmailStore(settings.database_path).open()
            runtime.on_shutdown(_store.close)
    return _store


_limiter: OllamaLimiter | None = None


def limiter(settings: OllamaSettings) -> OllamaLimiter:
    global _limiter
    if _limiter is None:
        url = runtime.redis_url()
        pool = None
        if url:
            client = async_client(url, decode_responses=True)
            runtime.on_shutdown(client.aclose)
            pool = PoolSemaphore(client, corral_key(runtime.key_prefix(), "ollama-slots"), settings.pool_concurrency)
        _limiter = OllamaLimiter(settings.per_worker_concurrency, pool)
    return _limiter


_ollama: ollama.AsyncClient | None = None


def ollama_client(settings: OllamaSettings) -> ollama.AsyncClient:
    """The worker process's one Ollama client: its HTTP connection pool is reused by every job, its own `timeout`
    bounds each request, and it is closed when the worker shuts down (a client per job leaked its connections)."""
    global _ollama
    if _ollama is None:
        _ollama = ollama.AsyncClient(host=settings.host, timeout=settings.request_timeout)
        runtime.on_shutdown(_close_ollama)
    return _ollama


async def _close_ollama() -> None:
    global _ollama
    if _ollama is not None:
        client, _ollama = _ollama, None
        await client.close()  # type: ignore[no-untyped-call]


class JobTimeout(Exception):
    pass


async def process_emails(job: Job) -> dict[str, Any]:
    data: EmailJob = job.data
    settings = load_settings()
    seconds = (data.options.timeout or settings.default_timeout_ms) / 1000
    try:
        return await asyncio.wait_for(_process(job, data, settings), seconds)
    except TimeoutError:
        raise JobTimeout(f"job took longer than its timeout of {seconds:g}s (options.timeout); "
                         "nothing was stored") from None


async def _process(job: Job, data: EmailJob, settings: EmailSettings) -> dict[str, Any]:
    senders = load_senders(settings.catalogue("senders"))
    locales = load_locales(settings.catalogue("locales"))
    parts = load_parts(settings.catalogue("parts"))
    db = await store()

    rows = [EmailRow(id=e.id, conversation_id=data.conversation_of(e), subject=e.subject, body=e.body,
                     sender_email=e.sender_email, received_at=e.received_at, importance=e.importance)
            for e in data.emails]
    if not _warm:  # the process's first email builds the probe databases: in a thread, the loop sends heartbeats
        await asyncio.to_thread(_warm_up, senders, locales, parts)
    phase1: dict[str, dict[str, Any]] = {}
    timings: dict[str, float] = {}
    for e in data.emails:  # on the loop: a rule that runs away stops the heartbeats, and the worker is replaced
        t0 = time.perf_counter()
        phase1[e.id] = analyse(e.subject, e.body, e.sender_email, senders, received_at=e.received_at,
                               headers=e.headers, locales=locales, parts=parts).as_dict()
        timings[e.id] = round((time.perf_counter() - t0) * 1000, 3)
    job.progress({"phase": 1, "emails": len(rows)})

    chains: dict[str, dict[str, Any]] = {}
    for conv in {r.conversation_id for r in rows}:
        history = dict(await db.conversation_times(conv))
        history.update({r.id: r.received_at for r in rows if r.conversation_id == conv})
        ordered = sorted(history.items(), key=lambda kv: kv[1])
        chains[conv] = chain_analysis([t for _, t in ordered], email_ids=[i for i, _ in ordered])

    for r in rows:
        phase1[r.id]["chain_analysis"] = chains[r.conversation_id]
    p2: dict[str, PhaseResult] = {}
    p3: dict[str, PhaseResult] = {}
    if settings.ollama.enabled:
        p2, p3 = await _llm_phases(job, data, settings.ollama, phase1, chains)

    results = []
    for r in rows:
        p1 = phase1[r.id]
        run, fallback, models, ms = ["phase1"], {}, {}, {"phase1": timings[r.id]}
        for name, res in (("phase2", p2.get(r.id)), ("phase3", p3.get(r.conversation_id))):
            if res is None:
                continue
            models[name] = res.model
            ms[name] = res.ms
            if res.output is not None:
                run.append(name)
            else:
                fallback[name] = res.fallback_reason or "no answer"
        results.append(ResultRow(
            email_id=r.id, job_id=job.id, conversation_id=r.conversation_id,
            workflow_state=p1["workflow_state"], priority=p1["priority"], phases_run=run,
            phases_fallback=fallback, phase1=p1, phase2=_output(p2.get(r.id)),
            phase3=_output(p3.get(r.conversation_id)), models=models, timings_ms=ms,
            analysis_version=ANALYSIS_VERSION,
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


def _warm_up(senders: SenderLists, locales: LocaleTable, parts: PartCatalogue) -> None:
    """Phase 1 of one short email, once per process, off the event loop: it compiles the probe databases (8 to 11 s
    on the CI machine, 1.4 s read back from workers.email.hscache's files), and a loop blocked that long sends no
    heartbeats, so the supervisor killed the worker as hung. Phase 1 itself stays on the loop, so a rule that runs
    away is still a hung worker, replaced, not a thread that holds the worker forever."""
    global _warm
    with _WARM_UP:  # a second job waits for the first one's warm-up, then finds it done
        if not _warm:
            analyse("Warm-up", "PO 4500123456, 2 x AB-1234, +1 212 555 0100", "warm-up@corral.invalid", senders,
                    locales=locales, parts=parts)
            _warm = True


def _output(res: PhaseResult | None) -> dict[str, Any] | None:
    return res.output if res is not None else None


async def _llm_phases(job: Job, data: EmailJob, cfg: OllamaSettings, phase1: dict[str, dict[str, Any]],
                      chains: dict[str, dict[str, Any]]) -> tuple[dict[str, PhaseResult], dict[str, PhaseResult]]:
    """Phase 2 per email, Phase 3 per complete conversation. An outage retries the job later while
    attempts remain (nothing stored); on the last attempt it completes with Phase 1 and marks the LLM
    phases as fallbacks with the reason, so the emails can be re-analysed when Ollama is back."""
    client = ollama_client(cfg)
    slot = limiter(cfg).slot
    try:
        p2_list = await asyncio.gather(*(
            ask(client, cfg.phase2_model,
                phase2_prompt(e.subject, e.sender_email, e.received_at.isoformat(), e.body, phase1[e.id]),
                Phase2Output, temperature=cfg.phase2_temperature, num_predict=cfg.num_predict, limiter=slot)
            for e in data.emails))
        p2 = {e.id: res for e, res in zip(data.emails, p2_list, strict=True)}
        job.progress({"phase": 2, "emails": len(p2)})
        p3: dict[str, PhaseResult] = {}
        for conv, chain in chains.items():
            mails = [e for e in data.emails if data.conversation_of(e) == conv]
            critical = cfg.phase3_for_critical and any(phase1[e.id]["priority"] == "critical" for e in mails)
            if chain["is_complete_chain"] or data.options.forceAllPhases or critical:
                prompt = phase3_prompt(_brief(mails), [p2[e.id].output for e in mails])
                p3[conv] = await ask(client, cfg.phase3_model, prompt, Phase3Output,
                                     temperature=cfg.phase3_temperature, num_predict=cfg.num_predict, limiter=slot)
        return p2, p3
    except OllamaUnavailable as e:
        if job.attempts_made + 1 < job.attempts:
            raise  # BullMQ retries the job with its backoff; nothing has been stored
        reason = f"{e} (last attempt: stored Phase 1 only, marked for re-analysis)"
        down = {e2.id: PhaseResult(None, cfg.phase2_model, 0.0, reason) for e2 in data.emails}
        return down, {conv: PhaseResult(None, cfg.phase3_model, 0.0, reason) for conv in chains
                      if chains[conv]["is_complete_chain"] or data.options.forceAllPhases}


def _brief(mails: list[Email]) -> list[dict[str, str]]:
    return [{"received_at": m.received_at.isoformat(), "sender": m.sender_email, "subject": m.subject,
             "body": m.body} for m in mails]


process_emails.data_model = EmailJob  # type: ignore[attr-defined]

# The queue's processors by job name: other names fail at once with a clear reason.
processors = {"process-emails": process_emails}

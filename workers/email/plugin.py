"""The email job type as a corral plug-in: its queue, its settings, its commands and its dependency check."""

from __future__ import annotations

import argparse
import asyncio
import json
import sqlite3
import sys
from pathlib import Path

import httpx

from workers.email.settings import EmailSettings
from workers.jobtype import Check, CheckResult, Command, CommandContext, CommandError, JobType, QueueDefault
from workers.validation import describe

CHECK_TIMEOUT = 3.0  # seconds for a dependency check's request


def _enqueue_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("file", help="JSON job data as the Node producers send it (one job or a list); - for stdin")


def _enqueue(ctx: CommandContext) -> int:
    from workers.email.producer import InvalidItem, enqueue_emails

    path = ctx.args.file
    try:
        raw = json.loads(sys.stdin.read() if path == "-" else Path(path).read_text())
    except (OSError, ValueError) as e:
        raise CommandError(f"cannot read job data from {path}: {e}", 2) from None
    jobs = raw if isinstance(raw, list) else [raw]
    try:
        ids = asyncio.run(enqueue_emails(ctx.redis_url(), jobs, prefix=ctx.prefix))
    except InvalidItem as e:
        raise CommandError(str(e) if isinstance(raw, list) else describe(e.error, lead="invalid job data"), 2) from None
    print(json.dumps({"queued": ids}))  # a job already queued keeps its id: running this twice queues nothing new
    return 0


def _reanalyse_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--database", help="the email SQLite file (default: the [email] database setting)")
    p.add_argument("--dry-run", action="store_true", help="only count what would be queued")


def _reanalyse(ctx: CommandContext) -> int:
    from workers.email.producer import enqueue_emails, reanalysis_jobs

    settings: EmailSettings = ctx.settings
    database = Path(ctx.args.database) if ctx.args.database else ctx.place.data(settings.database)
    try:
        jobs, ids = reanalysis_jobs(database)
    except (OSError, ValueError) as e:  # ValueError: not an email database
        raise CommandError(str(e), 2) from None
    except sqlite3.Error as e:
        raise CommandError(f"cannot read {database}: {e}", 2) from None
    emails = sum(len(j["emails"]) for j in jobs)
    queued: list[str] = []
    if jobs and not ctx.args.dry_run:
        queued = asyncio.run(enqueue_emails(ctx.redis_url(), jobs, prefix=ctx.prefix, job_ids=ids))
    print(json.dumps({"conversations": len(jobs), "emails": emails, "queued": queued}))
    return 0


def _email_arguments(p: argparse.ArgumentParser) -> None:
    sub = p.add_subparsers(dest="email_command", required=True)
    analyse = sub.add_parser("analyse", help="Phase 1 (rules) of each email in a JSON or JSON-lines file")
    analyse.add_argument("file", help="emails as JSON or JSON lines; - for stdin")


def _email(ctx: CommandContext) -> int:
    from workers.email.cli import InputError, analyse_file

    path = ctx.args.file
    try:
        text = sys.stdin.read() if path == "-" else Path(path).read_text()
        analyse_file(text, sys.stdout)
    except OSError as e:
        raise CommandError(f"cannot read {path}: {e.strerror}", 2) from None
    except (InputError, ValueError) as e:
        raise CommandError(str(e), 2) from None
    return 0


def _checks(settings: EmailSettings) -> list[Check]:
    if not settings.ollama.enabled:
        return []
    return [Check("ollama", lambda: ollama_check(settings))]


async def ollama_check(settings: EmailSettings) -> CheckResult:
    """Ollama answers and has both models (Phase 2's and Phase 3's)."""
    url = settings.ollama.host.rstrip("/") + "/api/tags"
    try:
        async with httpx.AsyncClient(timeout=CHECK_TIMEOUT) as client:
            resp = await client.get(url)
        resp.raise_for_status()
        names = {m.get("name", "") for m in resp.json().get("models", [])}
    except (httpx.HTTPError, ValueError) as e:
        return CheckResult(False, f"Ollama unreachable at {settings.ollama.host}: {type(e).__name__}: {e}")
    wanted = [settings.ollama.phase2_model, settings.ollama.phase3_model]
    missing = [m for m in wanted if m not in names and f"{m}:latest" not in names]
    if missing:
        return CheckResult(False, f"Ollama at {settings.ollama.host} lacks model(s) {', '.join(missing)} "
                                  f"(ollama pull {missing[0]})")
    return CheckResult(True, f"Ollama at {settings.ollama.host} with {', '.join(wanted)}")


jobtype = JobType(
    name="email",
    summary="three-phase email analysis: rules, then an LLM, then a larger LLM for complete chains",
    queues=(QueueDefault("email-processing", "workers.email.processor:processors", concurrency=3),),
    settings=EmailSettings,
    commands=(
        Command("enqueue-emails", "queue process-emails jobs from a JSON file (one job or a list)",
                _enqueue_arguments, _enqueue),
        Command("reanalyse-emails", "queue again every stored email whose LLM phases fell back (Ollama was down)",
                _reanalyse_arguments, _reanalyse),
        Command("email", "email analysis tools (analyse: Phase 1 of your own mail)", _email_arguments, _email),
    ),
    checks=_checks,
)

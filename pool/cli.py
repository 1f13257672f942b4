"""The `corral` command: run the daemon, check a configuration, show the pool's status, queue email jobs."""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import os
import sqlite3
import sys
import time
from pathlib import Path
from typing import Any

import redis
import redis.asyncio

from pool.config import ConfigError, CorralConfig, RedisConfig, load_config, parse_queue_flag
from pool.embedded_redis import EmbeddedRedis, EmbeddedRedisError, client_url
from pool.fleet import is_live
from pool.metrics import read_snapshots
from workers.errors import ProcessorImportError
from workers.logs import configure
from workers.redis_clients import async_client, server_version
from workers.redis_url import RedisUrlError, cluster_key_problem
from workers.registry import resolve
from workers.urls import redact

log = logging.getLogger("corral")

EXIT_CONFIG = 2
# Commands that talk to Redis (and the email database) but run no processors: no [[queues]] needed.
CLIENT_COMMANDS = ("status", "watch", "cancel", "enqueue-emails", "reanalyse-emails")


def _parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(prog="corral", description="A BullMQ-compatible worker pool daemon.")
    sub = ap.add_subparsers(dest="command", required=True)

    def common(p: argparse.ArgumentParser) -> None:
        p.add_argument("--config", "-c", help="TOML file (default config/corral.toml, or $CORRAL_CONFIG)")
        p.add_argument("--redis-url", help="Redis to use (or $REDIS_URL); none: run an embedded redis-server")

    run = sub.add_parser("run", help="run the supervisor and its workers")
    common(run)
    run.add_argument("--queue", "-q", action="append", metavar="NAME=module:function[@CONCURRENCY]",
                     help="a queue and its processor; repeatable; replaces the file's [[queues]]")
    run.add_argument("--min-workers", type=int)
    run.add_argument("--max-workers", type=int)
    run.add_argument("--max-memory-mb", type=int)
    run.add_argument("--log-level")
    run.add_argument("--http-port", type=int, help="the HTTP server's port (default 5454; 0: any free port)")
    run.add_argument("--no-http", action="store_true", help="serve no HTTP (no intake route, no metrics)")

    check = sub.add_parser("check", help="validate the configuration and import every processor")
    common(check)
    check.add_argument("--queue", "-q", action="append", metavar="NAME=module:function[@CONCURRENCY]")

    enqueue = sub.add_parser("enqueue-emails", help="queue process-emails jobs from a JSON file (one job or a list)")
    common(enqueue)
    enqueue.add_argument("file", help="JSON job data as the Node producers send it; - for stdin")

    again = sub.add_parser("reanalyse-emails",
                           help="queue again every stored email whose LLM phases fell back (Ollama was down)")
    common(again)
    again.add_argument("--database", help="the email SQLite file (default: from config/email.toml)")
    again.add_argument("--dry-run", action="store_true", help="only count what would be queued")

    status = sub.add_parser("status", help="print the latest metrics snapshot of every daemon")
    common(status)
    status.add_argument("--json", action="store_true", help="machine-readable output")

    cancel = sub.add_parser("cancel", help="cancel a running job (its processor task is cancelled; the attempt fails)")
    common(cancel)
    cancel.add_argument("queue")
    cancel.add_argument("job_id")
    cancel.add_argument("--reason", default="cancelled by an operator")

    email = sub.add_parser("email", help="email analysis tools")
    email_sub = email.add_subparsers(dest="email_command", required=True)
    email_analyse = email_sub.add_parser("analyse", help="Phase 1 (rules) of each email in a JSON or JSON-lines file")
    email_analyse.add_argument("file", help="emails as JSON or JSON lines; - for stdin")

    watch = sub.add_parser("watch", help="a live terminal view of every daemon on the Redis")
    common(watch)
    watch.add_argument("--interval", type=float, default=1.0, help="seconds between refreshes (default 1)")
    watch.add_argument("--once", action="store_true", help="print one frame and exit")
    return ap


def _overrides(args: argparse.Namespace) -> dict[str, Any]:
    over: dict[str, Any] = {}
    pool = {k: v for k in ("min_workers", "max_workers", "max_memory_mb")
            if (v := getattr(args, k, None)) is not None}
    if pool:
        over["pool"] = pool
    if getattr(args, "redis_url", None):
        over["redis"] = {"url": args.redis_url}
    if getattr(args, "queue", None):
        over["queues"] = [parse_queue_flag(f) for f in args.queue]
    if getattr(args, "log_level", None):
        over["log_level"] = args.log_level
    http = {k: v for k, v in (("port", getattr(args, "http_port", None)),
                              ("enabled", False if getattr(args, "no_http", False) else None)) if v is not None}
    if http:
        over["http"] = http
    return over


def _fail(message: str, code: int = EXIT_CONFIG) -> int:
    print(f"corral: error: {message}", file=sys.stderr)
    return code


def check_processors(cfg: CorralConfig) -> None:
    for q in cfg.queues:
        resolve(q.processor)


def main(argv: list[str] | None = None) -> int:
    # Like gunicorn and celery: processors named by module path resolve from the current directory.
    if os.getcwd() not in sys.path:
        sys.path.insert(0, os.getcwd())
    args = _parser().parse_args(argv)
    if args.command == "email":  # needs no daemon configuration
        return _email(args)
    try:
        cfg = load_config(args.config, overrides=_overrides(args))
    except ConfigError as e:
        if args.command in CLIENT_COMMANDS and "no queues configured" in str(e):
            cfg = None  # status needs only Redis
        else:
            return _fail(str(e))
    try:
        if args.command == "status":
            return _status(args, cfg)
        if args.command == "watch":
            return _watch(args, cfg)
        if args.command == "cancel":
            return _cancel(args, cfg)
        if args.command == "enqueue-emails":
            return _enqueue_emails(args, cfg)
        if args.command == "reanalyse-emails":
            return _reanalyse_emails(args, cfg)
    except EmbeddedRedisError as e:  # the embedded server's password file cannot be read
        return _fail(str(e))
    assert cfg is not None
    try:
        check_processors(cfg)
    except ProcessorImportError as e:
        return _fail(str(e))
    if args.command == "check":
        for q in cfg.queues:
            print(f"ok  {q.name}: {q.processor} (concurrency {q.concurrency})")
        return 0
    return run(cfg)


def run(cfg: CorralConfig) -> int:
    configure(cfg.log_level, "supervisor", {"role": "supervisor"})
    embedded: EmbeddedRedis | None = None
    url = cfg.redis.url
    if not url:
        embedded = EmbeddedRedis(cfg.redis.embedded_port, cfg.redis.embedded_dir)
        try:
            url = embedded.start()
        except EmbeddedRedisError as e:
            return _fail(str(e))
        log.info("embedded redis-server on %s (data in %s)", redact(url), cfg.redis.embedded_dir)
    try:
        problem = _redis_problem(url) or cluster_key_problem(url, cfg.redis.prefix, [q.name for q in cfg.queues])
        if problem:
            return _fail(problem)
        from pool.http import HttpBindError
        from pool.supervisor import Supervisor

        try:
            return asyncio.run(Supervisor(cfg, url).run())
        except HttpBindError as e:
            return _fail(str(e))
    finally:
        if embedded is not None:
            embedded.stop()
            log.info("embedded redis-server stopped")


def _redis_problem(url: str) -> str | None:
    try:
        version = asyncio.run(server_version(url, connect_timeout=3))
    except RedisUrlError as e:
        return str(e)
    except ValueError as e:
        return f"Redis URL {redact(url)!r} is not valid: {e}"
    except (redis.exceptions.RedisError, OSError) as e:
        return f"cannot reach Redis at {redact(url)}: {e}"
    if tuple(int(x) for x in version.split(".")[:2]) < (6, 2):
        return f"Redis {version} at {redact(url)} is too old: BullMQ 6 needs 6.2 or newer"
    return None


def _redis_url_for_client(args: argparse.Namespace, cfg: CorralConfig | None) -> str:
    """A client command's Redis: the flag, the config, $REDIS_URL, else the embedded server (its password
    read from its folder)."""
    url = args.redis_url or (cfg.redis.url if cfg else "") or os.environ.get("REDIS_URL") or ""
    if not url:
        embedded = cfg.redis if cfg else RedisConfig()
        url = client_url(embedded.embedded_port, embedded.embedded_dir)
    return str(url)


def _enqueue_emails(args: argparse.Namespace, cfg: CorralConfig | None) -> int:
    from pydantic import ValidationError

    from workers.consumer import describe_validation_error
    from workers.email.producer import enqueue_emails

    try:
        raw = json.loads(sys.stdin.read() if args.file == "-" else Path(args.file).read_text())
    except (OSError, ValueError) as e:
        return _fail(f"cannot read job data from {args.file}: {e}")
    jobs = raw if isinstance(raw, list) else [raw]
    url = _redis_url_for_client(args, cfg)
    problem = _redis_problem(url)
    if problem:
        return _fail(problem, 1)
    try:
        ids = asyncio.run(enqueue_emails(url, jobs, prefix=cfg.redis.prefix if cfg else "bull"))
    except ValidationError as e:
        return _fail(describe_validation_error(e))
    print(json.dumps({"queued": ids}))
    return 0


def _reanalyse_emails(args: argparse.Namespace, cfg: CorralConfig | None) -> int:
    from workers.email.producer import enqueue_emails, reanalysis_jobs
    from workers.email.settings import load_settings

    try:
        settings = load_settings()
        database = Path(args.database) if args.database else settings.path(settings.database)
        jobs, ids = reanalysis_jobs(database)
    except (OSError, ValueError) as e:  # ValueError: a bad email.toml (pydantic) or not an email database
        return _fail(str(e))
    except sqlite3.Error as e:
        return _fail(f"cannot read {args.database or 'the email database'}: {e}")
    emails = sum(len(j["emails"]) for j in jobs)
    if args.dry_run or not jobs:
        print(json.dumps({"conversations": len(jobs), "emails": emails, "queued": []}))
        return 0
    url = _redis_url_for_client(args, cfg)
    problem = _redis_problem(url)
    if problem:
        return _fail(problem, 1)
    queued = asyncio.run(enqueue_emails(url, jobs, prefix=cfg.redis.prefix if cfg else "bull", job_ids=ids))
    print(json.dumps({"conversations": len(jobs), "emails": emails, "queued": queued}))
    return 0


def _email(args: argparse.Namespace) -> int:
    from workers.email.cli import InputError, analyse_file

    try:
        text = sys.stdin.read() if args.file == "-" else Path(args.file).read_text(encoding="utf-8")
        analyse_file(text, sys.stdout)
    except (OSError, UnicodeDecodeError, InputError) as e:
        return _fail(f"cannot analyse {args.file}: {e}")
    except ValueError as e:  # a bad email configuration (pydantic, TOML, a part pattern): its file is named
        return _fail(str(e))
    return 0


def _status(args: argparse.Namespace, cfg: CorralConfig | None) -> int:
    url = _redis_url_for_client(args, cfg)
    prefix = cfg.redis.prefix if cfg else "bull"
    problem = _redis_problem(url)
    if problem:
        return _fail(problem, 1)

    async def read() -> list[dict[str, Any]]:
        client = async_client(url, decode_responses=True)
        try:
            return await read_snapshots(client, prefix)
        finally:
            await client.aclose()

    snaps = asyncio.run(read())
    if args.json:
        print(json.dumps({"daemons": snaps}, indent=2))
        return 0 if snaps else 1
    if not snaps:
        print(f"no corral daemon has reported to {redact(url)} (prefix {prefix!r})")
        return 1
    for s in snaps:
        print(format_snapshot(s))
    return 0


def _cancel(args: argparse.Namespace, cfg: CorralConfig | None) -> int:
    from pool.cancel import CancelRequest, publish

    url = _redis_url_for_client(args, cfg)
    problem = _redis_problem(url)
    if problem:
        return _fail(problem, 1)

    async def send() -> int:
        client = redis.asyncio.Redis.from_url(url, decode_responses=True)
        try:
            return await publish(client, cfg.redis.prefix if cfg else "bull",
                                 CancelRequest(args.queue, args.job_id, args.reason))
        finally:
            await client.aclose()

    heard = asyncio.run(send())
    print(json.dumps({"queue": args.queue, "jobId": args.job_id, "daemonsListening": heard}))
    if not heard:
        print("corral: no daemon is listening on this Redis; nothing was cancelled", file=sys.stderr)
    return 0 if heard else 1


def _watch(args: argparse.Namespace, cfg: CorralConfig | None) -> int:
    from pool.watch import watch

    url = _redis_url_for_client(args, cfg)
    problem = _redis_problem(url)
    if problem:
        return _fail(problem, 1)
    try:
        return asyncio.run(watch(url, cfg.redis.prefix if cfg else "bull", max(0.2, args.interval), args.once))
    except KeyboardInterrupt:
        return 0


def format_snapshot(s: dict[str, Any]) -> str:
    age = time.time() - s["at"]
    if s.get("stopped"):
        stale = "  (stopped)"
    else:
        stale = "" if is_live(s, time.time()) else f"  (SILENT: no report for {age:.0f}s)"
    shares = ", ".join(f"{q} {v:.2f}" for q, v in (s.get("fleetShare") or {}).items() if v < 1)
    lines = [
        f"daemon {s['daemonId']} on {s['host']} pid {s['pid']}, up {s['uptime']:.0f}s, "
        f"reported {age:.1f}s ago{stale}" + (f"; fleet share {shares}" if shares else ""),
        f"  workers: {s['totalWorkers']} (busy {s['activeWorkers']}, idle {s['idleWorkers']}, "
        f"starting {s['startingWorkers']}, draining {s['drainingWorkers']}); "
        f"limits {s['limits']['minWorkers']}..{s['limits']['maxWorkers']}",
        f"  jobs: processed {s['totalProcessed']}, failed {s['totalFailed']}, "
        f"avg {s['averageProcessingTime']:.1f} ms, throughput {s['throughput']:.1f}/s, queue depth {s['queueDepth']}",
    ]
    for q, d in s["queues"].items():
        lines.append(f"  queue {q}: waiting {d['waiting']} prioritized {d['prioritized']} delayed {d['delayed']} "
                     f"(due {d['delayedDue']}) active {d['active']}{' PAUSED' if d['paused'] else ''}")
    for w in s["workers"]:
        lines.append(f"  worker {w['workerId']} pid {w['pid']}: {w['state']}, {w['rssMb']} MB, "
                     f"done {w['completed']} failed {w['failed']}")
    r = s["restarts"]
    if r["total"]:
        lines.append(f"  restarts: {r['total']} " + ", ".join(f"{k}={v}" for k, v in r["byReason"].items()))
        for e in r["recent"][-5:]:
            lines.append(f"    {e['workerId']} pid {e['pid']}: {e['reason']}")
    if s["limits"].get("lastStartError"):
        lines.append(f"  last start error: {s['limits']['lastStartError']}")
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())

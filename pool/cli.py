"""The `corral` command: run the daemon, check a configuration, show and steer the pool; job types add theirs.

`corral run|check|status|watch|cancel` are the daemon's own; `corral enqueue-emails`, `corral email analyse`, ...
come from the job types' plug-ins (workers.jobtype.Command), found the way the daemon finds the job types.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import os
import socket
import sys
import time
from collections.abc import Callable
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any

import redis
import redis.asyncio

from pool import plugins
from pool.config import ConfigError, CorralConfig, load_config, parse_queue_flag
from pool.embedded_redis import EmbeddedRedis, EmbeddedRedisError, client_url, refused_login
from pool.failures import describe as describe_failures
from pool.fleet import is_live
from pool.metrics import read_snapshots
from workers.errors import ProcessorImportError
from workers.jobtype import Command, CommandContext, CommandError, JobType
from workers.logs import configure
from workers.redis_clients import async_client, server_version
from workers.redis_url import RedisUrlError, cluster_key_problem
from workers.registry import resolve
from workers.urls import redact

log = logging.getLogger("corral")

EXIT_CONFIG = 2


def corral_version() -> str:
    try:
        return version("corral")
    except PackageNotFoundError:
        return "unknown (not installed)"


def _common(p: argparse.ArgumentParser) -> None:
    p.add_argument("--config", "-c", help="TOML file (default: corral.toml or config/corral.toml here, or "
                                          "$CORRAL_CONFIG; none: built-in defaults)")
    p.add_argument("--redis-url", help="Redis to use (or $REDIS_URL); run: none starts an embedded redis-server; "
                                       "other commands: none means the embedded server's address")
    p.add_argument("--data-dir", help="databases, work folders and the embedded Redis (default ./data, or "
                                      "$CORRAL_DATA_DIR)")
    p.add_argument("--embedded-port", type=int, help="the embedded redis-server's port (default 6380, or "
                                                     "$CORRAL_REDIS_EMBEDDED_PORT)")


def _parser(jobtypes: dict[str, JobType]) -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(prog="corral", description="A BullMQ-compatible worker pool daemon.")
    ap.add_argument("--version", action="version", version=f"corral {corral_version()}")
    sub = ap.add_subparsers(dest="command", required=True)

    run = sub.add_parser("run", help="run the supervisor and its workers")
    _common(run)
    run.add_argument("--queue", "-q", action="append", metavar="NAME=module:function[@CONCURRENCY]",
                     help="a queue and its processor; repeatable; replaces every configured queue (the file's "
                          "and the job types')")
    run.add_argument("--min-workers", type=int)
    run.add_argument("--max-workers", type=int)
    run.add_argument("--max-memory-mb", type=int)
    run.add_argument("--log-level")
    run.add_argument("--http-port", type=int, help="the HTTP server's port (default 5454; 0: any free port)")
    run.add_argument("--no-http", action="store_true", help="serve no HTTP (no intake route, no metrics)")
    run.add_argument("--reload", action="store_true",
                     help="for development: roll the workers when a processor's source changes (SIGHUP does the same "
                          "on demand, and also re-reads the configuration)")

    check = sub.add_parser("check", help="validate the configuration and import every processor")
    _common(check)
    check.add_argument("--queue", "-q", action="append", metavar="NAME=module:function[@CONCURRENCY]")

    status = sub.add_parser("status", help="print the latest metrics snapshot of every daemon on the Redis")
    _common(status)
    status.add_argument("--json", action="store_true", help="machine-readable output")

    watch = sub.add_parser("watch", help="a live terminal view of every daemon on the Redis")
    _common(watch)
    watch.add_argument("--interval", type=float, default=1.0, help="seconds between refreshes (default 1)")
    watch.add_argument("--once", action="store_true", help="print one frame and exit")

    cancel = sub.add_parser("cancel", help="cancel a running job (its processor task is cancelled; the attempt fails)")
    _common(cancel)
    cancel.add_argument("cancel_queue", metavar="queue")  # (not `queue`: that is run's --queue list)
    cancel.add_argument("job_id")
    cancel.add_argument("--reason", default="cancelled by an operator")

    for jt in jobtypes.values():
        for cmd in jt.commands:
            p = sub.add_parser(cmd.name, help=f"[{jt.name}] {cmd.help}")
            _common(p)
            cmd.add_arguments(p)
            p.set_defaults(jobtype=jt.name, jobtype_command=cmd)
    return ap


def _overrides(args: argparse.Namespace) -> dict[str, Any]:
    over: dict[str, Any] = {}
    pool = {k: v for k in ("min_workers", "max_workers", "max_memory_mb")
            if (v := getattr(args, k, None)) is not None}
    if pool:
        over["pool"] = pool
    redis_over = {k: v for k, v in (("url", getattr(args, "redis_url", None)),
                                    ("embedded_port", getattr(args, "embedded_port", None))) if v}
    if redis_over:
        over["redis"] = redis_over
    if getattr(args, "queue", None):
        over["queues"] = [parse_queue_flag(f) for f in args.queue]
    for key in ("log_level", "data_dir"):
        if getattr(args, key, None):
            over[key] = getattr(args, key)
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
    args = _parser(plugins.all_installed()).parse_args(argv)
    try:
        cfg = load_config(args.config, overrides=_overrides(args))
    except ConfigError as e:
        return _fail(str(e))
    try:
        if args.command == "run":
            return _run_checked(cfg, args)
        if args.command == "check":
            return _check(cfg)
        if args.command == "status":
            return _status(args, cfg)
        if args.command == "watch":
            return _watch(args, cfg)
        if args.command == "cancel":
            return _cancel(args, cfg)
        return _jobtype_command(args, cfg)
    except EmbeddedRedisError as e:  # the embedded server's password file cannot be read
        return _fail(str(e))
    except CommandError as e:
        return _fail(str(e), e.code)
    except KeyboardInterrupt:  # a second Ctrl-C while a command waits: no traceback
        return 130


def _check(cfg: CorralConfig) -> int:
    try:
        check_processors(cfg)
    except ProcessorImportError as e:
        return _fail(str(e))
    for q in cfg.queues:
        own = f", workers {q.min_workers}..{q.max_workers} of its own" if q.own_workers else ""
        print(f"ok  {q.name}: {q.processor} (concurrency {q.concurrency}{own})")
    for name in cfg.jobtypes:
        print(f"ok  job type {name}")
    return 0


def _run_checked(cfg: CorralConfig, args: argparse.Namespace) -> int:
    try:
        check_processors(cfg)
    except ProcessorImportError as e:
        return _fail(str(e))
    return run(cfg, reload_config=lambda: load_config(args.config, overrides=_overrides(args)),
               watch_code=args.reload)


def _jobtype_command(args: argparse.Namespace, cfg: CorralConfig) -> int:
    cmd: Command = args.jobtype_command
    name: str = args.jobtype

    def redis_url() -> str:
        url = _redis_url_for_client(args, cfg)
        problem = _client_redis_problem(url, cfg)
        if problem:
            raise CommandError(problem, 1)
        return url

    settings = cfg.jobtype_settings.get(name)
    if settings is None and (jt := plugins.all_installed().get(name)) and jt.settings is not None:
        settings = jt.settings.model_validate({})  # a job type not enabled here: its defaults
    return cmd.run(CommandContext(args=args, settings=settings, redis_url=redis_url, prefix=cfg.redis.prefix,
                                  place=cfg.place))


def run(cfg: CorralConfig, *, reload_config: Callable[[], CorralConfig] | None = None,
        watch_code: bool = False) -> int:
    configure(cfg.log_level, "supervisor", {"role": "supervisor"})
    if problems := _ports_taken(cfg):  # both said at once, not one per attempt
        return _fail("; ".join(problems))
    try:
        return _run(cfg, reload_config, watch_code)
    except KeyboardInterrupt:  # Ctrl-C before the supervisor took over the signals: nothing was running yet
        print("corral: interrupted while starting; nothing was started", file=sys.stderr)
        return 0


def _ports_taken(cfg: CorralConfig) -> list[str]:
    out = []
    if cfg.http.enabled and cfg.http.port and not _can_bind(cfg.http.host, cfg.http.port):
        out.append(f"the HTTP port {cfg.http.host}:{cfg.http.port} is in use (set --http-port, CORRAL_HTTP_PORT "
                   "or [http] port; --no-http serves none)")
    if not cfg.redis.url and not _can_bind("127.0.0.1", cfg.redis.embedded_port):
        out.append(f"the embedded Redis port {cfg.redis.embedded_port} is in use (another corral? set "
                   "--embedded-port or CORRAL_REDIS_EMBEDDED_PORT, or give --redis-url)")
    return out


def _can_bind(host: str, port: int) -> bool:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind((host, port))
        except OSError:
            return False
    return True


def _run(cfg: CorralConfig, reload_config: Callable[[], CorralConfig] | None, watch_code: bool) -> int:
    embedded: EmbeddedRedis | None = None
    url = cfg.redis.url
    if not url:
        embedded = EmbeddedRedis(cfg.redis.embedded_port, cfg.embedded_dir)
        try:
            url = embedded.start()
        except EmbeddedRedisError as e:
            return _fail(str(e))
        log.info("embedded redis-server on %s (data in %s)", redact(url), cfg.embedded_dir)
    try:
        problem = _redis_problem(url) or cluster_key_problem(url, cfg.redis.prefix, [q.name for q in cfg.queues])
        if problem:
            return _fail(problem)
        from pool.http import HttpBindError
        from pool.supervisor import Supervisor

        try:
            return asyncio.run(Supervisor(cfg, url, reload_config=reload_config, watch_code=watch_code).run())
        except HttpBindError as e:
            return _fail(str(e))
    finally:
        if embedded is not None:
            embedded.stop()
            log.info("embedded redis-server stopped")


def _redis_problem(url: str, password_dir: Path | None = None) -> str | None:
    """Why `url` cannot serve corral, or None. `password_dir`: where a client command looked for the embedded
    server's password (a login refused is then explained by it)."""
    try:
        version_ = asyncio.run(server_version(url, connect_timeout=3))
    except RedisUrlError as e:
        return str(e)
    except ValueError as e:
        return f"Redis URL {redact(url)!r} is not valid: {e}"
    except redis.exceptions.AuthenticationError as e:
        if password_dir is None:
            return f"Redis at {redact(url)} refused the login: {e}"
        return refused_login(redact(url), e, password_dir)
    except (redis.exceptions.RedisError, OSError) as e:
        return f"cannot reach Redis at {redact(url)}: {e}"
    if tuple(int(x) for x in version_.split(".")[:2]) < (6, 2):
        return f"Redis {version_} at {redact(url)} is too old: BullMQ 6 needs 6.2 or newer"
    return None


def _redis_url_for_client(args: argparse.Namespace, cfg: CorralConfig) -> str:
    """A client command's Redis: the flag or the configuration (REDIS_URL included), else the embedded server (its
    password read from its folder)."""
    return cfg.redis.url or client_url(cfg.redis.embedded_port, cfg.embedded_dir)


def _client_redis_problem(url: str, cfg: CorralConfig) -> str | None:
    return _redis_problem(url, None if cfg.redis.url else cfg.embedded_dir)


def _status(args: argparse.Namespace, cfg: CorralConfig) -> int:
    url = _redis_url_for_client(args, cfg)
    prefix = cfg.redis.prefix
    problem = _client_redis_problem(url, cfg)
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


def _cancel(args: argparse.Namespace, cfg: CorralConfig) -> int:
    from pool.cancel import CancelRequest, channel, publish
    from workers.redis_clients import pubsub_client

    url = _redis_url_for_client(args, cfg)
    problem = _client_redis_problem(url, cfg)
    if problem:
        return _fail(problem, 1)

    async def send() -> int:
        # On a cluster, a client of the channel's node: PUBLISH counts only the subscribers of the node it ran on.
        client = await pubsub_client(url, channel(cfg.redis.prefix), decode_responses=True)
        try:
            return await publish(client, cfg.redis.prefix,
                                 CancelRequest(args.cancel_queue, args.job_id, args.reason))
        finally:
            await client.aclose()

    heard = asyncio.run(send())
    print(json.dumps({"queue": args.cancel_queue, "jobId": args.job_id, "daemonsListening": heard}))
    if not heard:
        print("corral: no daemon is listening on this Redis; nothing was cancelled", file=sys.stderr)
    return 0 if heard else 1


def _watch(args: argparse.Namespace, cfg: CorralConfig) -> int:
    from pool.watch import watch

    url = _redis_url_for_client(args, cfg)
    problem = _client_redis_problem(url, cfg)
    if problem:
        return _fail(problem, 1)
    try:
        return asyncio.run(watch(url, cfg.redis.prefix, max(0.2, args.interval), args.once))
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
        f"  jobs: completed {s['totalProcessed']}, failed {s['totalFailed']}, attempts retried "
        f"{s.get('totalRetried', 0)}; avg {s['averageProcessingTime']:.1f} ms, throughput {s['throughput']:.1f}/s, "
        f"queue depth {s['queueDepth']}",
    ]
    for q, d in s["queues"].items():
        lines.append(f"  queue {q}: waiting {d['waiting']} prioritized {d['prioritized']} delayed {d['delayed']} "
                     f"(due {d['delayedDue']}) active {d['active']}{' PAUSED' if d['paused'] else ''}; "
                     f"completed {d['completed']} failed {d['failed']} retried {d.get('retried', 0)}")
    for w in s["workers"]:
        lines.append(f"  worker {w['workerId']} pid {w['pid']}: {w['state']}, {w['rssMb']} MB, "
                     f"CPU {w.get('cpuPercent', 0.0):.0f} %, "
                     f"completed {w['completed']} failed {w['failed']} retried {w.get('retried', 0)}")
    lines += ["  " + line for line in describe_failures(s)]
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

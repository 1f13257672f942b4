"""`corral watch`: a live terminal view of every daemon on a Redis, from the snapshots they publish.

It reads what `corral status` reads (pool/metrics.py), so it works from any shell that reaches Redis,
and shows the whole fleet: one panel per daemon with its workers against their memory limit, its
queues, restarts with reasons and recent scaling decisions.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

import redis.asyncio
import redis.exceptions
from rich.console import Console, Group, RenderableType
from rich.live import Live
from rich.panel import Panel
from rich.progress_bar import ProgressBar
from rich.table import Table
from rich.text import Text

from pool.failures import describe as describe_failures
from pool.fleet import is_live
from pool.metrics import read_snapshots
from workers.redis_clients import async_client


def render(snaps: list[dict[str, Any]], now: float | None = None) -> RenderableType:
    now = time.time() if now is None else now
    if not snaps:
        return Text("no corral daemon has reported to this Redis yet", style="yellow")
    live = [s for s in snaps if is_live(s, now)]
    head = Text.assemble(
        ("corral fleet: ", "bold"), f"{len(live)} live daemon(s) of {len(snaps)} known, ",
        f"{sum(s['totalWorkers'] for s in live)} workers, {sum(s['activeWorkers'] for s in live)} busy, ",
        f"backlog {max((s['queueDepth'] for s in live), default=0)}, ",
        f"{sum(s['throughput'] for s in live):.1f} jobs/s", ("   " + time.strftime("%H:%M:%S"), "dim"))
    return Group(head, *(_daemon(s, now) for s in snaps))


def _daemon(s: dict[str, Any], now: float) -> Panel:
    age = now - s["at"]
    if s.get("stopped"):
        state = Text("stopped", style="dim")
    elif is_live(s, now):
        state = Text(f"reported {age:.0f}s ago", style="green")
    else:
        state = Text(f"SILENT for {age:.0f}s", style="bold red")
    lim = s["limits"]
    summary = Text.assemble(
        f"workers {s['totalWorkers']} ({lim['minWorkers']}..{lim['maxWorkers']}): busy {s['activeWorkers']}, "
        f"idle {s['idleWorkers']}, starting {s['startingWorkers']}, draining {s['drainingWorkers']}   ",
        f"completed {s['totalProcessed']}  failed {s['totalFailed']}  retried {s.get('totalRetried', 0)}  "
        f"avg {s['averageProcessingTime']:.1f} ms  {s['throughput']:.1f} jobs/s")
    parts: list[RenderableType] = [summary, _queues(s), _workers(s)]
    restarts = s["restarts"]
    if restarts["total"]:
        lines = [f"restarts {restarts['total']}: " + ", ".join(f"{k} {v}" for k, v in restarts["byReason"].items())]
        lines += [f"  {time.strftime('%H:%M:%S', time.localtime(r['at']))} {r['workerId']} pid {r['pid']}: "
                  f"{r['reason']}" for r in restarts["recent"][-5:]]
        parts.append(Text("\n".join(lines), style="yellow"))
    if problems := describe_failures(s):
        parts.append(Text("\n".join(problems), style="red"))
    if s["scaling"]:
        parts.append(Text("\n".join(f"{time.strftime('%H:%M:%S', time.localtime(d['at']))} {d['reason']}"
                                    for d in s["scaling"][-5:]), style="cyan"))
    if lim.get("lastStartError"):
        parts.append(Text(f"last start error: {lim['lastStartError']}", style="bold red"))
    title = Text.assemble((s["daemonId"], "bold"), f"  {s['host']} pid {s['pid']}, up {s['uptime']:.0f}s  ", state)
    return Panel(Group(*parts), title=title, title_align="left")


def _queues(s: dict[str, Any]) -> Table:
    t = Table(box=None, pad_edge=False, header_style="bold")
    for col in ("queue", "waiting", "prioritized", "delayed", "active", "completed", "failed", "retried", "share"):
        t.add_column(col, justify="left" if col == "queue" else "right")
    shares = s.get("fleetShare") or {}
    for name, q in s["queues"].items():
        t.add_row(name + (" (paused)" if q["paused"] else ""), str(q["waiting"]), str(q["prioritized"]),
                  str(q["delayed"]), str(q["active"]), str(q["completed"]), str(q["failed"]), str(q.get("retried", 0)),
                  f"{shares.get(name, 1.0):.2f}")
    return t


def _workers(s: dict[str, Any]) -> Table:
    soft, hard = s["limits"]["maxMemoryMb"], s["limits"]["hardMemoryMb"]
    t = Table(box=None, pad_edge=False, header_style="bold")
    for col in ("worker", "pid", "state", "memory", "MB", "CPU %", "completed", "failed", "retried", "jobs in hand"):
        t.add_column(col)
    for w in s["workers"]:
        style = "red" if w["rssMb"] > soft else "yellow" if w["rssMb"] > 0.8 * soft else "green"
        bar = ProgressBar(total=hard, completed=min(w["rssMb"], hard), width=20, complete_style=style)
        jobs = ", ".join(f"{j['queue']}/{j['jobId']}" for j in w["jobs"][:3]) + (" …" if len(w["jobs"]) > 3 else "")
        state = w["state"] + (f": {w['drainReason']}" if w.get("drainReason") else "")
        t.add_row(w["workerId"], str(w["pid"]), state, bar, f"{w['rssMb']:.0f} / {soft}",
                  f"{w.get('cpuPercent', 0.0):.0f}", str(w["completed"]),
                  str(w["failed"]), str(w.get("retried", 0)), jobs)
    return t


async def watch(url: str, prefix: str, interval: float, once: bool, console: Console | None = None) -> int:
    console = console or Console()
    client = async_client(url, decode_responses=True, socket_timeout=5, socket_connect_timeout=5)

    async def frame() -> RenderableType:
        try:
            return render(await read_snapshots(client, prefix))
        except (redis.exceptions.RedisError, OSError) as e:
            return Text(f"Redis unreachable ({type(e).__name__}: {e}); retrying every {interval:g}s", style="red")

    try:
        if once:
            console.print(await frame())
            return 0
        with Live(await frame(), console=console, screen=False, auto_refresh=False) as live:
            while True:
                await asyncio.sleep(interval)
                live.update(await frame(), refresh=True)
    except (KeyboardInterrupt, asyncio.CancelledError):
        return 0
    finally:
        await client.aclose()

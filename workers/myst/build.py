"""Run one build command: a child process group of the worker, with a timeout.

Commands are the operator's (config) or corral's own mystmd calls, never the submitter's, and a string runs
through /bin/sh so that `myst build --jats && myst build --meca` works. Output goes line by line to the job's
BullMQ log and is kept, so that the reasons of a failure can be picked from it (`errors.py`). Being the
worker's descendant, the whole group counts against the worker's memory limit and dies with it.
"""

from __future__ import annotations

import asyncio
import os
import shlex
import signal
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

MAX_KEPT_LINES = 5000  # a runaway build's output is not kept whole in memory: the job log has all of it


class BuildFailed(Exception):
    """The build command is missing or timed out: nothing it left can be trusted."""


class BuildTimedOut(BuildFailed):
    def __init__(self, command: str) -> None:
        super().__init__(f"build command timed out: {command}")
        self.command = command


@dataclass(frozen=True)
class BuildRun:
    command: str
    returncode: int
    lines: list[str]  # its output, stdout and stderr interleaved (at most MAX_KEPT_LINES, the last ones)


async def run_build(command: str | Sequence[str], cwd: Path, time_limit: float, log: Callable[[str], None],
                    env: dict[str, str] | None = None) -> BuildRun:
    """Run `command` (a shell string, or an argv list run without a shell) to its end; a non-zero exit is
    returned, not raised: the caller judges each export by what was written."""
    shown = command if isinstance(command, str) else shlex.join(command)
    argv = ["/bin/sh", "-c", command] if isinstance(command, str) else list(command)
    try:
        proc = await asyncio.create_subprocess_exec(
            *argv, cwd=cwd, stdin=asyncio.subprocess.DEVNULL, stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.STDOUT, start_new_session=True,  # its own group: a timeout kills all of it
            env={**os.environ, **(env or {})},
        )
    except FileNotFoundError:
        raise BuildFailed(f"build command not found: {shown}") from None
    lines: list[str] = []

    async def pump() -> None:
        assert proc.stdout is not None
        async for raw in proc.stdout:
            line = raw.decode("utf-8", "replace").rstrip()
            lines.append(line)
            if len(lines) > MAX_KEPT_LINES:
                del lines[: len(lines) - MAX_KEPT_LINES]
            log(line)

    try:
        await asyncio.wait_for(asyncio.gather(pump(), proc.wait()), time_limit)
    except TimeoutError:
        _kill_group(proc.pid)
        await proc.wait()
        raise BuildTimedOut(shown) from None
    except BaseException:  # cancelled (job timeout, shutdown): leave no build running
        _kill_group(proc.pid)
        raise
    if proc.returncode == 127 and isinstance(command, str):
        raise BuildFailed(f"build command not found: {shown} ({' | '.join(lines[-3:]) or 'no output'})")
    assert proc.returncode is not None
    return BuildRun(shown, proc.returncode, lines)


def _kill_group(pid: int) -> None:
    try:
        os.killpg(pid, signal.SIGKILL)
    except ProcessLookupError:
        pass

"""Run the project's build command: a child process group of the worker, with a timeout.

The command is the operator's (config), never the submitter's, and runs through /bin/sh so that
`myst build --jats && myst build --meca` works. Its output goes line by line to the job's BullMQ log.
Being the worker's descendant, the whole group counts against the worker's memory limit and dies with it.
"""

from __future__ import annotations

import asyncio
import os
import signal
from collections import deque
from collections.abc import Callable
from pathlib import Path

TAIL_LINES = 20


class BuildFailed(Exception):
    """The build command is missing, failed or timed out; the message says which, with its last lines."""


async def run_build(command: str, cwd: Path, time_limit: float, log: Callable[[str], None],
                    env: dict[str, str] | None = None) -> None:
    proc = await asyncio.create_subprocess_exec(
        "/bin/sh", "-c", command, cwd=cwd, stdin=asyncio.subprocess.DEVNULL, stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT, start_new_session=True,  # its own group: a timeout kills all of it
        env={**os.environ, **(env or {})},
    )
    tail: deque[str] = deque(maxlen=TAIL_LINES)

    async def pump() -> None:
        assert proc.stdout is not None
        async for raw in proc.stdout:
            line = raw.decode("utf-8", "replace").rstrip()
            tail.append(line)
            log(line)

    try:
        await asyncio.wait_for(asyncio.gather(pump(), proc.wait()), time_limit)
    except TimeoutError:
        _kill_group(proc.pid)
        await proc.wait()
        raise BuildFailed(f"build command timed out after {time_limit:g}s: {command}") from None
    except BaseException:  # cancelled (job timeout, shutdown): leave no build running
        _kill_group(proc.pid)
        raise
    if proc.returncode == 127:
        raise BuildFailed(f"build command not found: {command} ({_last(tail)})")
    if proc.returncode != 0:
        raise BuildFailed(f"build command exited with {proc.returncode}: {command}; last output: {_last(tail)}")


def _kill_group(pid: int) -> None:
    try:
        os.killpg(pid, signal.SIGKILL)
    except ProcessLookupError:
        pass


def _last(tail: deque[str], lines: int = 5) -> str:
    return " | ".join(list(tail)[-lines:]) or "no output"

"""Run the Node BullMQ 6 scripts of tests/node from pytest.

Every script prints one JSON document as its last stdout line and reports errors on stderr with a
non-zero exit; these helpers turn that into a dict or a RuntimeError carrying the script's stderr.
"""

from __future__ import annotations

import json
import select
import shutil
import subprocess
from pathlib import Path
from typing import Any

NODE_DIR = Path(__file__).resolve().parent / "node"


def ensure_node_modules() -> None:
    """`npm ci` in tests/node unless node_modules already matches package-lock.json."""
    installed = NODE_DIR / "node_modules" / ".package-lock.json"  # npm's record of what it installed
    lock = NODE_DIR / "package-lock.json"
    if installed.exists() and installed.stat().st_mtime >= lock.stat().st_mtime:
        return
    if shutil.which("npm") is None:
        raise RuntimeError("npm is not installed: the Node interop tests need Node 20 and npm (apt-get install npm)")
    # npm ci installs exactly the lockfile (it never rewrites it), so a stale lock fails loudly here.
    res = subprocess.run(["npm", "ci", "--no-audit", "--no-fund"], cwd=NODE_DIR, capture_output=True, text=True)
    if res.returncode != 0:
        raise RuntimeError(f"npm ci in {NODE_DIR} failed (exit {res.returncode}):\n{res.stderr[-3000:]}")


def _last_json(out: str, what: str) -> dict[str, Any]:
    lines = out.strip().splitlines()
    if not lines:
        raise RuntimeError(f"{what} printed nothing on stdout")
    result: dict[str, Any] = json.loads(lines[-1])
    return result


def run_node(script: str, *args: str, stdin: str | None = None, timeout: float = 60) -> dict[str, Any]:
    """Run tests/node/<script> with args; the parsed JSON of its last stdout line."""
    try:
        res = subprocess.run(["node", str(NODE_DIR / script), *args], input=stdin, capture_output=True,
                             text=True, timeout=timeout)
    except subprocess.TimeoutExpired as e:  # e.g. Redis unreachable: ioredis retries for ever
        err = e.stderr.decode(errors="replace") if isinstance(e.stderr, bytes) else (e.stderr or "")
        raise RuntimeError(f"node {script} timed out after {timeout} s:\n{err[-3000:]}") from None
    if res.returncode != 0:
        raise RuntimeError(f"node {script} exited {res.returncode}:\n{res.stderr[-3000:]}")
    return _last_json(res.stdout, f"node {script}")


def produce(url: str, queue: str, jobs: list[dict[str, Any]]) -> list[str]:
    """Add [{name, data, opts}] with Node's Queue.add, in order; their job ids."""
    return [str(i) for i in run_node("produce.mjs", url, queue, stdin=json.dumps(jobs))["ids"]]


class NodeEvents:
    """A Node QueueEvents listener running while the test acts; `result()` waits for its report.

    The constructor returns only once events.mjs printed READY, so every event written after that
    (including by the very next line of the test) is seen.
    """

    def __init__(self, url: str, queue: str, terminal_count: int, timeout_ms: int = 60_000,
                 ready_timeout: float = 30) -> None:
        self.proc = subprocess.Popen(["node", str(NODE_DIR / "events.mjs"), url, queue, str(terminal_count),
                                      str(timeout_ms)], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        assert self.proc.stdout is not None
        # select first, so an unreachable Redis fails the test instead of blocking readline for ever.
        ready, _, _ = select.select([self.proc.stdout], [], [], ready_timeout)
        first = self.proc.stdout.readline().strip() if ready else ""
        if first != "READY":
            self._kill()
            err = self.proc.stderr.read() if self.proc.stderr else ""
            self.close()
            raise RuntimeError(f"events.mjs did not get ready in {ready_timeout} s: {first!r}\n{err[-2000:]}")

    def result(self, timeout: float = 90) -> dict[str, Any]:
        """{"events": [{event, jobId, ..., eventId}], "timedOut": bool} once events.mjs has finished."""
        try:
            out, err = self.proc.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.close()
            raise
        if self.proc.returncode != 0:
            raise RuntimeError(f"events.mjs exited {self.proc.returncode}:\n{err[-2000:]}")
        return _last_json(out, "events.mjs")

    def _kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()

    def close(self) -> None:
        """Kill events.mjs if it still runs (a test that failed before result()) and close its pipes."""
        self._kill()
        for pipe in (self.proc.stdout, self.proc.stderr):
            if pipe is not None:
                pipe.close()

    def __enter__(self) -> NodeEvents:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

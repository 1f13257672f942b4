"""Run the Node BullMQ 6 scripts of tests/node from pytest."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

NODE_DIR = Path(__file__).resolve().parent / "node"


def ensure_node_modules() -> None:
    if (NODE_DIR / "node_modules" / "bullmq").exists():
        return
    res = subprocess.run(["npm", "ci", "--no-audit", "--no-fund"], cwd=NODE_DIR, capture_output=True, text=True)
    if res.returncode != 0:  # see scripts/bootstrap.sh: npm install keeps the locked versions
        res = subprocess.run(["npm", "install", "--no-audit", "--no-fund"], cwd=NODE_DIR, capture_output=True,
                             text=True)
    if res.returncode != 0:
        raise RuntimeError(f"npm ci in {NODE_DIR} failed:\n{res.stderr[-2000:]}")


def run_node(script: str, *args: str, stdin: str | None = None, timeout: float = 60) -> dict[str, Any]:
    res = subprocess.run(["node", str(NODE_DIR / script), *args], input=stdin, capture_output=True, text=True,
                         timeout=timeout)
    if res.returncode != 0:
        raise RuntimeError(f"node {script} exited {res.returncode}:\n{res.stderr[-3000:]}")
    result: dict[str, Any] = json.loads(res.stdout.strip().splitlines()[-1])
    return result


def produce(url: str, queue: str, jobs: list[dict[str, Any]]) -> list[str]:
    return [str(i) for i in run_node("produce.mjs", url, queue, stdin=json.dumps(jobs))["ids"]]


class NodeEvents:
    """A Node QueueEvents listener running while the test acts; `result()` waits for its report."""

    def __init__(self, url: str, queue: str, terminal_count: int, timeout_ms: int = 60_000) -> None:
        self.proc = subprocess.Popen(["node", str(NODE_DIR / "events.mjs"), url, queue, str(terminal_count),
                                      str(timeout_ms)], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        assert self.proc.stdout is not None
        first = self.proc.stdout.readline().strip()
        if first != "READY":
            err = self.proc.stderr.read() if self.proc.stderr else ""
            raise RuntimeError(f"events.mjs did not get ready: {first!r} {err[-2000:]}")

    def result(self, timeout: float = 90) -> dict[str, Any]:
        out, err = self.proc.communicate(timeout=timeout)
        if self.proc.returncode != 0:
            raise RuntimeError(f"events.mjs exited {self.proc.returncode}: {err[-2000:]}")
        result: dict[str, Any] = json.loads(out.strip().splitlines()[-1])
        return result

    def __enter__(self) -> NodeEvents:
        return self

    def __exit__(self, *exc: object) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()

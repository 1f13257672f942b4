"""The kill soak's short form (scripts/chaos_soak.py): random worker SIGKILLs under load lose no job, and a job
runs again only after a kill of the worker that ran it."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_random_worker_kills_lose_nothing_and_rerun_only_after_a_kill() -> None:
    res = subprocess.run(
        [sys.executable, str(ROOT / "scripts/chaos_soak.py"), "--jobs", "1500", "--seconds", "10", "--kills", "8",
         "--workers", "3", "--concurrency", "10", "--job-ms", "200", "--seed", "7", "--json"],
        cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert res.returncode in (0, 1), res.stderr[-3000:]
    result = json.loads(res.stdout.strip().splitlines()[-1])
    assert result["kills"] == 8, result
    assert result["lost"] == 0, result
    assert result["completed"] + result["failed"] == 1500, result
    assert result["ran_more_than_once"] == result["reruns_after_a_kill"], result
    assert result["ran_more_than_once"] > 0, result  # the kills landed while jobs ran
    assert result["failed"] == result["failed_by_kills"], result
    assert result["ok"] and res.returncode == 0, result

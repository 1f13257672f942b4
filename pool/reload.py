"""What a reload (SIGHUP, `corral run --reload`) needs to know before it rolls the workers: that the processors
import as they are on disk now (checked in a fresh interpreter: the supervisor's own imports are the old code),
what of a new configuration cannot apply without a restart, and which folders hold the processors' source."""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
import sysconfig
from pathlib import Path

from pool.config import CorralConfig

_CHECK = """
import json, sys
from workers.registry import resolve
from workers.errors import ProcessorImportError
try:
    for path in json.loads(sys.argv[1]):
        resolve(path)
except ProcessorImportError as e:
    print(e)
    sys.exit(3)
"""
IMPORT_CHECK_SECONDS = 60.0


def import_problem(processors: list[str]) -> str:
    """"" when every processor imports in a fresh interpreter, else why not (one line)."""
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(p for p in sys.path if p)}
    try:
        res = subprocess.run([sys.executable, "-c", _CHECK, json.dumps(processors)], capture_output=True, text=True,
                             env=env, timeout=IMPORT_CHECK_SECONDS, check=False)
    except subprocess.TimeoutExpired:
        return f"importing the processors took over {IMPORT_CHECK_SECONDS:g}s"
    if res.returncode == 0:
        return ""
    lines = (res.stdout.strip() or res.stderr.strip()).splitlines()
    return lines[-1] if lines else f"the processors' import check exited {res.returncode}"


def unapplied(old: CorralConfig, new: CorralConfig) -> list[str]:
    """Changes a reload cannot make: the daemon keeps its Redis and its HTTP server until it restarts."""
    out = []
    if (old.redis.url, old.redis.prefix) != (new.redis.url, new.redis.prefix):
        out.append("[redis] changed: it takes effect at the next start (the pool stays on its Redis)")
    if old.http != new.http:
        out.append("[http] changed: it takes effect at the next start")
    return out


def source_folders(cfg: CorralConfig) -> list[str]:
    """The folders of the processors' modules, except installed packages (site-packages): what --reload watches."""
    installed = {sysconfig.get_paths()[k] for k in ("purelib", "platlib")}
    out: set[str] = set()
    for q in cfg.queues:
        spec = importlib.util.find_spec(q.processor.partition(":")[0])
        if spec is None or not spec.origin:
            continue
        folder = str(Path(spec.origin).resolve().parent)
        if not any(folder.startswith(p) for p in installed):
            out.add(folder)
    return sorted(out)

"""Compiled Hyperscan databases kept on disk between processes (workers.email.scan compiles Phase 1's probes).

Why: compiling Phase 1's two probe databases is the one slow step of a process's first email. On the 2-vCPU CI
machine (round 25), `python -c 'from workers.email import entities, rules, parts; ...'` timed the entity probes'
database at 10.2 s and the decisions' at 6.8 s of CPU, and every worker the pool started paid it again on its first
job. A database read back from its serialized form (`hyperscan.dumpb` / `hyperscan.loadb`) takes milliseconds.

A file's name is the SHA-256 of the engine's version, the machine, the mode and every expression with its id and
flag: a new rule, catalogue or engine is another file, never a stale one. A file that does not load (truncated,
written on another CPU: Hyperscan checks its own header and checksum) is compiled again and replaced. Files are
written whole, to a temporary name and then renamed, so processes that race write the same bytes and none reads
half a file. A directory that cannot be written only costs the compile.

`CORRAL_HYPERSCAN_CACHE`: the directory, or "off" for none; default `$XDG_CACHE_HOME/corral/hyperscan`
(`~/.cache/corral/hyperscan`). The files hold bytecode the engine runs: keep the directory the user's own (it is
created 0700).
"""

from __future__ import annotations

import hashlib
import os
import platform
import tempfile
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

ENV = "CORRAL_HYPERSCAN_CACHE"


def cache_dir() -> Path | None:
    setting = os.environ.get(ENV, "")
    if setting.lower() == "off":
        return None
    if setting:
        return Path(setting)
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "corral" / "hyperscan"


def _key(hyperscan: Any, kind: str, parts: Sequence[object]) -> str:
    version = getattr(hyperscan, "__version__", "")
    return hashlib.sha256(repr((kind, version, platform.machine(), *parts)).encode()).hexdigest()


def _write(path: Path, data: bytes) -> None:
    """Whole or not at all: a temporary file in the same directory, then a rename."""
    try:
        path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-")
        try:
            with os.fdopen(fd, "wb") as f:
                f.write(data)
            os.replace(tmp, path)
        except BaseException:
            os.unlink(tmp)
            raise
    except OSError:
        pass  # a read-only or full disk: the next process compiles again


def database(hyperscan: Any, expressions: Sequence[bytes], ids: Sequence[int], flags: Sequence[int],
             compile_it: Callable[[], Any]) -> Any:
    """The block-mode database of these expressions: read from the cache, else `compile_it()` and stored."""
    where = cache_dir()
    if where is None:
        return compile_it()
    path = where / f"db-{_key(hyperscan, 'db', [hyperscan.HS_MODE_BLOCK, list(expressions), list(ids), list(flags)])}"
    try:
        db = hyperscan.loadb(path.read_bytes(), mode=hyperscan.HS_MODE_BLOCK)
        db.scratch = hyperscan.Scratch(db)  # loadb gives none: a scan without one fails (HS_INVALID)
        return db
    except (OSError, hyperscan.error):
        pass
    db = compile_it()
    _write(path, hyperscan.dumpb(db))
    return db


def compiles(hyperscan: Any, expression: bytes, flag: int, check: Callable[[], bool]) -> bool:
    """Whether hyperscan takes one expression (`check()` compiles it), remembered as an empty file."""
    where = cache_dir()
    if where is None:
        return check()
    key = _key(hyperscan, "compiles", [expression, flag])
    for answer in (True, False):
        if (where / f"{'ok' if answer else 'no'}-{key}").exists():
            return answer
    answer = check()
    _write(where / f"{'ok' if answer else 'no'}-{key}", b"")
    return answer

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

Each rule or catalogue change leaves the old version's files behind (about 4 MB a version). A file read back is
touched, and whenever a new file is written, the files nobody has read or written for `KEEP_DAYS` are removed (and a
temporary file a killed process left, after a day): a directory holds the versions in use and a month's others.

`CORRAL_HYPERSCAN_CACHE`: the directory, or "off" for none; default `$XDG_CACHE_HOME/corral/hyperscan`
(`~/.cache/corral/hyperscan`). The files hold bytecode the engine runs: keep the directory the user's own (it is
created 0700).
"""

from __future__ import annotations

import hashlib
import os
import platform
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

ENV = "CORRAL_HYPERSCAN_CACHE"
KEEP_DAYS = 30  # a file unused this long is removed when another is written
_DAY = 86400.0


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
        prune(path.parent)
    except OSError:
        pass  # a read-only or full disk: the next process compiles again


def prune(where: Path, now: float | None = None) -> list[str]:
    """Remove the cache's files unused for KEEP_DAYS (a temporary file: for a day). Returns the names removed."""
    now = time.time() if now is None else now
    removed = []
    for entry in os.scandir(where):
        if not entry.name.startswith(("db-", "ok-", "no-", ".tmp-")) or not entry.is_file(follow_symlinks=False):
            continue  # only this module's own files
        age = now - entry.stat(follow_symlinks=False).st_mtime
        if age > (_DAY if entry.name.startswith(".tmp-") else KEEP_DAYS * _DAY):
            try:
                os.unlink(entry.path)
                removed.append(entry.name)
            except OSError:
                pass  # another process removed it first
    return removed


def _touch(path: Path) -> None:
    try:
        os.utime(path)  # in use: prune keeps it
    except OSError:
        pass


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
        _touch(path)
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
        path = where / f"{'ok' if answer else 'no'}-{key}"
        if path.exists():
            _touch(path)
            return answer
    answer = check()
    _write(where / f"{'ok' if answer else 'no'}-{key}", b"")
    return answer

"""Phase 1's compiled probe databases on disk (workers.email.hscache), and Phase 1 off the worker's event loop."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import time
from itertools import pairwise
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from workers.email import hscache, processor, scan
from workers.email.entities import _build_probe_set
from workers.email.parts import load_parts
from workers.email.schema import EmailJob

pytestmark = pytest.mark.skipif(scan.hyperscan is None, reason="hyperscan's wheels are not on this platform")
hs: Any = scan.hyperscan
ROOT = Path(__file__).resolve().parent.parent
TEXTS = ["Please quote P19766-B21 x 4 and C9300-24P-A by Friday, PO# 4500123456.",
         "Tel +49 30 1234 5678, RMA-104452; Makita GA5030R; SKF 22220 E/C3", ""]


def _compile(expressions: list[bytes], calls: list[int]) -> Any:
    calls.append(1)
    db = hs.Database(mode=hs.HS_MODE_BLOCK)
    db.compile(expressions=expressions, ids=list(range(len(expressions))), flags=[0] * len(expressions))
    return db


def _ends(db: Any, data: bytes) -> list[tuple[int, int]]:
    found: list[tuple[int, int]] = []
    db.scan(data, match_event_handler=lambda i, f, t, fl, ctx: found.append((i, t)))
    return found


def test_a_database_is_compiled_once_then_read_back(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(hscache.ENV, str(tmp_path))
    expressions, calls = [b"ab+c", b"x\\d"], []
    first = hscache.database(hs, expressions, [0, 1], [0, 0], lambda: _compile(expressions, calls))
    second = hscache.database(hs, expressions, [0, 1], [0, 0], lambda: _compile(expressions, calls))
    assert calls == [1] and len(list(tmp_path.glob("db-*"))) == 1
    assert _ends(second, b"zzabbbc x9") == _ends(first, b"zzabbbc x9") == [(0, 7), (1, 10)]
    other = [b"ab+c", b"y\\d"]  # another expression: another file, compiled
    hscache.database(hs, other, [0, 1], [0, 0], lambda: _compile(other, calls))
    assert calls == [1, 1] and len(list(tmp_path.glob("db-*"))) == 2


def test_a_damaged_file_is_compiled_again_and_replaced(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(hscache.ENV, str(tmp_path))
    expressions, calls = [b"ab+c"], []
    hscache.database(hs, expressions, [0], [0], lambda: _compile(expressions, calls))
    [path] = tmp_path.glob("db-*")
    path.write_bytes(path.read_bytes()[:100])  # cut short, as by a full disk
    db = hscache.database(hs, expressions, [0], [0], lambda: _compile(expressions, calls))
    assert calls == [1, 1] and _ends(db, b"abc") == [(0, 3)]
    hscache.database(hs, expressions, [0], [0], lambda: _compile(expressions, calls))
    assert calls == [1, 1]  # the file was written whole again


def test_files_unused_for_a_month_go_when_another_is_written(tmp_path: Path,
                                                            monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(hscache.ENV, str(tmp_path))
    old, used, calls = [b"old+"], [b"used+"], []
    hscache.database(hs, old, [0], [0], lambda: _compile(old, calls))
    hscache.database(hs, used, [0], [0], lambda: _compile(used, calls))
    stranger, leftover = tmp_path / "notes.txt", tmp_path / ".tmp-abc"
    stranger.write_text("not the cache's")
    leftover.write_bytes(b"half a file")
    long_ago = time.time() - (hscache.KEEP_DAYS + 1) * 86400
    for path in tmp_path.iterdir():
        os.utime(path, (long_ago, long_ago))
    hscache.database(hs, used, [0], [0], lambda: _compile(used, calls))  # read back: touched, so kept
    assert calls == [1, 1]
    new = [b"new+"]
    hscache.database(hs, new, [0], [0], lambda: _compile(new, calls))  # a write prunes
    names = {p.name for p in tmp_path.iterdir()}
    assert calls == [1, 1, 1] and len([n for n in names if n.startswith("db-")]) == 2
    assert "notes.txt" in names and ".tmp-abc" not in names
    hscache.database(hs, old, [0], [0], lambda: _compile(old, calls))  # the old one was removed: compiled again
    assert calls == [1, 1, 1, 1]


def test_off_or_unwritable_costs_only_the_compile(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    expressions, calls = [b"ab+c"], []
    monkeypatch.setenv(hscache.ENV, "off")
    for _ in range(2):
        hscache.database(hs, expressions, [0], [0], lambda: _compile(expressions, calls))
    assert calls == [1, 1] and hscache.cache_dir() is None
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    monkeypatch.setenv(hscache.ENV, str(blocker / "cache"))
    db = hscache.database(hs, expressions, [0], [0], lambda: _compile(expressions, calls))
    assert calls == [1, 1, 1] and _ends(db, b"abc") == [(0, 3)]


def test_phase1_probes_read_from_disk_find_what_compiled_ones_do(tmp_path: Path,
                                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    """The parts catalogue's probes are written in the same order in every process (a set's order would change
    the file's name each time: the cache would never hit)."""
    monkeypatch.setenv(hscache.ENV, str(tmp_path))
    compiled = _build_probe_set(load_parts())
    files = sorted(p.name for p in tmp_path.glob("db-*"))
    loaded = _build_probe_set(load_parts())
    assert sorted(p.name for p in tmp_path.glob("db-*")) == files and files
    for text in TEXTS:
        low = scan.lower(text)
        assert loaded.scan(low).offsets == compiled.scan(low).offsets


def test_phase1_warms_up_off_the_event_loop(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A process's first email (the probe databases compiling) must not stop the loop: it sends the heartbeats."""
    monkeypatch.setenv("CORRAL_EMAIL_DATABASE", str(tmp_path / "emails.sqlite"))
    monkeypatch.setenv("CORRAL_EMAIL_OLLAMA__ENABLED", "false")
    real, calls = processor.analyse, []

    def slow_first(*args: Any, **kw: Any) -> Any:  # the first call builds the databases: slow
        calls.append(args[2])
        if len(calls) == 1:
            time.sleep(2.0)
        return real(*args, **kw)
    monkeypatch.setattr(processor, "analyse", slow_first)
    monkeypatch.setattr(processor, "_warm", False, raising=False)
    monkeypatch.setattr(processor, "_store", None)  # this test's own database, in this test's event loop
    monkeypatch.setattr(processor, "_store_lock", asyncio.Lock())
    data = EmailJob.model_validate({"id": "job-1", "conversationId": "c1", "emails": [
        {"id": "e1", "subject": "PO 4500123456", "body": "Please ship today.", "sender_email": "a@b.com",
         "received_at": "2025-03-01T09:00:00Z", "conversation_id": "c1"}], "options": {}})
    job = SimpleNamespace(id="1", data=data, attempts_made=0, opts={}, progress=lambda *_: None)

    async def main() -> float:
        ticks: list[float] = []

        async def ticker() -> None:
            while True:
                ticks.append(time.monotonic())
                await asyncio.sleep(0.02)
        task = asyncio.create_task(ticker())
        try:
            await processor.process_emails(job)  # type: ignore[arg-type]
        finally:
            task.cancel()
            if processor._store is not None:
                await processor._store.close()
        return max(b - a for a, b in pairwise(ticks))
    assert asyncio.run(main()) < 1.0  # (blocking the loop, the gap was the sleep and more)
    assert calls == ["warm-up@corral.invalid", "a@b.com"] and processor._warm


def test_the_catalogues_patterns_are_the_same_in_every_process() -> None:
    """A set's order changes with the process's hash seed; the patterns built from the catalogue's word lists must
    not, or each worker would write its own database file and none would ever read one back."""
    code = ("from workers.email.parts import load_parts; c = load_parts(); "
            "print(c.cue_words, c.maker_words, c.maker.pattern if c.maker else '', c.not_part_probe)")
    out = {subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=ROOT,
                          env={**os.environ, "PYTHONHASHSEED": seed}).stdout for seed in ("1", "2", "3")}
    assert len(out) == 1 and len(out.pop()) > 1000

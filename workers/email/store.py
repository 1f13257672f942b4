"""SQLite storage of the email analysis, through aiosqlite: WAL mode, one connection per worker process,
schema created and migrated by the code.

Idempotent by construction: emails and results are upserted by email id inside one transaction per
job, so a job retried, or run twice after its worker was killed, leaves exactly one result row per
email, and a job that fails half-way leaves nothing of itself.
"""

from __future__ import annotations

import asyncio
import json
import sqlite3
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import aiosqlite

from workers.retry import Backoff, retry

# Each entry migrates from version i to i + 1; never edit one that has shipped, append a new one.
MIGRATIONS: tuple[str, ...] = (
    """
    CREATE TABLE emails (
        id TEXT PRIMARY KEY,
        conversation_id TEXT NOT NULL,
        subject TEXT NOT NULL,
        body TEXT NOT NULL,
        sender_email TEXT NOT NULL,
        received_at TEXT NOT NULL,
        importance TEXT,
        updated_at REAL NOT NULL
    );
    CREATE INDEX emails_conversation ON emails (conversation_id, received_at);
    CREATE TABLE email_results (
        email_id TEXT PRIMARY KEY REFERENCES emails (id),
        job_id TEXT NOT NULL,
        conversation_id TEXT NOT NULL,
        workflow_state TEXT NOT NULL,
        priority TEXT NOT NULL,
        phases_run TEXT NOT NULL,        -- JSON list of phases that ran for real
        phases_fallback TEXT NOT NULL,   -- JSON object: phase -> why it fell back
        needs_reanalysis INTEGER NOT NULL DEFAULT 0,
        phase1 TEXT NOT NULL,            -- JSON, full output
        phase2 TEXT,                     -- JSON, full output of the model (NULL if it did not run)
        phase3 TEXT,
        models TEXT NOT NULL,            -- JSON: phase -> model name
        timings_ms TEXT NOT NULL,        -- JSON: phase -> milliseconds
        analysis_version TEXT NOT NULL,
        analyzed_at REAL NOT NULL,
        runs INTEGER NOT NULL DEFAULT 1  -- how often this email was analysed (retries, re-analysis)
    );
    CREATE INDEX results_reanalysis ON email_results (needs_reanalysis) WHERE needs_reanalysis = 1;
    """,
)


@dataclass
class EmailRow:
    id: str
    conversation_id: str
    subject: str
    body: str
    sender_email: str
    received_at: datetime
    importance: str | None


@dataclass
class ResultRow:
    email_id: str
    job_id: str
    conversation_id: str
    workflow_state: str
    priority: str
    phases_run: list[str]
    phases_fallback: dict[str, str]
    phase1: dict[str, Any]
    phase2: dict[str, Any] | None
    phase3: dict[str, Any] | None
    models: dict[str, str]
    timings_ms: dict[str, float]
    analysis_version: str

    @property
    def needs_reanalysis(self) -> bool:
        return bool(self.phases_fallback)


class EmailStore:
    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self.db: aiosqlite.Connection | None = None
        # The worker's jobs share this one connection, and SQLite has one transaction per connection: a second
        # job's BEGIN inside the first's fails ("cannot start a transaction within a transaction"), and a read
        # in between would see the other job's uncommitted rows. Each job's turn on it is whole.
        self._turn = asyncio.Lock()

    async def open(self) -> EmailStore:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        await _while_busy(self._open_once)
        return self

    async def _open_once(self) -> None:
        await self.close()  # what a try refused half-way opened
        self.db = await aiosqlite.connect(self.path, timeout=30)
        await self.db.execute("PRAGMA journal_mode=WAL")
        await self.db.execute("PRAGMA synchronous=NORMAL")  # durable across a process crash in WAL mode
        await self.db.execute("PRAGMA foreign_keys=ON")
        await self.db.execute("PRAGMA busy_timeout=30000")  # several workers share the file
        await self._migrate()

    async def close(self) -> None:
        if self.db is not None:
            await self.db.close()
            self.db = None

    async def _migrate(self) -> None:
        async with self._transaction() as db:  # IMMEDIATE: one migrating worker at a time
            (version,) = await (await db.execute("PRAGMA user_version")).fetchone() or (0,)
            for i in range(int(version), len(MIGRATIONS)):
                for statement in MIGRATIONS[i].split(";"):
                    if statement.strip():
                        await db.execute(statement)
                await db.execute(f"PRAGMA user_version = {i + 1}")

    @asynccontextmanager
    async def _transaction(self) -> AsyncIterator[aiosqlite.Connection]:
        """BEGIN IMMEDIATE ... COMMIT, rolled back on any error, and the connection's only user meanwhile."""
        db = self._conn()
        async with self._turn:
            await db.execute("BEGIN IMMEDIATE")
            try:
                yield db
                await db.commit()
            except BaseException:
                await db.rollback()
                raise

    def _conn(self) -> aiosqlite.Connection:
        if self.db is None:
            raise RuntimeError("EmailStore is not open")
        return self.db

    async def _upsert_emails(self, emails: Sequence[EmailRow]) -> None:
        """Store the emails of a job (so chain analysis sees the conversation's history)."""
        db = self._conn()
        now = time.time()
        await db.executemany(
            """INSERT INTO emails (id, conversation_id, subject, body, sender_email, received_at, importance,
                                   updated_at)
               VALUES (?, ?, ?, ?, ?, ?, ?, ?)
               ON CONFLICT (id) DO UPDATE SET conversation_id = excluded.conversation_id,
                 subject = excluded.subject, body = excluded.body, sender_email = excluded.sender_email,
                 received_at = excluded.received_at, importance = excluded.importance,
                 updated_at = excluded.updated_at""",
            [(e.id, e.conversation_id, e.subject, e.body, e.sender_email, e.received_at.isoformat(), e.importance,
              now) for e in emails],
        )

    async def conversation_times(self, conversation_id: str) -> list[tuple[str, datetime]]:
        async with self._turn:
            cur = await self._conn().execute(
                "SELECT id, received_at FROM emails WHERE conversation_id = ? ORDER BY received_at",
                (conversation_id,))
            rows = await cur.fetchall()
        return [(row[0], datetime.fromisoformat(row[1])) for row in rows]

    async def _upsert_results(self, results: Sequence[ResultRow]) -> None:
        db = self._conn()
        now = time.time()
        await db.executemany(
            """INSERT INTO email_results (email_id, job_id, conversation_id, workflow_state, priority, phases_run,
                   phases_fallback, needs_reanalysis, phase1, phase2, phase3, models, timings_ms, analysis_version,
                   analyzed_at)
               VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
               ON CONFLICT (email_id) DO UPDATE SET job_id = excluded.job_id,
                 conversation_id = excluded.conversation_id, workflow_state = excluded.workflow_state,
                 priority = excluded.priority, phases_run = excluded.phases_run,
                 phases_fallback = excluded.phases_fallback, needs_reanalysis = excluded.needs_reanalysis,
                 phase1 = excluded.phase1, phase2 = excluded.phase2, phase3 = excluded.phase3,
                 models = excluded.models, timings_ms = excluded.timings_ms,
                 analysis_version = excluded.analysis_version, analyzed_at = excluded.analyzed_at,
                 runs = email_results.runs + 1""",
            [(r.email_id, r.job_id, r.conversation_id, r.workflow_state, r.priority, json.dumps(r.phases_run),
              json.dumps(r.phases_fallback), int(r.needs_reanalysis), json.dumps(r.phase1),
              _json_or_null(r.phase2), _json_or_null(r.phase3), json.dumps(r.models), json.dumps(r.timings_ms),
              r.analysis_version, now) for r in results],
        )

    async def save_job(self, emails: Sequence[EmailRow], results: Sequence[ResultRow]) -> None:
        """Emails and their results in one transaction: all of a job, or nothing of it. A transaction SQLite
        refuses as locked is rolled back and tried again (`_while_busy`)."""
        async def once() -> None:
            async with self._transaction():
                await self._upsert_emails(emails)
                await self._upsert_results(results)

        await _while_busy(once)


class StoreBusy(Exception):
    """SQLite said the database is locked or busy: another worker's transaction, passing."""


# SQLite's busy_timeout (30 s) covers a writer waiting for another, but some refusals come at once, without the
# busy handler (seen once in CI: "database is locked" on a job's first save while another worker started, under
# load): those are retried here, for as long as the busy timeout would have waited.
BUSY = Backoff(first=0.05, factor=2.0, cap=1.0, deadline=30.0)


async def _while_busy(call: Callable[[], Awaitable[None]]) -> None:
    async def once() -> None:
        try:
            await call()
        except sqlite3.OperationalError as e:
            if "locked" in str(e) or "busy" in str(e):
                raise StoreBusy(f"SQLite: {e} (tried again for {BUSY.deadline:g} s)") from e
            raise

    await retry(once, on=(StoreBusy,), backoff=BUSY)


def _json_or_null(value: dict[str, Any] | None) -> str | None:
    return None if value is None else json.dumps(value)

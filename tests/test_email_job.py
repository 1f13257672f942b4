"""The email job through the real pool: validation, SQLite results, idempotence."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path
from typing import Any

import pytest
import redis

from tests.pool_harness import RunningPool, add_jobs, job_hash, job_state, make_config, wait_for

Q = "email-processing"


@pytest.fixture
def db_path(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, redis_url: str) -> Path:
    path = tmp_path / "emails.sqlite"
    monkeypatch.setenv("CORRAL_EMAIL_DATABASE", str(path))
    monkeypatch.setenv("TEST_REDIS_URL", redis_url)

    return path


def email(i: int, conv: str = "c1", **kw: Any) -> dict[str, Any]:
    base = {"id": f"{conv}-e{i}", "subject": f"PO 45001234{i:02d} update", "body": "Please ship PO #4500123456 today.",
            "sender_email": "anna.meyer@acme-industrial.com", "received_at": f"2025-03-0{i + 1}T09:00:00Z",
            "conversation_id": conv}
    return {**base, **kw}


def job_data(emails: list[dict[str, Any]], **kw: Any) -> dict[str, Any]:
    return {"id": "job-1", "conversationId": "c1", "emails": emails, "priority": "high", "options": {}, **kw}


def rows(path: Path) -> list[sqlite3.Row]:
    con = sqlite3.connect(path)
    con.row_factory = sqlite3.Row
    try:
        return con.execute("SELECT * FROM email_results ORDER BY email_id").fetchall()
    finally:
        con.close()


async def test_emails_analysed_stored_once_and_summarised(redis_url: str, db_path: Path) -> None:
    r = redis.Redis.from_url(redis_url)
    cfg = make_config(redis_url, [(Q, "workers.email.processor:processors", 2)], min_workers=1, max_workers=1)
    data = job_data([email(0), email(1), email(2)])
    async with RunningPool(cfg):
        [a] = await add_jobs(redis_url, Q, [("process-emails", data, {})])
        await wait_for(lambda: job_state(r, Q, a) == "completed", 20, "the job")
        [b] = await add_jobs(redis_url, Q, [("process-emails", data, {})])  # the same emails again
        await wait_for(lambda: job_state(r, Q, b) == "completed", 20, "the repeat")
    summary = json.loads(job_hash(r, Q, a)["returnvalue"])
    assert [e["id"] for e in summary["emails"]] == ["c1-e0", "c1-e1", "c1-e2"]
    assert all(e["phases"] == ["phase1"] and e["priority"] == "medium" for e in summary["emails"])
    stored = rows(db_path)
    assert [s["email_id"] for s in stored] == ["c1-e0", "c1-e1", "c1-e2"]  # one row per email, not two
    assert all(s["runs"] == 2 for s in stored)
    p1 = json.loads(stored[0]["phase1"])
    assert p1["entities"]["po_numbers"] == ["4500123400", "4500123456"] and p1["sender_category"] == "key_customer"
    assert p1["chain_analysis"]["is_complete_chain"] and p1["chain_analysis"]["email_count"] == 3
    con = sqlite3.connect(db_path)
    assert con.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


@pytest.mark.parametrize(("mutate", "field"), [
    (lambda d: d.pop("emails"), "emails"),
    (lambda d: d.update(emails="not a list"), "emails"),
    (lambda d: d["emails"][0].pop("id"), "emails.0.id"),
    (lambda d: d["emails"][1].update(body="x" * 300_000), "emails.1.body"),
    (lambda d: d["emails"][0].update(subject="bad\x00text"), "emails.0.subject"),
    (lambda d: d["emails"][0].update(received_at="yesterday"), "emails.0.received_at"),
    (lambda d: d.update(priority="whenever"), "priority"),
])
async def test_bad_data_fails_at_once_naming_the_field_and_writes_nothing(
        redis_url: str, db_path: Path, mutate: Any, field: str) -> None:
    r = redis.Redis.from_url(redis_url)
    data = job_data([email(0), email(1)])
    mutate(data)
    cfg = make_config(redis_url, [(Q, "workers.email.processor:processors", 1)], min_workers=1, max_workers=1)
    async with RunningPool(cfg):
        [j] = await add_jobs(redis_url, Q, [("process-emails", data, {"attempts": 3})])
        await wait_for(lambda: job_state(r, Q, j) == "failed", 20, "the bad job to fail")
    h = job_hash(r, Q, j)
    assert h["atm"] == "1" and f"field '{field}'" in h["failedReason"], h["failedReason"]
    assert not db_path.exists() or rows(db_path) == []


def test_python_producer_applies_the_original_defaults(redis_url: str, tmp_path: Path) -> None:
    import subprocess
    import sys

    r = redis.Redis.from_url(redis_url)
    good = tmp_path / "job.json"
    good.write_text(json.dumps(job_data([email(0)], priority="critical")))
    root = Path(__file__).resolve().parent.parent
    res = subprocess.run([sys.executable, "-m", "pool.cli", "enqueue-emails", str(good), "--redis-url", redis_url],
                         capture_output=True, text=True, cwd=root, timeout=30)
    assert res.returncode == 0, res.stderr
    [job_id] = json.loads(res.stdout)["queued"]
    h = job_hash(r, Q, job_id)
    opts = json.loads(h["opts"])
    assert h["name"] == "process-emails" and h["priority"] == "1"  # critical -> BullMQ priority 1
    assert opts["attempts"] == 3 and opts["backoff"] == {"type": "exponential", "delay": 2000}
    assert opts["removeOnComplete"] == 1000 and opts["removeOnFail"] == 5000
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps(job_data([email(0, id="")])))
    res = subprocess.run([sys.executable, "-m", "pool.cli", "enqueue-emails", str(bad), "--redis-url", redis_url],
                         capture_output=True, text=True, cwd=root, timeout=30)
    assert res.returncode == 2 and "field 'emails.0.id'" in res.stderr


async def test_jobs_of_one_worker_saving_at_once_each_commit_whole(tmp_path: Path) -> None:
    """A worker's jobs share one SQLite connection: two saves at once must not nest their transactions, and one
    that fails must not take the other's rows with it (it did: "cannot start a transaction within a transaction")."""
    import asyncio
    from datetime import datetime

    from workers.email.store import EmailRow, EmailStore, ResultRow

    def job(conv: str, *, broken: bool = False) -> tuple[list[EmailRow], list[ResultRow]]:
        emails = [EmailRow(f"{conv}-e{i}", conv, "s", "b", "x@y.z", datetime(2025, 3, 1), None) for i in range(3)]
        results = [ResultRow(e.id, f"job-{conv}", conv, "pending", "low", ["phase1"], {}, {}, None, None, {}, {},
                             "v1") for e in emails]
        if broken:  # a result for an email that is not stored: the foreign key fails the job's transaction
            results.append(ResultRow("nowhere", f"job-{conv}", conv, "pending", "low", [], {}, {}, None, None, {},
                                     {}, "v1"))
        return emails, results

    store = await EmailStore(tmp_path / "e.db").open()
    try:
        outcomes = await asyncio.gather(*(store.save_job(*job(c, broken=c == "c2")) for c in ("c1", "c2", "c3")),
                                        return_exceptions=True)
    finally:
        await store.close()
    assert outcomes[0] is None and outcomes[2] is None, outcomes
    assert isinstance(outcomes[1], sqlite3.IntegrityError)
    assert [r["email_id"] for r in rows(tmp_path / "e.db")] == [f"c{c}-e{i}" for c in (1, 3) for i in range(3)]


async def test_headers_reach_phase1_and_amounts_are_stored_with_their_currency(redis_url: str, db_path: Path) -> None:
    """An email's optional `headers` (RFC 3834 Auto-Submitted) mark it an auto-reply: stored as never urgent; amounts
    are stored as {value, currency} (rows of earlier rule versions keep bare dollar numbers: see docs/email.md)."""
    r = redis.Redis.from_url(redis_url)
    cfg = make_config(redis_url, [(Q, "workers.email.processor:processors", 1)], min_workers=1, max_workers=1)
    auto = email(0, subject="Re: URGENT line down", body="Thanks, noted.", headers={"Auto-Submitted": "auto-replied"})
    priced = email(1, sender_email="k.vogel@bergmann-et.de", body="Bitte liefern, Summe 1.215,50 EUR. Dringend!")
    async with RunningPool(cfg):
        [j] = await add_jobs(redis_url, Q, [("process-emails", job_data([auto, priced]), {})])
        await wait_for(lambda: job_state(r, Q, j) == "completed", 20, "the job")
    stored = {s["email_id"]: json.loads(s["phase1"]) for s in rows(db_path)}
    assert stored["c1-e0"]["auto_reply"] and stored["c1-e0"]["priority"] == "low"
    assert stored["c1-e1"]["entities"]["amounts"] == [{"value": 1215.5, "currency": "EUR"}]
    assert stored["c1-e1"]["locale"] == "de-DE" and stored["c1-e1"]["priority"] == "high"


async def test_a_save_sqlite_refuses_as_locked_is_tried_again_whole(tmp_path: Path,
                                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    """SQLite can refuse a transaction at once ("database is locked", without its busy handler): the job's save is
    rolled back and tried again, and stores its rows once; any other SQLite error fails at once."""
    from datetime import datetime

    from workers.email.store import EmailRow, EmailStore, ResultRow

    emails = [EmailRow(f"e{i}", "c", "s", "b", "x@y.z", datetime(2025, 3, 1), None) for i in range(2)]
    results = [ResultRow(e.id, "job-1", "c", "pending", "low", ["phase1"], {}, {}, None, None, {}, {}, "v1")
               for e in emails]
    store = await EmailStore(tmp_path / "e.db").open()
    real = EmailStore._upsert_results
    refusals = [sqlite3.OperationalError("database is locked")] * 2 + [sqlite3.OperationalError("no such table: x")]

    async def refuse_then_save(self: EmailStore, rs: Any) -> None:
        await real(self, rs)  # written, then refused: the rollback must take these rows back
        if refusals:
            raise refusals.pop(0)

    monkeypatch.setattr(EmailStore, "_upsert_results", refuse_then_save)
    try:
        with pytest.raises(sqlite3.OperationalError, match="no such table"):  # after the two locked tries
            await store.save_job(emails, results)
        assert rows(tmp_path / "e.db") == []  # nothing of the refused tries stayed
        await store.save_job(emails, results)
    finally:
        await store.close()
    assert [r["email_id"] for r in rows(tmp_path / "e.db")] == ["e0", "e1"]

"""`corral email analyse FILE|-`: Phase 1 of the user's own mail, as JSON lines, through the real command."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
MAIL = {"subject": "URGENT - line 2 down", "body": "Line 2 is down. Please ship 2 x APCRBC133 today, PO 771455.\n"
        "Call 559-555-0134", "sender_email": "c.mendoza@ridgewayfoods.com", "received_at": "2025-06-09T09:02:00-07:00"}


def corral(*args: str, stdin: str | None = None, env: dict[str, str] | None = None
           ) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "pool.cli", *args], input=stdin, capture_output=True, text=True,
                          cwd=ROOT, timeout=60, env={**os.environ, **(env or {})})


def test_analyse_json_lines_from_stdin_and_a_json_file(tmp_path: Path) -> None:
    lines = "\n".join(json.dumps({**MAIL, "id": f"m{i}"}) for i in range(3))
    res = corral("email", "analyse", "-", stdin=lines)
    assert res.returncode == 0, res.stderr
    out = [json.loads(line) for line in res.stdout.splitlines()]
    assert [o["id"] for o in out] == ["m0", "m1", "m2"]
    first = out[0]
    assert first["priority"] == "critical" and first["workflow_state"] in ("SHIPPING", "ORDER_MANAGEMENT")
    assert first["entities"]["po_numbers"] == ["771455"] and first["entities"]["part_numbers"] == ["APCRBC133"]
    assert first["entities"]["phones"] == ["5595550134"] and "chain_analysis" not in first
    job = tmp_path / "job.json"  # a process-emails job, as producers send it: its emails are analysed
    job.write_text(json.dumps({"id": "j1", "conversationId": "c1", "emails": [
        {**MAIL, "id": "a"}, {**MAIL, "id": "b", "subject": "Automatic reply: away", "body": "I am out of the office.",
                              "headers": {"Auto-Submitted": "auto-replied"}}]}))
    res = corral("email", "analyse", str(job))
    assert res.returncode == 0, res.stderr
    a, b = (json.loads(line) for line in res.stdout.splitlines())
    assert a["id"] == "a" and b["auto_reply"] and b["priority"] == "low" and b["workflow_state"] == "START_POINT"


def test_bad_input_is_named_and_nothing_is_printed(tmp_path: Path) -> None:
    good = json.dumps(MAIL)
    res = corral("email", "analyse", "-", stdin=f"{good}\n{{not json\n")
    assert res.returncode == 2 and res.stdout == "" and "line 2: not JSON" in res.stderr
    res = corral("email", "analyse", "-", stdin=json.dumps([MAIL, {**MAIL, "received_at": "yesterday"}]))
    assert res.returncode == 2 and res.stdout == "" and "item 1: field 'received_at'" in res.stderr
    res = corral("email", "analyse", str(tmp_path / "missing.jsonl"))
    assert res.returncode == 2 and "missing.jsonl" in res.stderr
    res = corral("email", "analyse", "-", stdin="\n")
    assert res.returncode == 2 and "no emails" in res.stderr


def test_the_users_own_part_catalogue_and_a_broken_one(tmp_path: Path) -> None:
    """`corral email analyse` reads the configuration the workers use: a shop's own part format is found; a broken
    pattern stops the run naming the file and the pattern."""
    parts = tmp_path / "parts.toml"
    parts.write_text("cues = []\n[[formats]]\nvendor = 'our shop'\npatterns = ['ZX\\d{4}']\n")
    cfg = tmp_path / "email.toml"
    cfg.write_text(f'parts = "{parts}"\n')
    mail = json.dumps({**MAIL, "body": "Please ship 3 ZX4411 with the next delivery."})
    res = corral("email", "analyse", "-", stdin=mail, env={"CORRAL_EMAIL_CONFIG": str(cfg)})
    assert res.returncode == 0, res.stderr
    assert json.loads(res.stdout)["entities"]["part_numbers"] == ["ZX4411"]
    parts.write_text("[[formats]]\nvendor = 'broken'\npatterns = ['ZX(']\n")
    res = corral("email", "analyse", "-", stdin=mail, env={"CORRAL_EMAIL_CONFIG": str(cfg)})
    assert res.returncode == 2 and str(parts) in res.stderr and "ZX(" in res.stderr and res.stdout == ""

"""Phase 1 compiled by mypyc (workers/email/native.py) reads mail exactly as its Python sources do, and a build
older than its sources never runs."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from workers.email import native
from workers.email.locales import load_locales
from workers.email.parts import load_parts
from workers.email.rules import analyse, clear_caches, load_senders

ROOT = Path(__file__).resolve().parent.parent
SETS = [ROOT / "data" / "email_corpus.jsonl", *sorted((ROOT / "data" / "email_eval").glob("dev*.jsonl"))]

# Each email as written and upper-cased (the compiled str.lower() once lost Greek's final sigma: scan.lower).
RESULTS = """
import json, sys
from datetime import datetime
from workers.email import native
from workers.email.locales import load_locales
from workers.email.parts import load_parts
from workers.email.rules import analyse, load_senders
print(json.dumps(native.state()))
for line in sys.stdin:
    e = json.loads(line)
    when = datetime.fromisoformat(e["received_at"].replace("Z", "+00:00"))
    r = analyse(e.get("subject", ""), e["body"], e["sender_email"], load_senders(), received_at=when,
                headers=e.get("headers"), locales=load_locales(), parts=load_parts())
    print(json.dumps(r.as_dict(), sort_keys=True, ensure_ascii=False))
"""


def _need_build() -> None:
    if native.state() != "compiled":
        if os.environ.get("CI") == "true":
            pytest.fail(f"Phase 1 is not compiled in CI: {native.state()} (scripts/bootstrap.sh builds it)")
        pytest.skip(f"Phase 1 is not compiled here: {native.state()}")


def _emails() -> list[dict[str, Any]]:
    out = []
    for path in SETS:
        for line in path.read_text(encoding="utf-8").splitlines():
            e = json.loads(line)["email"]
            out += [e, {**e, "subject": e.get("subject", "").upper(), "body": e["body"].upper()}]
    return out


def _run(code: str, cwd: Path, env: dict[str, str], stdin: str = "") -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-c", code], input=stdin, capture_output=True, text=True, cwd=cwd,
                          env={**os.environ, "PYTHONPATH": str(cwd), **env}, timeout=240, check=False)


def test_the_compiled_modules_read_every_email_as_the_sources_do() -> None:
    _need_build()
    emails = _emails()
    done = _run(RESULTS, ROOT, {"CORRAL_PURE_PYTHON": "1"}, "".join(json.dumps(e) + "\n" for e in emails))
    assert done.returncode == 0, done.stderr
    state, *lines = done.stdout.splitlines()
    assert json.loads(state) == "python (CORRAL_PURE_PYTHON=1)"
    clear_caches(load_locales())
    differ = []
    for e, line in zip(emails, lines, strict=True):
        when = datetime.fromisoformat(e["received_at"].replace("Z", "+00:00"))
        mine = analyse(e.get("subject", ""), e["body"], e["sender_email"], load_senders(), received_at=when,
                       headers=e.get("headers"), locales=load_locales(), parts=load_parts()).as_dict()
        if json.loads(json.dumps(mine, sort_keys=True, ensure_ascii=False)) != json.loads(line):
            differ.append(e["id"])
    assert len(lines) == len(emails) > 8000
    assert differ == []


def test_a_source_changed_since_the_build_runs_instead_of_it(tmp_path: Path) -> None:
    _need_build()
    (tmp_path / "workers").mkdir()
    shutil.copy(ROOT / "workers" / "__init__.py", tmp_path / "workers" / "__init__.py")
    shutil.copytree(ROOT / "workers" / "email", tmp_path / "workers" / "email",
                    ignore=shutil.ignore_patterns("__pycache__"))
    probe = ("import json, workers.email.rules as r; from workers.email import native;"
             "print(json.dumps([r.__file__, native.state(), r.analyse('Urgent', 'PO 4500012345 please', 'a@b.com',"
             " r.load_senders()).entities['po_numbers']]))")

    built = _run(probe, tmp_path, {})
    assert built.returncode == 0, built.stderr
    path, state, pos = json.loads(built.stdout)
    assert not path.endswith(".py") and state == "compiled" and pos == ["4500012345"]
    assert "RuntimeWarning" not in built.stderr

    rules = tmp_path / "workers" / "email" / "rules.py"
    rules.write_text(rules.read_text(encoding="utf-8") + "\n# an edit after the build\n", encoding="utf-8")
    edited = _run(probe, tmp_path, {})
    assert edited.returncode == 0, edited.stderr
    path, state, pos = json.loads(edited.stdout)
    assert path == str(rules) and state.startswith("python (sources changed since the build")
    assert pos == ["4500012345"]
    assert "RuntimeWarning" in edited.stderr and "build_native.py" in edited.stderr

"""Phase 1 against the evaluation set written outside the project (data/email_eval, see its README.md).

The goal of the email issue on both parts: precision >= 0.95 and recall >= 0.90 for every entity type, workflow
state >= 0.85, priority within one level >= 0.95. The rules were tuned on dev.jsonl only; heldout.jsonl is only
measured (scripts/eval_email.py prints both).
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from workers.email.evaluation import KINDS, evaluate, load_rows

ROOT = Path(__file__).resolve().parent.parent
EVAL = ROOT / "data" / "email_eval"


@pytest.mark.parametrize("part", ["dev", "heldout"])
def test_phase1_meets_the_goal_on_the_evaluation_set(part: str) -> None:
    rows = load_rows(EVAL / f"{part}.jsonl")
    assert len(rows) >= 100  # 230 emails in all, split by conversation
    report = evaluate(rows)
    print(f"\n{part}: " + "\n".join(report.lines()))
    for kind, c in report.entities.items():
        assert c.precision >= 0.95 and c.recall >= 0.90, (part, kind, c)
    workflow, near = report.accuracy(report.workflow), report.accuracy(report.priority_near)
    assert workflow is not None and workflow >= 0.85, (part, workflow)
    assert near is not None and near >= 0.95, (part, near)


def test_the_sets_are_labelled_outside_the_project_and_split_by_conversation() -> None:
    dev, held = load_rows(EVAL / "dev.jsonl"), load_rows(EVAL / "heldout.jsonl")
    assert len(dev) + len(held) >= 150
    assert not {r["conversation_id"] for r in dev} & {r["conversation_id"] for r in held}
    for row in dev:  # every row carries the labels the evaluation needs (values per type, state, priority)
        assert set(KINDS) <= set(row["labels"]) and row["labels"]["workflow_state"] and row["labels"]["priority"]


def test_eval_script_prints_the_figures_of_a_set() -> None:
    res = subprocess.run([sys.executable, "scripts/eval_email.py", "data/email_corpus.jsonl", "--json"], cwd=ROOT,
                         capture_output=True, text=True, timeout=120)
    assert res.returncode == 0, res.stderr
    figures = json.loads(res.stdout)
    assert figures["emails"] == len(load_rows(ROOT / "data" / "email_corpus.jsonl"))
    assert all(figures["entities"][k]["recall"] >= 0.95 for k in KINDS)
    assert figures["workflow_state"] is None  # the generated corpus labels entities only
    bad = subprocess.run([sys.executable, "scripts/eval_email.py", "no-such-file.jsonl"], cwd=ROOT,
                         capture_output=True, text=True, timeout=60)
    assert bad.returncode == 2 and "no-such-file.jsonl" in bad.stderr

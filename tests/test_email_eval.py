"""Phase 1 against the evaluation set written outside the project (data/email_eval, see its README.md).

The goal of the email issue on every part: precision >= 0.95 and recall >= 0.90 for every entity type, workflow
state >= 0.85, priority within one level >= 0.95. The rules were tuned on dev.jsonl to dev12.jsonl (each newer set
measured before a round tuned on it) and the learned workflow model trains on all of them; heldout.jsonl is only
measured, once a round (scripts/eval_email.py prints each).
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


def _meets_goal(part: str) -> None:
    report = evaluate(load_rows(EVAL / f"{part}.jsonl"))
    print(f"\n{part}: " + "\n".join(report.lines()))
    for kind, c in report.entities.items():
        assert c.precision >= 0.95 and c.recall >= 0.90, (part, kind, c)
    workflow, near = report.accuracy(report.workflow), report.accuracy(report.priority_near)
    assert workflow is not None and workflow >= 0.85, (part, workflow)
    assert near is not None and near >= 0.95, (part, near)


def test_phase1_meets_the_goal_on_the_development_part() -> None:
    _meets_goal("dev")


def test_phase1_meets_the_goal_on_the_second_development_part() -> None:
    """dev2.jsonl: a third author's mail (Asia-Pacific and elsewhere, more automated mail, case forms and national
    phone formats), measured once before any rule was tuned on it (round 1 of the rules: case recall 0.84, amount
    recall 0.76, phone precision 0.93, workflow state 0.69), then tuned on."""
    _meets_goal("dev2")


def test_phase1_meets_the_goal_on_the_held_out_part() -> None:
    """Met since round 9 (measured once at the end of each round): workflow state 0.856 (95 of 111) in round 9, 0.874
    (97) in round 10 (a strict expected failure until round 8: 0.829); see docs/email.md."""
    _meets_goal("heldout")


# The held-out figures measured once after tuning (2d7e08f; the workflow state at 68b8831, round 4: the learned
# second opinion), rounded down: a change that loses ground on mail the rules were not tuned on fails here. (Raise
# them when the rules improve; never tune on heldout.jsonl.) Round 1 (837000e) measured PO 0.98 / 0.92, quote
# 1.00 / 0.90, case 1.00 / 0.78, part 1.00 / 0.94, amount 0.96 / 0.95, date 1.00 / 0.98, phone 0.93 / 0.91, workflow
# state 0.69, priority within one 0.98; round 2 workflow state 0.730 (81 of 111); round 4 0.739 (82); round 5 0.748
# (83); round 6 0.802 (89), phones 0.94 / 0.90 before it; round 7 0.820 (91); round 8 0.829 (92), PO recall 0.98,
# part recall 0.96; round 9 0.856 (95), phones 0.95 / 0.94; round 10 0.874 (97); round 11 0.883 (98); round 12
# 0.874 (97); round 13 (below) 0.883 (98), amounts 0.98 / 0.98 before it.
HELD_OUT_FLOOR = {"po_numbers": (0.96, 1.0), "quote_numbers": (1.0, 0.96), "case_numbers": (1.0, 1.0),
                  "part_numbers": (1.0, 0.97), "amounts": (0.99, 0.98), "dates": (1.0, 1.0), "phones": (0.97, 0.97),
                  "emails": (1.0, 1.0)}


def test_held_out_figures_do_not_fall_below_their_measurement() -> None:
    report = evaluate(load_rows(EVAL / "heldout.jsonl"))
    for kind, (precision, recall) in HELD_OUT_FLOOR.items():
        c = report.entities[kind]
        assert c.precision >= precision and c.recall >= recall, (kind, c)
    workflow, near = report.accuracy(report.workflow), report.accuracy(report.priority_near)
    # 98 of 111 (round 13; 97 in round 12, 98 in round 11; 101 in round 18, 100 in round 19, 99 in rounds 40 and 41)
    assert workflow is not None and workflow >= 0.882
    assert near is not None and near >= 0.99


# The figures of the sets written for rounds 5 to 13 (data/email_eval/README.md) with the shipped rules and model,
# rounded down: (precision, recall) per type, then workflow state and priority within one. The learned model trains
# on every one of them, so their workflow figure is no measure of unseen mail: on mail nobody had tuned on (each set
# before the round that tuned on it, with a model trained without it) the workflow state was: dev3 0.58; dev4 0.61,
# 0.64; dev5 0.69, 0.71, 0.74; dev6 0.60, 0.65, 0.69; dev7 0.67, 0.70, 0.77, 0.77; dev8 0.59, 0.63, 0.63, 0.63; dev9
# 0.77, 0.78, 0.81, 0.84, 0.84; dev10 0.74, 0.78, 0.75, 0.77, 0.77 (rounds 4 to 8); dev11 0.81, 0.82 and dev12 0.79,
# 0.84 (rounds 8 and 9); dev14 0.68, 0.74 (rounds 8 and 9); dev13 0.80, 0.86, 0.87, dev15 0.60, 0.65, 0.67 and dev16
# 0.68, 0.71, 0.75 (rounds 8 to 10); dev17 0.76, 0.80 and dev18 0.84, 0.82 (rounds 10 and 11); dev19 0.87, 0.87,
# 0.89 and dev20 0.88, 0.85, 0.87 (rounds 10 to 12). dev16 and dev63 label few POs
# that stand only in a reply's subject: its PO precision is low.
DEV_FLOOR = {
    "dev3": ({"po_numbers": (0.96, 0.98), "quote_numbers": (1.0, 0.96), "case_numbers": (1.0, 0.96),
              "part_numbers": (0.96, 1.0), "amounts": (1.0, 1.0), "dates": (0.99, 0.99),
              "phones": (1.0, 0.98), "emails": (1.0, 1.0)}, 0.96, 0.97),
    "dev4": ({"po_numbers": (1.0, 0.95), "quote_numbers": (1.0, 1.0), "case_numbers": (0.88, 0.96),
              "part_numbers": (0.98, 0.98), "amounts": (1.0, 1.0), "dates": (1.0, 0.99),
              "phones": (0.99, 0.99), "emails": (1.0, 1.0)}, 0.98, 0.96),
    "dev5": ({"po_numbers": (0.95, 0.95), "quote_numbers": (1.0, 1.0), "case_numbers": (0.93, 1.0),
              "part_numbers": (0.96, 0.97), "amounts": (1.0, 0.97), "dates": (0.99, 0.96),
              "phones": (1.0, 1.0), "emails": (1.0, 1.0)}, 0.99, 0.98),
    "dev6": ({"po_numbers": (0.98, 0.98), "quote_numbers": (1.0, 1.0), "case_numbers": (1.0, 0.97),
              "part_numbers": (0.94, 0.99), "amounts": (1.0, 0.97), "dates": (1.0, 0.99),
              "phones": (1.0, 1.0), "emails": (1.0, 1.0)}, 0.99, 0.98),
    "dev7": ({"po_numbers": (0.98, 0.91), "quote_numbers": (1.0, 1.0), "case_numbers": (1.0, 1.0),
              "part_numbers": (0.98, 0.98), "amounts": (0.98, 0.99), "dates": (0.99, 0.99),
              "phones": (0.98, 0.98), "emails": (1.0, 1.0)}, 1.0, 0.98),
    "dev8": ({"po_numbers": (1.0, 0.95), "quote_numbers": (0.95, 0.91), "case_numbers": (1.0, 0.88),
              "part_numbers": (0.94, 0.92), "amounts": (1.0, 0.91), "dates": (0.99, 0.97),
              "phones": (0.98, 0.98), "emails": (1.0, 1.0)}, 0.95, 0.96),
    "dev9": ({"po_numbers": (0.91, 0.98), "quote_numbers": (0.95, 1.0), "case_numbers": (1.0, 1.0),
              "part_numbers": (0.95, 0.98), "amounts": (0.98, 0.94), "dates": (0.98, 1.0),
              "phones": (0.98, 0.99), "emails": (1.0, 1.0)}, 0.97, 0.97),
    "dev10": ({"po_numbers": (0.98, 0.92), "quote_numbers": (1.0, 0.95), "case_numbers": (1.0, 1.0),
               "part_numbers": (1.0, 0.98), "amounts": (0.98, 0.97), "dates": (0.97, 0.96),
               "phones": (0.97, 0.97), "emails": (1.0, 1.0)}, 0.96, 0.96),
    "dev11": ({"po_numbers": (0.98, 0.95), "quote_numbers": (1.0, 0.95), "case_numbers": (1.0, 1.0),
               "part_numbers": (0.97, 1.0), "amounts": (1.0, 0.99), "dates": (0.99, 0.97),
               "phones": (1.0, 0.99), "emails": (1.0, 1.0)}, 0.96, 0.96),
    "dev12": ({"po_numbers": (1.0, 0.86), "quote_numbers": (1.0, 0.92), "case_numbers": (1.0, 0.89),
               "part_numbers": (0.95, 0.98), "amounts": (0.99, 0.99), "dates": (1.0, 0.96),
               "phones": (0.99, 0.98), "emails": (1.0, 1.0)}, 0.98, 0.96),
    "dev14": ({"po_numbers": (1.0, 0.86), "quote_numbers": (1.0, 0.86), "case_numbers": (1.0, 0.92),
               "part_numbers": (0.99, 0.99), "amounts": (0.98, 0.95), "dates": (0.98, 0.95),
               "phones": (0.99, 1.0), "emails": (1.0, 1.0)}, 0.99, 0.96),
    "dev13": ({"po_numbers": (1.0, 0.95), "quote_numbers": (1.0, 0.96), "case_numbers": (1.0, 0.96),
               "part_numbers": (0.97, 0.99), "amounts": (0.98, 0.86), "dates": (0.98, 0.95),
               "phones": (0.9, 0.9), "emails": (1.0, 1.0)}, 0.98, 0.99),
    "dev15": ({"po_numbers": (1.0, 0.92), "quote_numbers": (1.0, 1.0), "case_numbers": (1.0, 1.0),
               "part_numbers": (0.97, 0.94), "amounts": (1.0, 0.97), "dates": (0.95, 0.93),
               "phones": (0.98, 0.98), "emails": (1.0, 1.0)}, 0.98, 0.96),
    "dev16": ({"po_numbers": (0.73, 0.86), "quote_numbers": (0.82, 0.9), "case_numbers": (1.0, 0.89),
               "part_numbers": (0.96, 0.95), "amounts": (0.97, 0.95), "dates": (0.98, 0.95),
               "phones": (0.97, 0.93), "emails": (1.0, 1.0)}, 0.98, 0.98),
    "dev17": ({"po_numbers": (0.96, 0.95), "quote_numbers": (1.0, 0.95), "case_numbers": (1.0, 1.0),
               "part_numbers": (0.96, 1.0), "amounts": (1.0, 0.97), "dates": (0.99, 0.98),
               "phones": (0.99, 0.98), "emails": (1.0, 1.0)}, 0.94, 0.98),
    "dev18": ({"po_numbers": (1.0, 1.0), "quote_numbers": (1.0, 1.0), "case_numbers": (1.0, 1.0),
               "part_numbers": (1.0, 0.98), "amounts": (1.0, 0.98), "dates": (0.97, 0.98),
               "phones": (0.98, 0.99), "emails": (1.0, 1.0)}, 0.98, 0.98),
    "dev19": ({"po_numbers": (0.98, 0.94), "quote_numbers": (1.0, 1.0), "case_numbers": (1.0, 1.0),
               "part_numbers": (1.0, 0.99), "amounts": (0.99, 0.95), "dates": (0.97, 0.98),
               "phones": (0.93, 0.93), "emails": (1.0, 1.0)}, 0.98, 0.98),
    "dev20": ({"po_numbers": (1.0, 0.95), "quote_numbers": (1.0, 0.96), "case_numbers": (1.0, 1.0),
               "part_numbers": (0.97, 0.98), "amounts": (0.96, 0.93), "dates": (0.99, 0.97),
               "phones": (0.99, 0.99), "emails": (1.0, 1.0)}, 0.96, 0.97),
    "dev21": ({"po_numbers": (0.98, 1.0), "quote_numbers": (1.0, 0.92), "case_numbers": (1.0, 1.0),
               "part_numbers": (0.99, 1.0), "amounts": (0.98, 0.96), "dates": (1.0, 0.96),
               "phones": (1.0, 1.0), "emails": (1.0, 1.0)}, 0.97, 0.96),
    "dev22": ({"po_numbers": (1.0, 0.97), "quote_numbers": (1.0, 1.0), "case_numbers": (0.95, 0.95),
               "part_numbers": (1.0, 1.0), "amounts": (1.0, 1.0), "dates": (0.98, 0.98),
               "phones": (1.0, 0.99), "emails": (1.0, 1.0)}, 0.99, 0.98),
    "dev23": ({"po_numbers": (0.98, 0.96), "quote_numbers": (1.0, 1.0), "case_numbers": (0.96, 0.83),
               "part_numbers": (1.0, 1.0), "amounts": (1.0, 0.99), "dates": (0.98, 0.97),
               "phones": (1.0, 1.0), "emails": (1.0, 1.0)}, 0.96, 0.96),
    "dev24": ({"po_numbers": (0.93, 1.0), "quote_numbers": (0.91, 0.95), "case_numbers": (1.0, 0.85),
               "part_numbers": (0.98, 1.0), "amounts": (0.99, 1.0), "dates": (0.99, 0.98),
               "phones": (1.0, 0.99), "emails": (1.0, 1.0)}, 0.98, 0.94),
    "dev25": ({"po_numbers": (0.98, 0.83), "quote_numbers": (1.0, 1.0), "case_numbers": (1.0, 0.94),
               "part_numbers": (0.98, 1.0), "amounts": (1.0, 0.96), "dates": (1.0, 0.99),
               "phones": (0.96, 0.97), "emails": (1.0, 1.0)}, 0.97, 0.95),
    "dev26": ({"po_numbers": (0.97, 0.93), "quote_numbers": (0.95, 1.0), "case_numbers": (1.0, 0.96),
               "part_numbers": (0.96, 0.99), "amounts": (0.99, 0.94), "dates": (0.98, 0.98),
               "phones": (0.99, 0.99), "emails": (1.0, 1.0)}, 0.98, 0.94),
    "dev27": ({"po_numbers": (0.98, 0.92), "quote_numbers": (1.0, 0.95), "case_numbers": (1.0, 1.0),
               "part_numbers": (0.99, 0.98), "amounts": (1.0, 0.99), "dates": (0.96, 0.96),
               "phones": (0.97, 0.92), "emails": (1.0, 1.0)}, 1.0, 0.96),
    "dev28": ({"po_numbers": (0.92, 0.95), "quote_numbers": (1.0, 1.0), "case_numbers": (1.0, 0.96),
               "part_numbers": (0.94, 0.97), "amounts": (0.98, 0.98), "dates": (1.0, 1.0),
               "phones": (0.97, 0.99), "emails": (1.0, 1.0)}, 0.99, 0.96),
    "dev29": ({"po_numbers": (1.0, 0.9), "quote_numbers": (1.0, 1.0), "case_numbers": (1.0, 0.95),
               "part_numbers": (0.98, 0.99), "amounts": (0.99, 0.96), "dates": (1.0, 0.95),
               "phones": (0.99, 0.99), "emails": (1.0, 1.0)}, 0.98, 0.96),
    "dev30": ({"po_numbers": (0.93, 0.98), "quote_numbers": (1.0, 0.92), "case_numbers": (1.0, 1.0),
               "part_numbers": (0.93, 0.85), "amounts": (0.99, 0.99), "dates": (0.99, 0.98),
               "phones": (0.96, 0.97), "emails": (1.0, 1.0)}, 0.98, 0.96),
    "dev31": ({"po_numbers": (1.0, 0.96), "quote_numbers": (1.0, 1.0), "case_numbers": (1.0, 1.0),
               "part_numbers": (0.98, 0.9), "amounts": (1.0, 1.0), "dates": (1.0, 1.0),
               "phones": (0.99, 0.97), "emails": (1.0, 1.0)}, 0.98, 0.94),
    "dev32": ({"po_numbers": (1.0, 0.98), "quote_numbers": (1.0, 0.95), "case_numbers": (1.0, 0.9),
               "part_numbers": (1.0, 0.83), "amounts": (0.99, 1.0), "dates": (1.0, 1.0),
               "phones": (0.95, 0.96), "emails": (1.0, 1.0)}, 0.96, 0.96),
    "dev33": ({"po_numbers": (0.97, 0.98), "quote_numbers": (1.0, 1.0), "case_numbers": (1.0, 0.9),
               "part_numbers": (0.99, 0.97), "amounts": (1.0, 0.98), "dates": (0.98, 0.98),
               "phones": (0.96, 0.96), "emails": (1.0, 1.0)}, 0.98, 0.97),
    "dev34": ({"po_numbers": (1.0, 0.9), "quote_numbers": (1.0, 1.0), "case_numbers": (1.0, 0.94),
               "part_numbers": (0.98, 0.69), "amounts": (0.98, 0.98), "dates": (0.96, 1.0),
               "phones": (0.99, 0.99), "emails": (1.0, 1.0)}, 0.98, 0.98),
    "dev35": ({"po_numbers": (0.97, 0.91), "quote_numbers": (1.0, 0.88), "case_numbers": (1.0, 0.95),
               "part_numbers": (0.97, 0.91), "amounts": (1.0, 1.0), "dates": (1.0, 0.98),
               "phones": (1.0, 1.0), "emails": (1.0, 1.0)}, 1.0, 0.96),
    "dev36": ({"po_numbers": (1.0, 1.0), "quote_numbers": (1.0, 1.0), "case_numbers": (1.0, 0.95),
               "part_numbers": (0.95, 0.98), "amounts": (1.0, 1.0), "dates": (1.0, 0.96),
               "phones": (1.0, 0.97), "emails": (1.0, 1.0)}, 0.96, 0.96),
    "dev37": ({"po_numbers": (0.98, 0.95), "quote_numbers": (1.0, 1.0), "case_numbers": (1.0, 0.94),
               "part_numbers": (1.0, 0.96), "amounts": (1.0, 0.98), "dates": (1.0, 0.99),
               "phones": (1.0, 0.97), "emails": (1.0, 1.0)}, 0.94, 0.96),
    "dev38": ({"po_numbers": (0.94, 0.98), "quote_numbers": (1.0, 1.0), "case_numbers": (0.96, 0.96),
               "part_numbers": (0.97, 1.0), "amounts": (0.99, 0.99), "dates": (0.99, 0.99),
               "phones": (0.97, 0.98), "emails": (1.0, 1.0)}, 0.96, 0.98),
    "dev39": ({"po_numbers": (1.0, 0.91), "quote_numbers": (1.0, 1.0), "case_numbers": (1.0, 1.0),
               "part_numbers": (0.99, 0.85), "amounts": (0.99, 0.99), "dates": (1.0, 1.0),
               "phones": (0.97, 0.97), "emails": (1.0, 1.0)}, 0.96, 0.96),
    "dev40": ({"po_numbers": (1.0, 0.91), "quote_numbers": (1.0, 0.94), "case_numbers": (1.0, 0.9),
               "part_numbers": (0.96, 0.97), "amounts": (1.0, 0.96), "dates": (1.0, 0.96),
               "phones": (1.0, 0.97), "emails": (1.0, 1.0)}, 0.99, 0.98),
    "dev41": ({"po_numbers": (1.0, 0.95), "quote_numbers": (1.0, 1.0), "case_numbers": (1.0, 1.0),
               "part_numbers": (0.94, 0.95), "amounts": (0.96, 0.96), "dates": (1.0, 0.95),
               "phones": (0.97, 0.97), "emails": (1.0, 1.0)}, 0.98, 0.99),
    "dev42": ({"po_numbers": (1.0, 0.8), "quote_numbers": (1.0, 0.91), "case_numbers": (1.0, 0.92),
               "part_numbers": (0.98, 0.87), "amounts": (0.99, 1.0), "dates": (1.0, 0.96),
               "phones": (1.0, 0.99), "emails": (1.0, 1.0)}, 0.98, 0.97),
    # (dev43's author labels no id that stands only in a reply's subject: "RE: ... - ordine 771203", round 32)
    "dev43": ({"po_numbers": (0.75, 0.88), "quote_numbers": (0.93, 0.93), "case_numbers": (1.0, 0.9),
               "part_numbers": (0.93, 0.81), "amounts": (1.0, 0.99), "dates": (1.0, 0.97),
               "phones": (0.96, 0.98), "emails": (1.0, 1.0)}, 0.97, 0.98),
    "dev44": ({"po_numbers": (0.97, 1.0), "quote_numbers": (1.0, 0.95), "case_numbers": (1.0, 0.86),
               "part_numbers": (0.98, 0.72), "amounts": (0.98, 0.98), "dates": (0.98, 0.94),
               "phones": (1.0, 1.0), "emails": (1.0, 1.0)}, 0.97, 0.98),
    "dev45": ({"po_numbers": (1.0, 0.93), "quote_numbers": (1.0, 0.95), "case_numbers": (1.0, 1.0),
               "part_numbers": (0.97, 0.97), "amounts": (1.0, 0.97), "dates": (1.0, 0.98),
               "phones": (0.98, 0.96), "emails": (1.0, 1.0)}, 0.99, 0.96),
    "dev46": ({"po_numbers": (1.0, 0.98), "quote_numbers": (1.0, 0.95), "case_numbers": (1.0, 1.0),
               "part_numbers": (0.98, 0.93), "amounts": (1.0, 1.0), "dates": (0.99, 0.96),
               "phones": (0.97, 0.93), "emails": (1.0, 1.0)}, 0.98, 0.98),
    "dev47": ({"po_numbers": (0.92, 0.87), "quote_numbers": (1.0, 0.95), "case_numbers": (0.96, 1.0),
               "part_numbers": (0.94, 0.79), "amounts": (1.0, 0.96), "dates": (0.99, 0.96),
               "phones": (1.0, 0.97), "emails": (1.0, 1.0)}, 0.98, 0.96),
    "dev48": ({"po_numbers": (0.98, 0.92), "quote_numbers": (1.0, 0.95), "case_numbers": (1.0, 1.0),
               "part_numbers": (0.98, 0.89), "amounts": (0.98, 0.99), "dates": (0.99, 0.99),
               "phones": (0.97, 0.97), "emails": (1.0, 1.0)}, 0.98, 0.98),
    "dev49": ({"po_numbers": (0.9, 0.95), "quote_numbers": (1.0, 0.94), "case_numbers": (0.86, 1.0),
               "part_numbers": (0.98, 0.86), "amounts": (1.0, 0.91), "dates": (0.99, 0.98),
               "phones": (1.0, 0.98), "emails": (1.0, 1.0)}, 0.96, 0.92),
    "dev50": ({"po_numbers": (0.98, 0.94), "quote_numbers": (1.0, 0.96), "case_numbers": (0.94, 0.88),
               "part_numbers": (1.0, 0.92), "amounts": (1.0, 0.96), "dates": (1.0, 0.99),
               "phones": (0.99, 0.97), "emails": (1.0, 1.0)}, 0.97, 0.97),
    "dev51": ({"po_numbers": (1.0, 0.94), "quote_numbers": (1.0, 1.0), "case_numbers": (1.0, 0.95),
               "part_numbers": (0.98, 0.76), "amounts": (1.0, 0.96), "dates": (0.99, 0.97),
               "phones": (0.97, 0.95), "emails": (1.0, 1.0)}, 0.99, 0.97),
    "dev52": ({"po_numbers": (0.89, 1.0), "quote_numbers": (1.0, 0.92), "case_numbers": (1.0, 0.82),
               "part_numbers": (1.0, 0.88), "amounts": (0.98, 0.94), "dates": (1.0, 0.92),
               "phones": (1.0, 0.98), "emails": (1.0, 1.0)}, 0.98, 0.96),
    "dev53": ({"po_numbers": (0.95, 0.96), "quote_numbers": (1.0, 0.95), "case_numbers": (0.96, 0.96),
               "part_numbers": (0.95, 0.81), "amounts": (0.98, 0.99), "dates": (0.99, 0.98),
               "phones": (0.97, 0.98), "emails": (1.0, 1.0)}, 0.98, 0.96),
    "dev54": ({"po_numbers": (1.0, 0.93), "quote_numbers": (1.0, 1.0), "case_numbers": (1.0, 0.95),
               "part_numbers": (1.0, 0.79), "amounts": (1.0, 0.96), "dates": (1.0, 0.97),
               "phones": (0.98, 0.98), "emails": (1.0, 1.0)}, 0.96, 0.98),
    "dev55": ({"po_numbers": (1.0, 0.95), "quote_numbers": (1.0, 0.95), "case_numbers": (1.0, 1.0),
               "part_numbers": (0.92, 0.9), "amounts": (0.95, 0.95), "dates": (0.99, 1.0),
               "phones": (0.99, 0.99), "emails": (1.0, 1.0)}, 0.99, 0.96),
    "dev56": ({"po_numbers": (1.0, 0.96), "quote_numbers": (1.0, 1.0), "case_numbers": (1.0, 1.0),
               "part_numbers": (1.0, 1.0), "amounts": (1.0, 1.0), "dates": (1.0, 0.95),
               "phones": (0.98, 1.0), "emails": (1.0, 1.0)}, 0.96, 0.98),
    "dev57": ({"po_numbers": (1.0, 0.93), "quote_numbers": (1.0, 1.0), "case_numbers": (1.0, 0.95),
               "part_numbers": (0.97, 0.75), "amounts": (0.99, 1.0), "dates": (0.99, 0.99),
               "phones": (0.98, 0.99), "emails": (1.0, 1.0)}, 0.96, 0.96),
    "dev58": ({"po_numbers": (1.0, 0.94), "quote_numbers": (1.0, 1.0), "case_numbers": (0.94, 1.0),
               "part_numbers": (0.97, 1.0), "amounts": (1.0, 0.98), "dates": (0.98, 1.0),
               "phones": (0.97, 0.98), "emails": (1.0, 1.0)}, 0.97, 0.96),
    "dev59": ({"po_numbers": (0.83, 0.96), "quote_numbers": (1.0, 1.0), "case_numbers": (0.94, 1.0),
               "part_numbers": (0.96, 0.91), "amounts": (1.0, 1.0), "dates": (0.99, 0.97),
               "phones": (1.0, 0.99), "emails": (1.0, 1.0)}, 0.99, 0.98),
    "dev60": ({"po_numbers": (0.88, 0.95), "quote_numbers": (1.0, 1.0), "case_numbers": (1.0, 0.96),
               "part_numbers": (0.97, 0.85), "amounts": (0.97, 0.96), "dates": (1.0, 1.0),
               "phones": (0.95, 0.94), "emails": (1.0, 1.0)}, 0.99, 0.99),
    "dev61": ({"po_numbers": (1.0, 1.0), "quote_numbers": (1.0, 0.96), "case_numbers": (0.94, 1.0),
               "part_numbers": (0.98, 0.96), "amounts": (1.0, 1.0), "dates": (1.0, 0.98),
               "phones": (1.0, 0.99), "emails": (1.0, 1.0)}, 0.98, 0.99),
    "dev62": ({"po_numbers": (1.0, 1.0), "quote_numbers": (1.0, 1.0), "case_numbers": (1.0, 0.96),
               "part_numbers": (0.97, 0.88), "amounts": (0.98, 0.99), "dates": (0.99, 1.0),
               "phones": (0.98, 0.95), "emails": (1.0, 1.0)}, 0.97, 0.98),
    "dev63": ({"po_numbers": (0.75, 1.0), "quote_numbers": (1.0, 1.0), "case_numbers": (0.89, 1.0),
               "part_numbers": (0.99, 0.99), "amounts": (0.97, 0.97), "dates": (1.0, 1.0),
               "phones": (1.0, 0.98), "emails": (1.0, 1.0)}, 0.97, 0.98),
    "dev64": ({"po_numbers": (1.0, 0.94), "quote_numbers": (1.0, 1.0), "case_numbers": (1.0, 0.95),
               "part_numbers": (0.94, 0.76), "amounts": (0.98, 0.98), "dates": (0.99, 0.99),
               "phones": (0.99, 0.99), "emails": (1.0, 1.0)}, 0.98, 0.97),
    "dev65": ({"po_numbers": (1.0, 0.95), "quote_numbers": (1.0, 1.0), "case_numbers": (1.0, 1.0),
               "part_numbers": (0.97, 0.77), "amounts": (0.98, 0.96), "dates": (1.0, 1.0),
               "phones": (0.98, 0.99), "emails": (1.0, 1.0)}, 0.97, 0.96),
    "dev66": ({"po_numbers": (1.0, 0.95), "quote_numbers": (1.0, 1.0), "case_numbers": (1.0, 0.83),
               "part_numbers": (0.96, 0.68), "amounts": (1.0, 0.99), "dates": (1.0, 1.0),
               "phones": (0.96, 0.93), "emails": (1.0, 1.0)}, 0.97, 0.98),
    "dev67": ({"po_numbers": (1.0, 1.0), "quote_numbers": (1.0, 1.0), "case_numbers": (1.0, 1.0),
               "part_numbers": (0.98, 0.85), "amounts": (0.99, 0.99), "dates": (1.0, 0.99),
               "phones": (0.98, 0.98), "emails": (1.0, 1.0)}, 0.98, 0.99),
    "dev68": ({"po_numbers": (1.0, 0.97), "quote_numbers": (1.0, 0.95), "case_numbers": (1.0, 1.0),
               "part_numbers": (0.97, 0.74), "amounts": (0.99, 0.96), "dates": (0.99, 0.98),
               "phones": (0.97, 0.98), "emails": (1.0, 1.0)}, 1.0, 1.0),
    "dev69": ({"po_numbers": (0.68, 0.93), "quote_numbers": (1.0, 1.0), "case_numbers": (1.0, 1.0),
               "part_numbers": (0.9, 0.92), "amounts": (1.0, 0.96), "dates": (0.96, 0.97),
               "phones": (1.0, 1.0), "emails": (1.0, 1.0)}, 0.99, 0.96),
    "dev70": ({"po_numbers": (1.0, 0.89), "quote_numbers": (1.0, 1.0), "case_numbers": (0.92, 0.96),
               "part_numbers": (0.97, 0.84), "amounts": (0.98, 0.98), "dates": (1.0, 1.0),
               "phones": (1.0, 0.99), "emails": (1.0, 1.0)}, 0.98, 0.98),
    "dev71": ({"po_numbers": (1.0, 1.0), "quote_numbers": (1.0, 0.72), "case_numbers": (0.88, 0.85),
               "part_numbers": (0.99, 1.0), "amounts": (0.98, 0.97), "dates": (0.99, 0.96),
               "phones": (0.98, 0.99), "emails": (1.0, 1.0)}, 1.0, 0.94),
    "dev72": ({"po_numbers": (0.96, 0.94), "quote_numbers": (1.0, 1.0), "case_numbers": (1.0, 0.96),
               "part_numbers": (0.96, 0.88), "amounts": (0.99, 0.97), "dates": (0.98, 0.98),
               "phones": (1.0, 1.0), "emails": (1.0, 1.0)}, 0.98, 0.98),
    "dev73": ({"po_numbers": (0.98, 0.95), "quote_numbers": (1.0, 0.96), "case_numbers": (1.0, 0.96),
               "part_numbers": (0.97, 0.88), "amounts": (1.0, 0.99), "dates": (0.99, 0.94),
               "phones": (0.99, 0.97), "emails": (1.0, 1.0)}, 0.97, 0.97),
    "dev74": ({"po_numbers": (0.9, 0.96), "quote_numbers": (1.0, 1.0), "case_numbers": (1.0, 0.96),
               "part_numbers": (0.97, 0.71), "amounts": (1.0, 0.99), "dates": (0.99, 0.94),
               "phones": (0.95, 0.97), "emails": (1.0, 1.0)}, 0.98, 0.96),
}


@pytest.mark.parametrize("part", sorted(DEV_FLOOR))
def test_newer_sets_do_not_fall_below_their_measurement(part: str) -> None:
    floors, workflow_floor, near_floor = DEV_FLOOR[part]
    report = evaluate(load_rows(EVAL / f"{part}.jsonl"))
    for kind, (precision, recall) in floors.items():
        c = report.entities[kind]
        assert c.precision >= precision and c.recall >= recall, (part, kind, c)
    workflow, near = report.accuracy(report.workflow), report.accuracy(report.priority_near)
    assert workflow is not None and workflow >= workflow_floor, (part, workflow)
    assert near is not None and near >= near_floor, (part, near)


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

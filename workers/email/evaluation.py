"""Score Phase 1 against a labelled set of emails (scripts/eval_email.py prints it; tests assert on it).

A labelled row is `{"email": {id, subject, body, sender_email, received_at, headers?}, "labels": {...}}` with
the labels of /work/briefs' evaluation brief: normalised values per entity type (amounts as {value, currency}),
and optionally `workflow_state`, `priority` and `auto_reply`. Rows of the generated corpus
(data/email_corpus.jsonl) label amounts as bare numbers: those are US dollars.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from workers.email.rules import Phase1Result, analyse

KINDS = ("po_numbers", "quote_numbers", "case_numbers", "part_numbers", "amounts", "dates", "phones", "emails")
PRIORITIES = ("low", "medium", "high", "critical")


def load_rows(path: str | Path) -> list[dict[str, Any]]:
    rows = []
    for n, line in enumerate(Path(path).read_text(encoding="utf-8").splitlines(), 1):
        if line.strip():
            try:
                rows.append(json.loads(line))
            except ValueError as e:
                raise ValueError(f"{path}:{n}: not JSON: {e}") from e
    return rows


def _norm(kind: str, value: Any) -> Any:
    if kind == "amounts":
        if isinstance(value, dict):
            return (round(float(value["value"]), 2), str(value["currency"]).upper())
        return (round(float(value), 2), "USD")  # the generated corpus: bare numbers, dollars
    if kind == "emails":
        return str(value).lower()
    if kind in ("dates", "phones"):
        return str(value)
    return str(value).upper()


@dataclass
class Counts:
    tp: int = 0
    fp: int = 0
    fn: int = 0

    @property
    def precision(self) -> float:
        return self.tp / (self.tp + self.fp) if self.tp + self.fp else 1.0

    @property
    def recall(self) -> float:
        return self.tp / (self.tp + self.fn) if self.tp + self.fn else 1.0


@dataclass
class Miss:
    email_id: str
    what: str
    expected: Any
    got: Any


@dataclass
class Report:
    emails: int = 0
    entities: dict[str, Counts] = field(default_factory=lambda: {k: Counts() for k in KINDS})
    workflow: Counts = field(default_factory=Counts)      # tp: right, fn: wrong
    priority_exact: Counts = field(default_factory=Counts)
    priority_near: Counts = field(default_factory=Counts)  # within one level
    auto_reply: Counts = field(default_factory=Counts)
    misses: list[Miss] = field(default_factory=list)

    @staticmethod
    def accuracy(c: Counts) -> float | None:
        return c.tp / (c.tp + c.fn) if c.tp + c.fn else None

    def lines(self) -> list[str]:
        out = [f"{self.emails} emails"]
        for kind, c in self.entities.items():
            out.append(f"  {kind:14} precision {c.precision:.3f}  recall {c.recall:.3f}  "
                       f"(tp {c.tp}, fp {c.fp}, fn {c.fn})")
        for name, c in (("workflow state", self.workflow), ("priority exact", self.priority_exact),
                        ("priority within one", self.priority_near), ("auto-reply", self.auto_reply)):
            acc = self.accuracy(c)
            if acc is not None:
                out.append(f"  {name:20} {acc:.3f}  ({c.tp} of {c.tp + c.fn})")
        return out

    def as_dict(self) -> dict[str, Any]:
        return {
            "emails": self.emails,
            "entities": {k: {"precision": round(c.precision, 4), "recall": round(c.recall, 4), "tp": c.tp,
                             "fp": c.fp, "fn": c.fn} for k, c in self.entities.items()},
            "workflow_state": self.accuracy(self.workflow), "priority_exact": self.accuracy(self.priority_exact),
            "priority_within_one": self.accuracy(self.priority_near), "auto_reply": self.accuracy(self.auto_reply),
        }


def run_phase1(email: dict[str, Any]) -> Phase1Result:
    received = email.get("received_at")
    when = datetime.fromisoformat(received.replace("Z", "+00:00")) if isinstance(received, str) else None
    return analyse(email.get("subject", ""), email["body"], email["sender_email"], received_at=when,
                   headers=email.get("headers"))


def evaluate(rows: Iterable[dict[str, Any]],
             phase1: Callable[[dict[str, Any]], Phase1Result] = run_phase1) -> Report:
    report = Report()
    for row in rows:
        email, labels = row["email"], row["labels"]
        result = phase1(email)
        report.emails += 1
        for kind in KINDS:
            truth = {_norm(kind, v) for v in labels.get(kind, [])}
            got = {_norm(kind, v) for v in result.entities.get(kind, [])}
            c = report.entities[kind]
            c.tp += len(truth & got)
            c.fp += len(got - truth)
            c.fn += len(truth - got)
            if truth != got:
                report.misses.append(Miss(email["id"], kind, sorted(truth - got, key=str),
                                          sorted(got - truth, key=str)))
        _score(report.workflow, report, email["id"], "workflow_state", labels.get("workflow_state"),
               result.workflow_state)
        want = labels.get("priority")
        if want in PRIORITIES:
            _score(report.priority_exact, report, email["id"], "priority", want, result.priority)
            near = abs(PRIORITIES.index(want) - PRIORITIES.index(result.priority)) <= 1
            report.priority_near.tp += near
            report.priority_near.fn += not near
        _score(report.auto_reply, report, email["id"], "auto_reply", labels.get("auto_reply"), result.auto_reply)
    return report


def _score(c: Counts, report: Report, email_id: str, what: str, want: Any, got: Any) -> None:
    if want is None:
        return
    if want == got:
        c.tp += 1
    else:
        c.fn += 1
        report.misses.append(Miss(email_id, what, want, got))

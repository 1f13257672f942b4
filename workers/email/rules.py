"""Phase 1 of the email analysis: rules only, no LLM. Fast (the benchmark wants thousands per second)
and deterministic, so its output can be stored and compared across versions."""

from __future__ import annotations

import re
import tomllib
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from functools import lru_cache
from pathlib import Path
from typing import Any

from workers.email.entities import extract_entities

RULES_VERSION = "phase1-2026.11"
SENDERS_FILE = Path(__file__).resolve().parent.parent.parent / "config" / "email_senders.toml"


def _words(*words: str) -> re.Pattern[str]:
    # Whole words only: "now" must not match inside "know", nor "order" inside "border".
    return re.compile(r"\b(?:" + "|".join(words) + r")\b", re.IGNORECASE)


@dataclass(frozen=True)
class Rule:
    """A pattern and the lower-case substrings one of which every match contains: the cheap `in` test on the
    lower-cased text skips most regex scans (each scan costs ~10 us on a typical email, an `in` a few dozen ns)."""

    pattern: re.Pattern[str]
    hints: tuple[str, ...]

    def search(self, text: str, low: str) -> bool:
        return any(h in low for h in self.hints) and self.pattern.search(text) is not None


def _word_rule(*words: str) -> Rule:
    return Rule(_words(*words), tuple(w.replace("\\", "").lower() for w in words))


# Checked in this order; the first that matches names the state.
WORKFLOW_RULES: tuple[tuple[str, Rule], ...] = (
    ("COMPLETION", _word_rule("delivered", "completed", "resolved", "closed", "received in full", "all set")),
    ("RETURNS", _word_rule("return", "returns", "returned", "RMA", "refund", "return authorization")),
    ("SHIPPING", _word_rule("shipped", "shipping", "shipment", "tracking", "freight", "carrier", "in transit",
                            "delivery")),
    ("QUOTE_PROCESSING", _word_rule("quote", "quotes", "quotation", "pricing", "RFQ", "price list")),
    ("ORDER_MANAGEMENT", _word_rule("order", "orders", "purchase order", "PO", "P\\.O\\.", "invoice", "reorder")),
    ("IN_PROGRESS", _word_rule("in progress", "working on", "processing", "status", "follow-up", "update")),
)

URGENCY_WEIGHTS: tuple[tuple[re.Pattern[str], int], ...] = (
    (_words("urgent", "urgently"), 2),
    (_words("critical"), 3),
    (_words("emergency"), 3),
    (_words("asap", "a\\.s\\.a\\.p\\."), 2),
    (_words("immediate", "immediately"), 2),
    (re.compile(r"\bescalat\w*", re.IGNORECASE), 2),
    (_words("deadline"), 1),
    (_words("today"), 1),
    (_words("now"), 1),
)
URGENCY_CAP = 10

KEY_PHRASES = ("purchase order", "return authorization", "expedite", "overnight", "cancel", "price increase",
               "out of stock", "backorder", "damaged", "invoice", "credit", "refund", "replacement", "lead time",
               "on hold", "quote", "delivery date", "tracking number")
_KEY_PHRASES = [(p, re.compile(r"\b" + re.escape(p) + r"\b", re.IGNORECASE)) for p in KEY_PHRASES]
# A substring every match of the rule contains (lower case): a cheap `in` test skips most regex scans.
_URGENCY_HINTS = (("urgent",), ("critical",), ("emergency",), ("asap", "a.s.a.p"), ("immediate",), ("escalat",),
                  ("deadline",), ("today",), ("now",))

EXPEDITE = _word_rule("expedite", "expedited", "rush", "overnight", "asap", "same day")
CANCEL = Rule(re.compile(r"\b(?:cancel\w*|competitor|reconsider|switch(?:ing)? suppliers?|another vendor)\b",
                         re.IGNORECASE), ("cancel", "competitor", "reconsider", "switch", "another vendor"))
QUANTITY = re.compile(r"\b(\d[\d,]*)\s*(?:units|pcs|pieces|cases|pallets)\b", re.IGNORECASE)
_QUANTITY_HINTS = ("unit", "pcs", "piece", "case", "pallet")
HIGH_VALUE = 50_000.0
BULK_QUANTITY = 100


@dataclass(frozen=True)
class SenderLists:
    key_customer: frozenset[str] = frozenset()
    internal: frozenset[str] = frozenset()
    partner: frozenset[str] = frozenset()

    def category(self, sender_email: str) -> str:
        domain = sender_email.rsplit("@", 1)[-1].lower()
        for name in ("key_customer", "internal", "partner"):
            if domain in getattr(self, name):
                return name
        return "standard"


@lru_cache(maxsize=4)
def load_senders(path: str = str(SENDERS_FILE)) -> SenderLists:
    raw = tomllib.loads(Path(path).read_text())
    unknown = set(raw) - {"key_customer", "internal", "partner"}
    if unknown:
        raise ValueError(f"{path}: unknown sender list(s) {sorted(unknown)}")
    return SenderLists(**{k: frozenset(d.lower() for d in v) for k, v in raw.items()})


@dataclass
class Phase1Result:
    entities: dict[str, Any]
    workflow_state: str
    urgency_score: int
    priority: str
    financial_impact: float
    key_phrases: list[str]
    sender_category: str
    detected_patterns: list[str]
    rules_version: str = RULES_VERSION
    chain_analysis: dict[str, Any] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return dict(vars(self))


def workflow_state(text: str, lower: str | None = None) -> str:
    low = text.lower() if lower is None else lower
    for state, rule in WORKFLOW_RULES:
        if rule.search(text, low):
            return state
    return "START_POINT"


def urgency_score(text: str, lower: str | None = None) -> int:
    low = text.lower() if lower is None else lower
    score = sum(weight * len(p.findall(text))
                for (p, weight), hints in zip(URGENCY_WEIGHTS, _URGENCY_HINTS, strict=True)
                if any(h in low for h in hints))
    return min(URGENCY_CAP, score)


def priority_for(score: int) -> str:
    if score >= 5:
        return "critical"
    if score >= 3:
        return "high"
    if score >= 1:
        return "medium"
    return "low"


def analyse(subject: str, body: str, sender_email: str, senders: SenderLists | None = None) -> Phase1Result:
    text = f"{subject}\n{body}"
    low = text.lower()
    entities = extract_entities(text, low)
    score = urgency_score(text, low)
    amounts = entities.amounts
    financial = round(sum(amounts), 2)
    patterns = []
    quantities = ([int(q.replace(",", "")) for q in QUANTITY.findall(text)]
                  if any(h in low for h in _QUANTITY_HINTS) else [])
    if any(q >= BULK_QUANTITY for q in quantities) or len(entities.part_numbers) >= 3:
        patterns.append("bulk_order")
    if score >= 5:
        patterns.append("high_urgency")
    if financial > HIGH_VALUE:
        patterns.append("high_value")
    if EXPEDITE.search(text, low):
        patterns.append("expedited_processing")
    if CANCEL.search(text, low):
        patterns.append("cancellation_risk")
    return Phase1Result(
        entities=entities.as_dict(),
        workflow_state=workflow_state(text, low),
        urgency_score=score,
        priority=priority_for(score),
        financial_impact=financial,
        key_phrases=[p for p, rx in _KEY_PHRASES if p in low and rx.search(text)],
        sender_category=(senders or load_senders()).category(sender_email),
        detected_patterns=patterns,
    )


def chain_analysis(received: Sequence[datetime], *, email_ids: Sequence[str] = ()) -> dict[str, Any]:
    """Over a whole conversation: complete with >= 3 emails spanning more than half a day;
    completeness = min(100, 20 x emails + 20 when the span exceeds a day)."""
    count = len(received)
    span_hours = (max(received) - min(received)).total_seconds() / 3600 if count > 1 else 0.0
    completeness = min(100, 20 * count + (20 if span_hours > 24 else 0))
    return {
        "email_count": count,
        "span_hours": round(span_hours, 2),
        "is_complete_chain": count >= 3 and span_hours > 12,
        "completeness_score": completeness,
        "email_ids": list(email_ids),
    }

#!/usr/bin/env python3
"""Generate the labelled email corpus in data/email_corpus.jsonl (deterministic: seed 7).

    python scripts/make_email_corpus.py [--conversations 64] [--out data/email_corpus.jsonl]

Each line is one email with its conversation and the entities it truly contains, as the generator put
them in: the labels come from the values inserted, never from corral's rules. Bodies mix entity
sentences in many surface forms with look-alikes the rules must refuse: upper-case words ("URGENT",
"PLEASE SHIP"), years and fiscal years, "border"/"know", phone numbers right after PO numbers,
ISO dates and part numbers shaped like phone numbers, percentages, quantities, standards (ISO-9001).
"""

from __future__ import annotations

import argparse
import json
import random
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
MONTHS = ["January", "February", "March", "April", "May", "June", "July", "August", "September", "October",
          "November", "December"]
FIRST = ["Anna", "Ben", "Carla", "Dev", "Elena", "Femi", "Grace", "Hiro", "Ines", "Jonas", "Kim", "Luis"]
LAST = ["Meyer", "Okafor", "Silva", "Tanaka", "Novak", "Walsh", "Chen", "Haddad", "Berg", "Rossi"]
CUSTOMERS = ["acme-industrial.com", "globex.com", "initech.io", "umbrella-supply.com", "stark-mfg.com"]
INTERNAL = ["ourcompany.com"]
PARTNERS = ["fastfreight.com", "partsource.net"]
OTHERS = ["gmail.com", "outlook.com", "smallshop.biz"]

LABELS = ("po_numbers", "quote_numbers", "case_numbers", "part_numbers", "amounts", "dates", "phones", "emails")

DISTRACTORS = [
    "URGENT: PLEASE SHIP the remaining units as soon as you can.",
    "We are near the border crossing, so customs may add a day.",
    "Let me know if anything changes on your side.",
    "I know the team is stretched this quarter.",
    "Our FY2025 plan assumes the same volumes as in 2024.",
    "The order of magnitude is similar to last year.",
    "We need 2,500 pieces in total, 25% in the first shipment.",
    "The plant is ISO-9001 certified and the spec follows ASTM-1234.",
    "Please find the revised drawing attached (rev 3.2.1).",
    "THANKS AGAIN FOR THE QUICK TURNAROUND.",
    "Reference our call from last Tuesday.",
    "The warehouse holds about 12,000 pallets.",
    "Meeting room 4-101 is booked for the review.",
    "Lead time is 6-8 weeks from the order date.",
    "ATTN: RECEIVING DEPT, DOCK 7.",
    "We can reorder whenever the border paperwork clears.",
    "The shipment weighs 1,250 kg and occupies 3 pallets.",
    "Please acknowledge now, we know the drill.",
    "Version 2024.3 of the portal is live.",
    "Use the customer portal for status updates.",
    "Invoice INV-20345 was paid on time.",
    "Your order ID 20250304 is in the system.",
    "Model year 2025 units have the new bracket.",
    "Dock hours are 7:30-16:00, gate 3.",
    "We shipped 1/2 of the pallets already.",
    "DO NOT DOUBLE-SHIP THIS ORDER.",
    "See section 4.2.1 of the contract for penalties.",
    "Serial numbers run from 100200 to 100260.",
    "Temperature must stay between 2-8 C during transit.",
    "The ERP migration (project ATLAS-2) is still on track.",
]


class Email:
    def __init__(self) -> None:
        self.parts: list[str] = []
        self.labels: dict[str, list[Any]] = {k: [] for k in LABELS}

    def label(self, kind: str, value: Any) -> None:
        if value not in self.labels[kind]:
            self.labels[kind].append(value)


def po(rng: random.Random, e: Email) -> str:
    digits = str(rng.choice([rng.randint(4500000000, 4599999999), rng.randint(100000, 999999),
                             rng.randint(10000000, 99999999)]))
    e.label("po_numbers", digits)
    form = rng.choice(["PO #{d}", "PO {d}", "P.O. {d}", "PO-{d}", "purchase order {d}", "PO number {d}",
                       "our PO: {d}", "Purchase Order No. {d}", "po#{d}"])
    return form.format(d=digits)


def quote(rng: random.Random, e: Email) -> str:
    if rng.random() < 0.5:
        qid = f"Q-{rng.randint(2023, 2026)}-{rng.randint(100, 9999):04d}"
        form = rng.choice(["quote {q}", "quote #{q}", "{q}", "Quote No. {q}", "quotation {q}"])
    else:
        qid = str(rng.randint(10000, 999999))
        form = rng.choice(["quote #{q}", "quote {q}", "quotation {q}", "Quote No. {q}", "quote number {q}"])
    e.label("quote_numbers", qid)
    return form.format(q=qid)


def case(rng: random.Random, e: Email) -> str:
    kind = rng.randrange(3)
    if kind == 0:
        cid = f"{rng.choice(['CS', 'TKT'])}-{rng.randint(1000, 99999)}"
        form = rng.choice(["case {c}", "ticket {c}", "{c}", "support case {c}"])
    elif kind == 1:
        cid = f"INC{rng.randint(1, 9999999):07d}"
        form = rng.choice(["{c}", "incident {c}", "ticket {c}"])
    else:
        cid = str(rng.randint(10000, 9999999))
        form = rng.choice(["case #{c}", "ticket #{c}", "case {c}", "support case {c}", "ticket number {c}"])
    e.label("case_numbers", cid)
    return form.format(c=cid)


def part(rng: random.Random, e: Email) -> str:
    letters = "".join(rng.choice("ABDEFGHJKLMNRSVWXZ") for _ in range(rng.choice([2, 3])))
    if rng.random() < 0.3:
        pn = f"{rng.randint(10, 99)}-{rng.randint(1000, 9999)}-{rng.randint(10, 99)}"
        form = rng.choice(["part number {p}", "P/N {p}", "part # {p}", "SKU {p}"])
    else:
        pn = f"{letters}-{rng.randint(100, 99999)}" + (f"-{rng.choice('ABCXZ')}" if rng.random() < 0.3 else "")
        form = rng.choice(["part number {p}", "P/N {p}", "part {p}", "SKU {p}", "{p}", "part # {p}"])
    e.label("part_numbers", pn)
    return form.format(p=pn)


def amount(rng: random.Random, e: Email) -> str:
    kind = rng.randrange(5)
    if kind == 0:
        v = rng.randint(100, 999_999) + rng.choice([0, 0.5, 0.99])
        text = f"${v:,.2f}"
    elif kind == 1:
        v = float(rng.randint(50, 9_999))
        text = f"${int(v):,}"
    elif kind == 2:
        k = rng.choice([12, 45, 80, 150, 2.5])
        big = rng.random() < 0.3
        v = float(k * (1_000_000 if big else 1000))
        text = f"${k}{'M' if big else rng.choice('Kk')}"
    elif kind == 3:
        v = float(rng.randint(1_000, 90_000))
        text = f"USD {int(v):,}"
    else:
        v = float(rng.randint(200, 20_000))
        text = f"{int(v):,} dollars"
    e.label("amounts", round(v, 2))
    return text


def a_date(rng: random.Random, e: Email, base: datetime) -> str:
    d = (base + timedelta(days=rng.randint(-20, 60))).date()
    e.label("dates", d.isoformat())
    form = rng.randrange(6)
    if form == 4:
        suffix = {1: "st", 2: "nd", 3: "rd"}.get(d.day % 10 if d.day not in (11, 12, 13) else 0, "th")
        return f"{MONTHS[d.month - 1][:3]}. {d.day}{suffix}, {d.year}"
    if form == 5:
        return f"{d.day} {MONTHS[d.month - 1]} {d.year}"
    if form == 0:
        return f"{MONTHS[d.month - 1]} {d.day}, {d.year}"
    if form == 1:
        return f"{d.day} {MONTHS[d.month - 1][:3]} {d.year}"
    if form == 2:
        return d.isoformat()
    return f"{d.month:02d}/{d.day:02d}/{d.year}"


def phone(rng: random.Random, e: Email) -> str:
    a, b, c = rng.randint(201, 989), rng.randint(200, 999), rng.randint(0, 9999)
    e.label("phones", f"{a}{b}{c:04d}")
    return rng.choice(["({a}) {b}-{c:04d}", "{a}-{b}-{c:04d}", "{a}.{b}.{c:04d}", "+1 {a} {b} {c:04d}",
                       "+1-{a}-{b}-{c:04d}"]).format(a=a, b=b, c=c)


def contact_email(rng: random.Random, e: Email, domain: str) -> str:
    addr = f"{rng.choice(FIRST).lower()}.{rng.choice(LAST).lower()}@{domain}"
    e.label("emails", addr)
    return addr


def sentence(rng: random.Random, e: Email, base: datetime, domain: str) -> str:
    templates = [
        lambda: f"Please confirm delivery for {po(rng, e)} by {a_date(rng, e, base)}.",
        lambda: f"Attached is {quote(rng, e)} for {part(rng, e)}, total {amount(rng, e)}.",
        lambda: f"We opened {case(rng, e)} about the damaged {part(rng, e)}.",
        lambda: f"Invoice for {po(rng, e)} came to {amount(rng, e)}; call me at {phone(rng, e)}.",
        lambda: f"Regarding {po(rng, e)}, {phone(rng, e)} is the best number for receiving.",
        lambda: f"Can you revise {quote(rng, e)}? Budget is {amount(rng, e)} and we need it by {a_date(rng, e, base)}.",
        lambda: f"The replacement {part(rng, e)} ships {a_date(rng, e, base)} under {case(rng, e)}.",
        lambda: f"Reach {contact_email(rng, e, domain)} or {phone(rng, e)} for questions.",
        lambda: f"We want to order 40 units of {part(rng, e)} and 12 of {part(rng, e)}.",
        lambda: f"Status of {case(rng, e)}? It has been open since {a_date(rng, e, base)}.",
        lambda: f"Credit of {amount(rng, e)} applied to {po(rng, e)}.",
        lambda: f"Return authorization for {part(rng, e)} under {po(rng, e)}, refund {amount(rng, e)}.",
        lambda: f"{po(rng, e)} / {phone(rng, e)} - please call the buyer.",
        lambda: f"FYI: {po(rng, e).upper()} IS ON HOLD UNTIL {a_date(rng, e, base).upper()}.",
        lambda: f"Total exposure is now {amount(rng, e)} across {case(rng, e)} and {quote(rng, e)}.",
        lambda: f"Ask for ext. 214 at {phone(rng, e)} if the line is busy.",
    ]
    return rng.choice(templates)()


def signature(rng: random.Random, e: Email, name: str, domain: str) -> str:
    lines = ["--", name, rng.choice(["Purchasing", "Customer Service", "Logistics", "Accounts Payable"])]
    if rng.random() < 0.6:
        lines.append(f"Tel: {phone(rng, e)}")
    if rng.random() < 0.4:
        lines.append(contact_email(rng, e, domain))
    return "\n".join(lines)


SUBJECTS = ["Order update", "Quote request", "Shipping delay", "Return request", "Invoice question",
            "Support case follow-up", "Delivery schedule", "Pricing for next quarter"]


def make(conversations: int, seed: int) -> list[dict[str, Any]]:
    rng = random.Random(seed)
    rows: list[dict[str, Any]] = []
    start = datetime(2025, 3, 3, 8, 0)
    for c in range(conversations):
        conv_id = f"conv-{c:03d}"
        domain = rng.choice(CUSTOMERS + INTERNAL + PARTNERS + OTHERS)
        name = f"{rng.choice(FIRST)} {rng.choice(LAST)}"
        sender = f"{name.split()[0].lower()}.{name.split()[1].lower()}@{domain}"
        t = start + timedelta(days=rng.randint(0, 200), hours=rng.randint(0, 10))
        subject_e = Email()
        subject = rng.choice(SUBJECTS)
        if rng.random() < 0.4:
            subject = f"{subject} - {rng.choice([po, quote, case])(rng, subject_e)}"
        for n in range(rng.randint(3, 7)):
            e = Email()
            for kind, values in subject_e.labels.items():
                for v in values:
                    e.label(kind, v)
            body: list[str] = [rng.choice(["Hi team,", "Hello,", f"Dear {rng.choice(FIRST)},", "Hi,"])]
            for _ in range(rng.randint(2, 5)):
                body.append(sentence(rng, e, t, domain) if rng.random() < 0.6 else rng.choice(DISTRACTORS))
            if rng.random() < 0.3:
                body.append(rng.choice(["This is urgent, we need it today.", "ASAP please, the line is down.",
                                        "Deadline is end of week, please escalate.", "No rush on this one."]))
            body.append(signature(rng, e, name, domain))
            rows.append({
                "conversation_id": conv_id,
                "email": {
                    "id": f"{conv_id}-m{n}", "subject": ("RE: " if n else "") + subject,
                    "body": "\n".join(body), "sender_email": sender, "received_at": t.isoformat() + "Z",
                    "conversation_id": conv_id,
                },
                "labels": e.labels,
            })
            t += timedelta(hours=rng.randint(1, 30))
    return rows


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--conversations", type=int, default=70)
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--out", default=str(ROOT / "data" / "email_corpus.jsonl"))
    args = ap.parse_args()
    rows = make(args.conversations, args.seed)
    with open(args.out, "w") as f:
        for row in rows:
            f.write(json.dumps(row, sort_keys=True) + "\n")
    counts = {k: sum(len(r["labels"][k]) for r in rows) for k in LABELS}
    print(f"{len(rows)} emails in {args.conversations} conversations -> {args.out}; labels: {counts}")


if __name__ == "__main__":
    main()

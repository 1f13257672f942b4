"""Phase 1 entity extraction: precise rules, normalised values.

Each rule wants a context word or a shape no ordinary word has, and returns the value an operator
would search for (the digits of a PO, not "PO #"). The labelled corpus in data/email_corpus.jsonl
measures them (tests/test_email_entities.py): precision and recall of at least 0.95 per type.
Look-alikes it must refuse: upper-case words ("URGENT", "PLEASE SHIP"), years, "order" inside
"border", phone numbers next to PO numbers, dates and part numbers that look like phone numbers.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date

_NUM = r"\d[\d,]*(?:\.\d+)?"

PO = re.compile(
    r"\b(?:P\.?O\.?|purchase\s+order)(?:\s*(?:number|no\.?|num\.?))?\s*(?:[#:]\s*|-\s*)?(\d{5,12})\b",
    re.IGNORECASE,
)
QUOTE = re.compile(
    r"\b(?:quote|quotation)(?:\s*(?:number|no\.?|ref\.?))?\s*(?:[#:]\s*)?((?:Q-\d{4}-\d{3,5})|\d{5,8})\b"
    r"|\b(Q-\d{4}-\d{3,5})\b",
    re.IGNORECASE,
)
CASE = re.compile(
    r"\b(?:support\s+)?(?:case|ticket)(?:\s*(?:number|no\.?))?\s*(?:[#:]\s*)?((?:CS|TKT)-\d{4,6}|\d{5,8})\b"
    r"|\b((?:CS|TKT)-\d{4,6}|INC\d{7})\b",
    re.IGNORECASE,
)
# A part number: letters-digits with a dash (XR-2200, ABC-1234-X) or digit groups after a part keyword.
_PART_SHAPE = r"[A-Z]{2,4}-\d{3,6}(?:-[A-Z0-9]{1,3})?"
PART_KEYWORD = re.compile(
    r"\b(?:part(?:\s*(?:number|no\.?|#))?|P/N|SKU)\s*[:#]?\s*(" + _PART_SHAPE + r"|\d{2,4}-\d{3,5}-\d{2,3})\b"
)
PART_BARE = re.compile(r"\b(" + _PART_SHAPE + r")\b")
# Prefixes that belong to other entity types or to standards, not to parts.
NOT_PART_PREFIXES = {"Q", "CS", "TKT", "INC", "INV", "PO", "ISO", "RFC", "ASTM", "COVID", "SHA", "UTF", "ISBN"}

AMOUNT = re.compile(
    r"\$\s?(" + _NUM + r")\s*([KkMm])?\b"
    r"|\bUSD\s?(" + _NUM + r")\b"
    r"|\b(" + _NUM + r")\s?(?:USD|dollars)\b",
)

_MONTHS = {m: i + 1 for i, m in enumerate(
    ["january", "february", "march", "april", "may", "june", "july", "august", "september", "october",
     "november", "december"])}
_MONTHS.update({k[:3]: v for k, v in list(_MONTHS.items())})
_MONTH_RE = r"(Jan(?:uary)?|Feb(?:ruary)?|Mar(?:ch)?|Apr(?:il)?|May|June?|July?|Aug(?:ust)?|Sep(?:t(?:ember)?)?" \
            r"|Oct(?:ober)?|Nov(?:ember)?|Dec(?:ember)?)\.?"
DATE_MDY_WORDS = re.compile(r"\b" + _MONTH_RE + r"\s+(\d{1,2})(?:st|nd|rd|th)?,?\s+(\d{4})\b", re.IGNORECASE)
DATE_DMY_WORDS = re.compile(r"\b(\d{1,2})(?:st|nd|rd|th)?\s+" + _MONTH_RE + r",?\s+(\d{4})\b", re.IGNORECASE)
DATE_ISO = re.compile(r"\b(\d{4})-(\d{2})-(\d{2})\b")
DATE_US = re.compile(r"\b(\d{1,2})/(\d{1,2})/(\d{4})\b")

# A North American number with separators: (555) 201-3344, 555-201-3344, 555.201.3344, +1 555 201 3344.
# Bare digit runs are not phones: that is what PO numbers look like.
PHONE = re.compile(
    r"(?<![\w-])(?:\+?1[\s.-])?(?:\((\d{3})\)\s?|(\d{3})[\s.-])(\d{3})[\s.-](\d{4})(?![\w-])"
)
EMAIL = re.compile(r"\b[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}\b")


@dataclass
class Entities:
    po_numbers: list[str] = field(default_factory=list)
    quote_numbers: list[str] = field(default_factory=list)
    case_numbers: list[str] = field(default_factory=list)
    part_numbers: list[str] = field(default_factory=list)
    amounts: list[float] = field(default_factory=list)
    dates: list[str] = field(default_factory=list)
    phones: list[str] = field(default_factory=list)
    emails: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, list[str] | list[float]]:
        return {k: list(v) for k, v in vars(self).items()}


def _add(seq: list[str], value: str) -> None:
    if value not in seq:
        seq.append(value)


def _money(number: str, suffix: str | None) -> float:
    value = float(number.replace(",", ""))
    if suffix:
        value *= 1_000 if suffix.lower() == "k" else 1_000_000
    return round(value, 2)


def _iso(y: int, m: int, d: int) -> str | None:
    try:
        return date(y, m, d).isoformat()
    except ValueError:
        return None


def _any(low: str, *hints: str) -> bool:
    return any(h in low for h in hints)


def extract_entities(text: str, lower: str | None = None) -> Entities:
    """`lower`: text.lower() if the caller has it. Each rule runs only if the text holds a substring
    every match of it must contain: most emails mention few entity types, and `in` is far cheaper
    than a regex scan."""
    low = text.lower() if lower is None else lower
    e = Entities()
    taken: list[tuple[int, int]] = []  # spans already claimed, so one string is one entity

    def claim(m: re.Match[str]) -> None:
        taken.append(m.span())

    def free(m: re.Match[str]) -> bool:
        s, t = m.span()
        return all(t <= a or s >= b for a, b in taken)

    if _any(low, "p.o", "po", "purchase"):
        for m in PO.finditer(text):
            _add(e.po_numbers, m.group(1))
            claim(m)
    if _any(low, "quot", "q-"):
        for m in QUOTE.finditer(text):
            _add(e.quote_numbers, (m.group(1) or m.group(2)).upper())
            claim(m)
    if _any(low, "case", "ticket", "cs-", "tkt-", "inc"):
        for m in CASE.finditer(text):
            _add(e.case_numbers, (m.group(1) or m.group(2)).upper())
            claim(m)
    if _any(low, "part", "p/n", "sku"):
        for m in PART_KEYWORD.finditer(text):
            if free(m):
                _add(e.part_numbers, m.group(1).upper())
                claim(m)
    if "-" in text:
        for m in PART_BARE.finditer(text):
            if free(m) and m.group(1).split("-")[0] not in NOT_PART_PREFIXES:
                _add(e.part_numbers, m.group(1))
    for m in AMOUNT.finditer(text) if _any(low, "$", "usd", "dollar") else ():
        if m.group(1):
            value = _money(m.group(1), m.group(2))
        else:
            value = _money(m.group(3) or m.group(4), None)
        if value not in e.amounts:
            e.amounts.append(value)
    months = _any(low, "jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec")
    for m in DATE_MDY_WORDS.finditer(text) if months else ():
        iso = _iso(int(m.group(3)), _MONTHS[m.group(1).lower()[:3]], int(m.group(2)))
        if iso:
            _add(e.dates, iso)
    for m in DATE_DMY_WORDS.finditer(text) if months else ():
        iso = _iso(int(m.group(3)), _MONTHS[m.group(2).lower()[:3]], int(m.group(1)))
        if iso:
            _add(e.dates, iso)
    for m in DATE_ISO.finditer(text) if "-" in text else ():
        iso = _iso(int(m.group(1)), int(m.group(2)), int(m.group(3)))
        if iso:
            _add(e.dates, iso)
            claim(m)
    for m in DATE_US.finditer(text) if "/" in text else ():
        iso = _iso(int(m.group(3)), int(m.group(1)), int(m.group(2)))
        if iso:
            _add(e.dates, iso)
    for m in PHONE.finditer(text):
        if free(m):
            _add(e.phones, (m.group(1) or m.group(2)) + m.group(3) + m.group(4))
    for m in EMAIL.finditer(text) if "@" in text else ():
        _add(e.emails, m.group(0).lower())
    return e

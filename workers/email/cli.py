"""`corral email analyse FILE|-`: Phase 1 of each email in a file, as JSON lines, to try the rules on your own mail.

The file (or standard input) holds JSON: one email, a list of emails, a `process-emails` job (its `emails`), or
one of those per line (JSON lines). An email is {subject, body, sender_email, received_at, headers?, id?}, as in
the job data; rows of the evaluation sets ({"email": {...}, "labels": ...}) work too. Each email is validated
like a job's; a bad one stops the run with its position and field, before anything is printed.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any, TextIO

from pydantic import ValidationError

from workers.email.locales import load_locales
from workers.email.parts import load_parts
from workers.email.rules import analyse, load_senders
from workers.email.schema import Email
from workers.email.settings import load_settings
from workers.validation import describe


class InputError(ValueError):
    pass


def _documents(text: str) -> Iterator[tuple[str, Any]]:
    """(where, JSON value): the whole text as one JSON document, else one per non-empty line."""
    try:
        yield "input", json.loads(text)
        return
    except ValueError:
        pass
    for n, line in enumerate(text.splitlines(), 1):
        if line.strip():
            try:
                yield f"line {n}", json.loads(line)
            except json.JSONDecodeError as e:
                raise InputError(f"line {n}: not JSON ({e.msg} at column {e.colno})") from None


def _emails(where: str, value: Any) -> Iterator[tuple[str, Any]]:
    if isinstance(value, list):
        for i, item in enumerate(value):
            yield from _emails(f"{where}, item {i}", item)
    elif isinstance(value, dict) and isinstance(value.get("emails"), list):
        for i, item in enumerate(value["emails"]):
            yield f"{where}, emails.{i}", item
    elif isinstance(value, dict) and isinstance(value.get("email"), dict):
        yield where, value["email"]
    else:
        yield where, value


def read_emails(text: str) -> list[Email]:
    out: list[Email] = []
    for where, doc in _documents(text):
        for place, raw in _emails(where, doc):
            if not isinstance(raw, dict):
                raise InputError(f"{place}: an email must be a JSON object, not {type(raw).__name__}")
            data = {"id": str(len(out) + 1), **raw}
            try:
                out.append(Email.model_validate(data))
            except ValidationError as e:
                raise InputError(f"{place}: {describe(e, limit=1)}") from None
    if not out:
        raise InputError("no emails in the input")
    return out


def analyse_file(text: str, out: TextIO) -> int:
    """Validate every email first, then print one JSON line per email: its id and its Phase 1 result, with the
    configuration the workers use (config/email.toml or $CORRAL_EMAIL_CONFIG). Returns how many emails were
    analysed. A bad configuration raises ValueError naming its file."""
    emails = read_emails(text)
    settings = load_settings()
    senders = load_senders(settings.catalogue("senders"))
    locales = load_locales(settings.catalogue("locales"))
    parts = load_parts(settings.catalogue("parts"))
    for email in emails:
        result = analyse(email.subject, email.body, email.sender_email, senders, received_at=email.received_at,
                         headers=email.headers, locales=locales, parts=parts).as_dict()
        result.pop("chain_analysis", None)  # a conversation's, not one email's: the job computes it
        out.write(json.dumps({"id": email.id, **result}, ensure_ascii=False) + "\n")
    return len(emails)

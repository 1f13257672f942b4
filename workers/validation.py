"""One way to say what a pydantic ValidationError found, for every place corral reports one: a job's data (its
failedReason), the configuration (one line at start), an HTTP body (400 with `field`), a command's input.

`problems()` gives (where, what) pairs, `where` the dotted path of the field ("emails.3.body", "pool.min_workers");
`describe()` joins them into one line, `field 'where': what; ...`, at most `limit` of them and "(+N more)".
"""

from __future__ import annotations

from dataclasses import dataclass

from pydantic import ValidationError


@dataclass(frozen=True)
class Problem:
    where: str  # "" for the whole value
    what: str


def problems(err: ValidationError, *, within: str = "") -> list[Problem]:
    out = []
    for e in err.errors():
        where = ".".join(str(p) for p in (within, *e["loc"]) if p != "")
        what = "unknown key" if e["type"] == "extra_forbidden" else e["msg"].removeprefix("Value error, ")
        out.append(Problem(where, what))
    return out


def describe(err: ValidationError, *, lead: str = "", within: str = "", limit: int = 5) -> str:
    found = problems(err, within=within)
    parts = [f"field '{p.where}': {p.what}" if p.where else p.what for p in found[:limit]]
    more = f" (+{len(found) - limit} more)" if len(found) > limit else ""
    text = "; ".join(parts) + more
    return f"{lead}: {text}" if lead else text


def first(err: ValidationError, *, whole: str = "(root)") -> Problem:
    """The first problem, for answers that name one field (an HTTP 400's `field`)."""
    p = problems(err)[0]
    return Problem(p.where or whole, p.what)

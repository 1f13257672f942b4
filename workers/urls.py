"""Redis URLs in messages: `redact` hides every credential a URL can carry, and keeps the rest readable.

Where a password sits: the userinfo (`redis://user:PW@host`, `rediss://:PW@host`, `unix://:PW@/path`,
`redis+sentinel://:PW@h1,h2/name`), or the query (`?password=PW`, `?sentinel_password=PW`). A password may
hold `@`, and, unencoded, even `/`, `?`, `#` or `&`, which the parsers then misread: so this does not
parse the URL the way a client would, but looks for the widest span that can be a credential and hides
all of it. Over-hiding a strange URL is fine; showing part of a password is not.
"""

from __future__ import annotations

import re
from urllib.parse import unquote

HIDDEN = "***"
_SECRET_KEY = re.compile(r"pass|pwd|secret|token", re.IGNORECASE)
_PARAM = re.compile(r"[A-Za-z_][\w.%-]*=")  # where a new query parameter starts


def redact(url: str) -> str:
    """A Redis URL without its credentials, for messages: `redis://user:***@host:6379/0?password=***`."""
    scheme, sep, rest = url.partition("://")
    if not sep:
        scheme, rest = "", url
    head = f"{scheme}://" if sep else ""
    at = _userinfo_end(rest)
    if at >= 0:
        user, colon, _ = rest[:at].partition(":")
        # "user:pw" keeps the user; a lone word may be a password (redis://PW@host), so it goes.
        userinfo = f"{user}:{HIDDEN}" if colon else HIDDEN
        return f"{head}{userinfo}@{_redact_query(rest[at + 1:])}"
    return head + _redact_query(rest)


def _userinfo_end(rest: str) -> int:
    """The '@' that ends the userinfo, or -1: the last '@' not inside the query (an '@' in a query value,
    `?ssl_ca_certs=/a@b`, follows a '?' and a '='; one in a password with a raw '?' has no '=' before it)."""
    at = rest.rfind("@")
    while at >= 0:
        before = rest[:at]
        query = before.find("?")
        if query < 0 or not any(c in before[query:] for c in "=&"):
            return at
        at = rest.rfind("@", 0, at)
    return -1


def _redact_query(rest: str) -> str:
    path, q, query = rest.partition("?")
    if not q:
        return rest
    out: list[str] = []
    secret = False
    for part in query.split("&"):
        if not _PARAM.match(part) and out:
            # No "key=": the rest of a value that held a raw '&'. Part of a secret if its value was one.
            if not secret:
                out[-1] += "&" + part
            continue
        key, eq, _ = part.partition("=")
        secret = bool(eq) and bool(_SECRET_KEY.search(unquote(key)))
        out.append(f"{key}={HIDDEN}" if secret else part)
    return f"{path}?{'&'.join(out)}"

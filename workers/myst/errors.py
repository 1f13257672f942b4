"""The lines of a build's output that say what went wrong, for `failedReason` and the FAILED status.

mystmd ends almost every run with its version table ("Update available! ...", a box of `│` lines), so the
last lines of its output say nothing; its errors are the lines marked ⛔️ or starting with `Error:`, typst's
start with `error:`, and a download that cannot happen reads `request to URL failed, reason: ...`, which is
rewritten to name the download. mystmd prints many errors twice (once per session): each is kept once.
"""

from __future__ import annotations

import re

_BOX = re.compile(r"^\s*[│╭╰╮╯─]")  # boxen's frame: the update notice
_NOISE = re.compile(r"^(building myst-cli session with API URL|To resolve this, run:|To list valid templates)")
_ERROR = re.compile(r"⛔|💥|^\s*(error|fatal)\b|\b(Error|ERR!)\b|\bfailed\b|\bProblem (with|downloading) template"
                    r"|must be installed|not found|No such file|Traceback|Cannot find", re.IGNORECASE)
_DOWNLOAD = re.compile(r"request to (\S+) failed, reason: (.+)$")
_TYPST_DOWNLOAD = re.compile(r"failed to download package \((\S+?): (.+)\)$")
MAX_LINE = 300
NO_LATEX = "LaTeX PDF exports need latexmk and TeX Live, which corral does not install: use a typst template"


def _clean(line: str) -> str:
    line = re.sub(r"\x1b\[[0-9;]*m", "", line).strip()  # colours, if a build forces them
    if m := _DOWNLOAD.search(line):
        return f"could not download {m[1]} ({m[2].strip()})"
    if m := _TYPST_DOWNLOAD.search(line):
        return f"could not download typst package {m[1]} ({m[2].strip()})"
    if re.search(r"\blatexmk: (command )?not found", line):
        return f"{line} ({NO_LATEX})"
    return line.removeprefix("⛔️").strip()


def error_lines(lines: list[str], limit: int = 8) -> list[str]:
    """The distinct error lines of a build's output, first ones first (the cause usually comes first)."""
    found: list[str] = []
    for raw in lines:
        if not raw.strip() or _BOX.match(raw) or _NOISE.match(raw.strip()) or not _ERROR.search(raw):
            continue
        line = _clean(raw)[:MAX_LINE]
        if line and line not in found:
            found.append(line)
    return found[:limit]


def last_lines(lines: list[str], count: int = 5) -> list[str]:
    """The last meaningful lines, when no line looks like an error: never the update notice."""
    kept = [_clean(x)[:MAX_LINE] for x in lines if x.strip() and not _BOX.match(x) and not _NOISE.match(x.strip())]
    return kept[-count:]


def summary(lines: list[str]) -> str:
    """One line for a reason: the error lines, else the last lines, else 'no output'."""
    return " | ".join(error_lines(lines) or last_lines(lines)) or "no output"

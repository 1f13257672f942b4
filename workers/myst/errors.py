"""The lines of a build's output that say what went wrong, for `failedReason` and the FAILED status.

mystmd ends almost every run with its version table ("Update available! ...", a box of `│` lines), so the
last lines of its output say nothing; its errors are the lines marked ⛔️ or starting with `Error:`, typst's
start with `error:`, and a download that cannot happen reads `request to URL failed, reason: ...`, which is
rewritten to name the download (likewise a plugin given by URL, and a template given as a path on the author's
computer). mystmd prints many errors twice (once per session): each is kept once.
"""

from __future__ import annotations

import re

_BOX = re.compile(r"^\s*[│╭╰╮╯─]")  # boxen's frame: the update notice
_NOISE = re.compile(r"^(building myst-cli session with API URL|To resolve this, run:|To list valid templates)")
_ERROR = re.compile(r"⛔|💥|^\s*(error|fatal)\b|\b(Error|ERR!)\b|\bfailed\b|\bProblem (with|downloading) template"
                    r"|must be installed|not found|No such file|Traceback|Cannot find", re.IGNORECASE)
_DOWNLOAD = re.compile(r"request to (\S+) failed, reason: (.+)$")
_TYPST_DOWNLOAD = re.compile(r"failed to download package \((\S+?): (.+)\)$")
# mystmd downloads a plugin given by URL quietly; when it cannot, it only says the URL is not an mjs file.
_PLUGIN = re.compile(r'Unknown plugin "(https?://[^"]+)", it must be an mjs file')
# A template given as an absolute path that does not exist (a path on the author's computer) is looked up by
# name on the template server: `.../templates//Users/x/template`.
_ABSOLUTE_TEMPLATE = re.compile(r"/templates(//[^\s\"]+)")
MAX_LINE = 300
NO_LATEX = "LaTeX PDF exports need latexmk and TeX Live, which corral does not install: use a typst template"


def _clean(line: str) -> str:
    line = _rewrite(re.sub(r"\x1b\[[0-9;]*m", "", line).strip())  # colours, if a build forces them
    if m := _ABSOLUTE_TEMPLATE.search(line):
        path = m[1][1:]
        return (f"template {path} is not in the repository (an absolute path, looked up on the template server "
                f"instead): {line}")
    return line


def _rewrite(line: str) -> str:
    if m := _DOWNLOAD.search(line):
        return f"could not download {m[1]} ({m[2].strip()})"
    if m := _TYPST_DOWNLOAD.search(line):
        return f"could not download typst package {m[1]} ({m[2].strip()})"
    if m := _PLUGIN.search(line):
        return f"could not download plugin {m[1]} (mystmd: not an mjs file it can load)"
    if re.search(r"\blatexmk: (command )?not found", line):
        return f"{line} ({NO_LATEX})"
    return line.removeprefix("⛔️").strip()


def _is_cause(line: str) -> bool:
    """A download or template that could not be had: what stops an export or the site, before what follows."""
    return line.startswith(("could not download", "template ")) or "Problem with template" in line


def error_lines(lines: list[str], limit: int = 8) -> list[str]:
    """The distinct error lines of a build's output: downloads and templates that could not be had first (a
    200-page site's content warnings must not push the cause out), then the others, each in order."""
    found: list[str] = []
    for raw in lines:
        if not raw.strip() or _BOX.match(raw) or _NOISE.match(raw.strip()) or not _ERROR.search(raw):
            continue
        line = _clean(raw)[:MAX_LINE]
        if line and line not in found:
            found.append(line)
    return sorted(found, key=lambda line: not _is_cause(line))[:limit]


def last_lines(lines: list[str], count: int = 5) -> list[str]:
    """The last meaningful lines, when no line looks like an error: never the update notice."""
    kept = [_clean(x)[:MAX_LINE] for x in lines if x.strip() and not _BOX.match(x) and not _NOISE.match(x.strip())]
    return kept[-count:]


def summary(lines: list[str]) -> str:
    """One line for a reason: the error lines, else the last lines, else 'no output'."""
    return " | ".join(error_lines(lines) or last_lines(lines)) or "no output"

"""What goes to desci-server: each export's fate, and the files of those this build wrote.

A file counts as built only when this build wrote it: the project's files are stamped (mtime, size, inode)
before the build, and a file with the same stamp after it is the repository's own (a committed PDF is never
sent as if built). Exports are those mystmd resolved (`mystmd.read_build_log`) plus those the submission
names, matched by output path, or by format when the submission gives no output.

Delivered formats: `meca` (the zip is unpacked, each file sent as `<output without .zip>/<member>`, and it must
hold a JATS article), and anything written as a PDF (`pdf`, or `typst`/`pdftex` to a .pdf), and typst sources
(`typst` to .typ or .zip), each under its output path. Other formats (jats, docx, tex, md, cff) are
`skipped`: the import does not take them (JATS goes inside the MECA). The site goes as `_build/site/config.json`,
every `_build/site/content/*.json` page, and the `_build/site/public/` files they reference.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any

from workers.myst.archive import ArchiveError, Limits, extract
from workers.myst.desci import Upload
from workers.myst.mystmd import Resolved
from workers.myst.schema import Export

DELIVERED, FAILED, SKIPPED = "delivered", "failed", "skipped"
BUILT_WITH_ERRORS = "built with errors: "  # the reason of a delivered site whose build reported errors
SITE = PurePosixPath("_build/site")
Snapshot = dict[str, tuple[int, int, int]]


@dataclass
class Fate:
    format: str
    source: str
    output: str
    status: str = DELIVERED
    reason: str = ""
    files: list[Upload] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {"format": self.format, "source": self.source, "output": self.output, "status": self.status,
                "reason": self.reason}

    def line(self) -> str:
        where = f" {self.output}" if self.output else ""
        return f"{self.format}{where}: {self.status}" + (f" ({self.reason})" if self.reason else "")


def snapshot(folder: Path) -> Snapshot:
    """Every file under `folder` with its stamp, to tell afterwards which files a build wrote."""
    stamps: Snapshot = {}
    for dirpath, _dirs, files in os.walk(folder):
        for name in files:
            p = Path(dirpath) / name
            try:
                st = p.lstat()
            except FileNotFoundError:
                continue
            stamps[p.relative_to(folder).as_posix()] = (st.st_mtime_ns, st.st_size, st.st_ino)
    return stamps


def written(project: Path, relative: str, before: Snapshot) -> bool:
    """True for a regular file inside the project (no link out of it) that the build created or rewrote."""
    p = project / relative
    try:
        st = p.lstat()
    except (FileNotFoundError, NotADirectoryError):
        return False
    inside = p.resolve().is_relative_to(project.resolve())
    return inside and p.is_file() and not p.is_symlink() and before.get(relative) != (st.st_mtime_ns, st.st_size,
                                                                                       st.st_ino)


# -- which exports ----------------------------------------------------------------------------------------


def family(fmt: str, output: str) -> str:
    """What an export delivers: 'meca', 'pdf', 'typst' (source), or its format when not delivered."""
    fmt = fmt.lower()
    suffix = PurePosixPath(output).suffix.lower()
    if fmt == "meca":
        return "meca"
    if fmt in ("jats", "xml"):
        return "jats"
    if suffix == ".pdf" or fmt == "pdf" or (fmt == "typst" and not output):  # mystmd's typst default is a PDF
        return "pdf"
    if fmt == "typst":
        return "typst"
    return fmt


DELIVERED_FAMILIES = ("meca", "pdf", "typst")


def _normal(output: str) -> str:
    return PurePosixPath(output.replace("\\", "/")).as_posix()


def match_requested(resolved: list[Resolved], requested: list[Export]) -> list[Export]:
    """The submission's exports that mystmd did not resolve: by output path, or by kind without an output."""
    taken: set[int] = set()
    missing = []
    for want in requested:
        fam = family(want.format, want.output or "")
        hit = next((i for i, r in enumerate(resolved) if i not in taken and want.output
                    and _normal(want.output) == r.output), None)
        if hit is None and not want.output:
            hit = next((i for i, r in enumerate(resolved) if i not in taken and family(r.format, r.output) == fam),
                       None)
        if hit is None:
            missing.append(want)
        else:
            taken.add(hit)
    return missing


def attributed(errors: list[str], output: str, fmt: str, template: str = "") -> str:
    """The error lines about this export (its output, its template, its template kind), else all of them."""
    name = PurePosixPath(output).name
    kind = {"pdf": "tex", "pdftex": "tex"}.get(fmt, fmt)
    mine = [e for e in errors if (output and output in e) or (name and re.search(rf"\b{re.escape(name)}\b", e))
            or f"/templates/{kind}/" in e or (template and template in e)]
    return " | ".join(mine or errors) or "mystmd reported no error"


def stale_outputs(project: Path, resolved: list[Resolved], before: Snapshot) -> list[str]:
    """Outputs of exports (other than MECA) that the repository holds and this build did not write: a PDF the
    author committed whose build failed here. mystmd puts whatever is at an export's output into the MECA as
    its manuscript, so a MECA made while they are there carries the repository's copy as if built."""
    return sorted({r.output for r in resolved if r.format != "meca" and r.output in before
                   and (project / r.output).is_file() and not written(project, r.output, before)})


# -- judging ---------------------------------------------------------------------------------------------


def judge(project: Path, resolved: list[Resolved], requested: list[Export], before: Snapshot, errors: list[str],
          unpack_dir: Path, limits: Limits) -> list[Fate]:
    """Each export's fate: mystmd's, then the submission's that mystmd did not resolve (judged by their output
    path when they have one: a pixi task or a custom command may build what no mystmd log lists)."""
    extra = match_requested(resolved, requested)
    candidates = resolved + [Resolved(w.format, "submission", _normal(w.output)) for w in extra if w.output]
    stale = [project / s for s in stale_outputs(project, candidates, before)]
    fates = [_judge_one(project, c, before, errors, unpack_dir / str(i), limits, stale)
             for i, c in enumerate(candidates)]
    for want in (w for w in extra if not w.output):
        fate = Fate(want.format, "submission", "")
        if family(want.format, "") in DELIVERED_FAMILIES:
            fate.status, fate.reason = FAILED, ("requested, but mystmd resolved no such export from the project: "
                                                + (" | ".join(errors) or "no error reported"))
        else:
            fate.status, fate.reason = SKIPPED, f"{want.format} is not delivered to desci-server"
        fates.append(fate)
    return fates


def _judge_one(project: Path, r: Resolved, before: Snapshot, errors: list[str], unpack: Path,
               limits: Limits, stale: list[Path]) -> Fate:
    fate = Fate(r.format, r.source, r.output)
    fam = family(r.format, r.output)
    if fam not in DELIVERED_FAMILIES:
        fate.status = SKIPPED
        fate.reason = ("JATS is delivered inside the MECA" if fam == "jats"
                       else f"{r.format} is not delivered to desci-server")
        return fate
    fate.status = FAILED
    if r.output.startswith("../") or PurePosixPath(r.output).is_absolute():
        fate.reason = "its output is outside the project folder"
    elif not written(project, r.output, before):
        committed = r.output in before and (project / r.output).is_file()
        fate.reason = (("not built (the repository's own copy was not sent): " if committed else "not built: ")
                       + attributed(errors, r.output, r.format, r.template))
    elif fam == "meca":
        _unpack_meca(project / r.output, r.output, unpack, limits, fate, stale)
    else:
        fate.status, fate.files = DELIVERED, [Upload(project / r.output, r.output)]
    return fate


def _unpack_meca(path: Path, output: str, target: Path, limits: Limits, fate: Fate, stale: list[Path]) -> None:
    try:
        extract(path, target, limits, links=False)  # a MECA is files: a link in it is left out
    except ArchiveError as e:
        fate.reason = f"the built MECA archive: {e}"
        return
    members = sorted(p for p in target.rglob("*") if p.is_file())
    names = {p.relative_to(target).as_posix() for p in members}
    # mystmd zips a MECA even when parts of it failed ("Error copying file"): one without its JATS article is
    # not the article desci-server imports.
    if not any(n.endswith(".xml") and "/" not in n and n != "manifest.xml" for n in names):
        fate.reason = "the MECA holds no JATS article (its JATS export was not built)"
        return
    copies = [p.name for p in members if p.parent == target and any(_same(p, s) for s in stale)]
    if copies:  # the default build makes the MECA again without them; a pixi task or a command may not
        fate.reason = (f"the MECA bundles the repository's own {', '.join(copies)} (exports this build did not "
                       "make) as if built")
        return
    prefix = output.removesuffix(".zip")
    fate.status = DELIVERED
    fate.files = [Upload(p, f"{prefix}/{p.relative_to(target).as_posix()}") for p in members]


def _same(a: Path, b: Path) -> bool:
    return a.stat().st_size == b.stat().st_size and a.read_bytes() == b.read_bytes()


def judge_site(project: Path, before: Snapshot, errors: list[str]) -> Fate:
    """The site content this build wrote: config.json, every page, the public files they reference. A site
    delivered although its build reported errors carries them in its reason."""
    fate = Fate("site", "myst.yml", SITE.as_posix(), FAILED)
    config = (SITE / "config.json").as_posix()
    pages = sorted(p.relative_to(project).as_posix() for p in (project / SITE / "content").rglob("*.json"))
    pages = [p for p in pages if written(project, p, before)]
    if not written(project, config, before) or not pages:
        fate.reason = "the site build wrote no content: " + (" | ".join(errors) or "no error reported")
        return fate
    text = "\n".join((project / p).read_text(errors="replace") for p in [config, *pages])
    public = project / SITE / "public"
    assets = sorted(p.relative_to(project).as_posix() for p in public.rglob("*") if p.is_file()
                    and p.name in text) if public.is_dir() else []
    fate.status = DELIVERED
    fate.files = [Upload(project / p, p) for p in [config, *pages, *assets] if written(project, p, before)]
    if errors:  # delivered, but not as the project meant it (a plugin not downloaded, a missing page): say so
        fate.reason = BUILT_WITH_ERRORS + " | ".join(errors)
    return fate

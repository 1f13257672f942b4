"""Which built files go to desci-server: the exports that `parsedDocument` names and that were built.

pdf and typst outputs go as they are; the MECA zip is unpacked (with the same limits as the repository
archive: it holds the submitter's files) and each of its files goes as `exports/manuscript.meca/...`;
the site build's `_build/site/content/index.json` goes when present. Exports not built are skipped and listed.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from workers.myst.archive import Limits, extract
from workers.myst.desci import Upload
from workers.myst.schema import Export

SITE_INDEX = "_build/site/content/index.json"
FILE_FORMATS = ("pdf", "typst")


@dataclass
class Collected:
    files: list[Upload] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)

    @property
    def total_bytes(self) -> int:
        return sum(f.path.stat().st_size for f in self.files)


def _inside(project: Path, relative: str) -> Path | None:
    path = (project / relative).resolve()  # resolve(): a symlink out of the project is refused, not followed
    return path if path.is_relative_to(project.resolve()) else None


def collect(project: Path, exports: list[Export], unpack_dir: Path, limits: Limits) -> Collected:
    out = Collected()
    for export in exports:
        fmt = export.format.lower()
        if fmt not in (*FILE_FORMATS, "meca"):
            continue  # jats, docx, tex...: not part of the import
        if not export.output:
            out.skipped.append(f"{fmt}: no output path in myst.yml")
            continue
        path = _inside(project, export.output)
        if path is None:
            out.skipped.append(f"{fmt}: {export.output} is outside the project")
        elif not path.is_file():
            out.skipped.append(f"{fmt}: {export.output} was not built")
        elif fmt == "meca":
            target = unpack_dir / "meca"
            extract(path, target, limits)
            prefix = export.output.removesuffix(".zip")
            out.files += [Upload(p, f"{prefix}/{p.relative_to(target).as_posix()}")
                          for p in sorted(target.rglob("*")) if p.is_file()]
        else:
            out.files.append(Upload(path, export.output))
    index = _inside(project, SITE_INDEX)
    if index is not None and index.is_file():
        out.files.append(Upload(index, SITE_INDEX))
    else:
        out.skipped.append(f"site: {SITE_INDEX} was not built")
    return out

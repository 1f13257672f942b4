"""How a project is built, and what mystmd says it built.

The default build (`build_command = ""`) is chosen by `plan_build`, a pure function of what the repository
holds and what is installed: the repository's own pixi task when its manifest defines it and pixi is installed
(the original service's `pixi run build-meca`), otherwise mystmd directly, in two runs:

1. `myst build --pdf --tex --typst --docx --xml --md --meca --cff`: every export the project declares, in
   `myst.yml` (with what it `extends:`) or in a page's frontmatter. mystmd builds each on its own (one that
   fails does not stop the others, and it builds MECA last, with the others in it), and
2. `myst build --site`: the site content, in its own run, so that a site theme that cannot be had does not
   take the exports with it (`myst build --all` does both in one run and writes its log only at the end).

A pixi task or a custom command may run mystmd several times: corral reads the log of its last run, and judges
the submission's exports by their output paths (docs/myst.md).

Which exports the project has, and where mystmd writes each (its default `_build/exports/...` names when the
export has no `output`), comes from mystmd itself: every `myst build` writes the exports it resolved, with
absolute output paths, to `_build/logs/myst.build.json`.
"""

from __future__ import annotations

import json
import os
import shutil
import sys
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

EXPORT_FLAGS = ("--pdf", "--tex", "--typst", "--docx", "--xml", "--md", "--meca", "--cff")
BUILD_LOG = Path("_build") / "logs" / "myst.build.json"


@dataclass(frozen=True)
class Plan:
    kind: str  # "pixi" (the repository's task), "mystmd" (corral's two runs) or "command" (the operator's)
    commands: list[str | list[str]]
    why: str
    meca: tuple[str, ...] = ()  # mystmd: the MECA alone, made again without stale outputs (processor._build)


def myst_argv(configured: str) -> list[str]:
    """The mystmd command: configured, else the `myst` beside corral's Python (PyPI mystmd), else PATH's."""
    if configured:
        return configured.split()
    beside = Path(sys.executable).parent / "myst"
    return [str(beside)] if beside.exists() else ["myst"]


def pixi_tasks(manifest: Path) -> set[str]:
    """Task names a pixi manifest (pixi.toml, or pyproject.toml's [tool.pixi]) defines; none if unreadable."""
    try:
        data = tomllib.loads(manifest.read_text(errors="replace"))
    except (OSError, tomllib.TOMLDecodeError):
        return set()
    if manifest.name == "pyproject.toml":
        data = data.get("tool", {}).get("pixi", {})
    tasks = set(data.get("tasks", {}) if isinstance(data.get("tasks"), dict) else {})
    for feature in (data.get("feature") or {}).values():
        if isinstance(feature, dict) and isinstance(feature.get("tasks"), dict):
            tasks |= set(feature["tasks"])
    return tasks


def manifests(project: Path, repo_top: Path) -> list[Path]:
    """pixi's manifests from the project folder up to the repository's top, nearest first (pixi's own order)."""
    found = []
    folder = project
    while True:
        found += [folder / name for name in ("pixi.toml", "pyproject.toml") if (folder / name).is_file()]
        if folder == repo_top or folder.parent == folder:
            return found
        folder = folder.parent


def plan_build(command: str, task: str, tasks_found: set[str], pixi: str | None, myst: list[str]) -> Plan:
    """Pure: what to run, from the configured command, the repository's pixi tasks and the tools installed."""
    if command:
        return Plan("command", [command], "the configured build_command")
    if task in tasks_found and pixi:
        return Plan("pixi", [[pixi, "run", task]], f"the repository's pixi task {task!r}")
    why = (f"pixi is not installed (the repository has a {task!r} task)" if task in tasks_found
           else f"the repository has no pixi task {task!r}")
    return Plan("mystmd", [[*myst, "build", *EXPORT_FLAGS], [*myst, "build", "--site"]], f"mystmd directly: {why}",
                (*myst, "build", "--meca"))


def default_plan(command: str, task: str, project: Path, repo_top: Path, myst_command: str) -> Plan:
    tasks: set[str] = set()
    for manifest in manifests(project, repo_top):
        tasks |= pixi_tasks(manifest)
    return plan_build(command, task, tasks, shutil.which("pixi"), myst_argv(myst_command))


@dataclass(frozen=True)
class Resolved:
    """One export as mystmd resolved it. Paths are relative to the project folder ('../x' when outside)."""

    format: str  # mystmd's name: pdf, pdftex, tex, typst, docx, xml, md, meca, cff
    source: str  # the file that declares it: myst.yml or a page
    output: str
    template: str = ""  # as the project names it: a name, a URL or a path (mystmd's errors quote it)


def _relative(path: str, project: Path) -> str:
    root = project.resolve()
    return Path(os.path.relpath((root / path).resolve(), root)).as_posix()  # '../x' when outside: refused later


def read_build_log(project: Path) -> list[Resolved] | None:
    """The exports of the last `myst build` run in `project`, or None when there is no log to read."""
    log = project / BUILD_LOG
    try:
        data: Any = json.loads(log.read_text())
    except (OSError, ValueError):
        return None
    out = []
    for e in data.get("exports") or [] if isinstance(data, dict) else []:
        if isinstance(e, dict) and isinstance(e.get("format"), str) and isinstance(e.get("output"), str):
            template = str(e["template"]) if isinstance(e.get("template"), str) else ""
            out.append(Resolved(e["format"], _relative(str(e.get("$file") or "myst.yml"), project),
                                _relative(e["output"], project), template))
    return out

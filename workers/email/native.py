"""Phase 1's hot modules compiled to C by mypyc, and the guard that keeps a stale build from running.

Why: Phase 1 is Python code between two native engines (hyperscan, `re`), and the interpreter's own work was
about two thirds of an email's time. mypyc (part of mypy, pinned in pyproject.toml) compiles the typed modules
below, unchanged, into C extensions: `scripts/bench_phase1.py --seconds 3`, the two forms in turn under farm-bench,
gave 1.35 x on the generated corpus (about 5,500 emails/s against 4,100) and 1.18 x on real-length mail (dev.jsonl
about 2,750 against 2,350): docs/email.md, Speed, has the commands and every figure.
scripts/bootstrap.sh builds them (`python scripts/build_native.py`) when their sources changed; without a C
compiler the build fails with a message and the same modules run as Python: the same results, slower.

The build writes native.json beside them: the SHA-256 of each compiled module's source. When the package is
imported (workers/email/__init__.py) and a compiled module is there but a source has changed since (an edit, a git
checkout), every module of the group is imported from its source instead, with a warning, so an edit always takes
effect; all of them, because the compiled modules call each other's C functions directly. CORRAL_PURE_PYTHON=1
does the same without a warning (to compare, or to debug with Python frames).
"""

from __future__ import annotations

import hashlib
import importlib.machinery
import importlib.util
import json
import os
import sys
import warnings
from collections.abc import Sequence
from importlib.machinery import ModuleSpec
from pathlib import Path
from types import ModuleType

PACKAGE = "workers.email"
# Importers before what they import: the order mypyc is given them in does not matter, the list's does not either.
MODULES = ("scan", "language", "segment", "workflow_model", "entities", "rules")
GROUP = "native"  # the group's shared library: workers/email/native__mypyc.<suffix>
HERE = Path(__file__).resolve().parent
STAMP = HERE / "native.json"


def digests() -> dict[str, str]:
    """Each compiled module's source's SHA-256: what native.json records at a build."""
    return {name: hashlib.sha256((HERE / f"{name}.py").read_bytes()).hexdigest() for name in MODULES}


def built_files() -> list[Path]:
    """The compiled modules and their group library present for this interpreter (its extension suffixes)."""
    out: list[Path] = []
    for name in (*MODULES, f"{GROUP}__mypyc"):
        out += [HERE / f"{name}{suffix}" for suffix in importlib.machinery.EXTENSION_SUFFIXES
                if (HERE / f"{name}{suffix}").exists()]
    return out


def stale() -> bool:
    """A compiled module is present but the sources are not the ones it was built from."""
    recorded: object
    try:
        recorded = json.loads(STAMP.read_text(encoding="utf-8"))["sources"]
    except (OSError, ValueError, KeyError, TypeError):
        recorded = None
    return recorded != digests() or len(built_files()) <= len(MODULES)


class _Sources:
    """A meta path finder that imports the group's modules from their .py files, ahead of the compiled ones."""

    def __init__(self, why: str) -> None:
        self.why = why

    def find_spec(self, fullname: str, path: Sequence[str] | None,
                  target: ModuleType | None = None) -> ModuleSpec | None:
        package, _, name = fullname.rpartition(".")
        if package != PACKAGE or name not in MODULES:
            return None
        return importlib.util.spec_from_file_location(fullname, HERE / f"{name}.py")


def _finder() -> _Sources | None:
    return next((f for f in sys.meta_path if isinstance(f, _Sources)), None)


def state() -> str:
    """How Phase 1's modules run in this process: "compiled", or "python (why)"."""
    finder = _finder()
    if finder is not None:
        return f"python ({finder.why})"
    return "compiled" if built_files() else "python (not built: python scripts/build_native.py)"


def guard() -> None:
    """Run the sources when the build is stale or CORRAL_PURE_PYTHON=1 asks for them (before any is imported)."""
    if _finder() is not None or not built_files():
        return
    if os.environ.get("CORRAL_PURE_PYTHON") == "1":
        sys.meta_path.insert(0, _Sources("CORRAL_PURE_PYTHON=1"))
    elif stale():
        warnings.warn(f"{HERE}: the compiled Phase 1 modules are older than their sources; running the sources "
                      f"(python scripts/build_native.py rebuilds them)", RuntimeWarning, stacklevel=2)
        sys.meta_path.insert(0, _Sources("sources changed since the build: python scripts/build_native.py"))

#!/usr/bin/env python3
"""Compile Phase 1's hot modules (workers/email/native.py: MODULES) with mypyc, in place, and record their sources.

    python scripts/build_native.py            # build when a source changed since the last build (or none was made)
    python scripts/build_native.py --force    # build anyway
    python scripts/build_native.py --clean    # remove the compiled modules: Phase 1 runs from its sources

scripts/bootstrap.sh runs the first form. It needs a C compiler and Python's headers (Debian: gcc, python3-dev);
about 30 s on a 2-vCPU machine. The C sources and objects go to a temporary directory; the extensions
(workers/email/<module>.<suffix> and the group's workers/email/native__mypyc.<suffix>) and workers/email/native.json
(the SHA-256 of each source built) stay, and are not committed (.gitignore).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import sysconfig
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ["CORRAL_PURE_PYTHON"] = "1"  # this process imports the sources, never a build it may replace

from workers.email import native  # noqa: E402


def clean() -> None:
    for path in native.built_files():
        path.unlink()
    native.STAMP.unlink(missing_ok=True)


def build() -> None:
    headers = Path(sysconfig.get_paths()["include"]) / "Python.h"
    if not headers.exists():
        raise SystemExit(f"build_native: {headers} is missing: install Python's headers (Debian: python3-dev)")
    from mypyc.build import mypycify  # the build's own dependencies, imported only to build
    from setuptools import setup

    sources = native.digests()  # before the build: an edit during it makes the result stale, not trusted
    paths = [str((native.HERE / f"{name}.py").relative_to(ROOT)) for name in native.MODULES]
    clean()
    os.chdir(ROOT)
    with tempfile.TemporaryDirectory(prefix="corral-native-") as tmp:
        extensions = mypycify(paths, opt_level="3", target_dir=tmp, group_name=f"{native.PACKAGE}.{native.GROUP}")
        setup(name="corral-native", ext_modules=extensions,
              script_args=["-q", "build_ext", "--inplace", "--build-temp", tmp, "--build-lib", tmp])
    native.STAMP.write_text(json.dumps({"mypyc": "mypy " + _mypy_version(), "sources": sources}, indent=1) + "\n",
                            encoding="utf-8")


def _mypy_version() -> str:
    from mypy.version import __version__
    return str(__version__)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--force", action="store_true", help="build even when the build is up to date")
    ap.add_argument("--clean", action="store_true", help="remove the compiled modules")
    args = ap.parse_args()
    if args.clean:
        clean()
        print("build_native: removed the compiled modules; Phase 1 runs from its sources")
        return 0
    if not args.force and native.built_files() and not native.stale():
        print("build_native: the compiled modules are up to date")
        return 0
    build()
    print(f"build_native: compiled {', '.join(native.MODULES)} ({len(native.built_files())} files in {native.HERE})")
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""`typst compile` and `typst --version` for mystmd, served by the `typst` Python package (PyPI `typst`).

mystmd renders a typst export to PDF by running `typst compile "FILE.typ"` (and needs `typst` on PATH for it).
No registry here has typst's own command-line program, but PyPI's `typst` embeds the same compiler; the MYST
job puts `workers/myst/shim/` (a `typst` that runs this file) first on the build's PATH when no `typst` is
installed. Only what mystmd calls is implemented: `compile INPUT [OUTPUT] [--root DIR]` and `--version`.
Packages (`#import "@preview/..."`) are downloaded and kept in $TYPST_PACKAGE_CACHE_PATH, as typst's own CLI does.
"""

from __future__ import annotations

import argparse
import os
import sys
from importlib.metadata import version


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if args[:1] in (["--version"], ["-V"]):
        print(f"typst {version('typst')} (the typst Python package)")
        return 0
    parser = argparse.ArgumentParser(prog="typst", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    comp = sub.add_parser("compile", aliases=["c"])
    comp.add_argument("input")
    comp.add_argument("output", nargs="?")
    comp.add_argument("--root")
    ns = parser.parse_args(args)
    import typst  # here: `--version` and argument errors stay fast

    output = ns.output or os.path.splitext(ns.input)[0] + ".pdf"
    try:
        typst.compile(ns.input, output=output, root=ns.root,
                      package_cache_path=os.environ.get("TYPST_PACKAGE_CACHE_PATH") or None)
    except typst.TypstError as e:
        print(e.diagnostic or e.message, file=sys.stderr)
        return 1
    except (OSError, RuntimeError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())

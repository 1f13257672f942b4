#!/usr/bin/env python3
"""Score Phase 1 of the email analysis against a labelled set.

    python scripts/eval_email.py data/email_eval/dev.jsonl [--json] [--misses]
    python scripts/eval_email.py data/email_corpus.jsonl

Prints precision and recall per entity type, workflow-state accuracy, priority exact and within one level, and
auto-reply accuracy (the last three where the set labels them). `--misses` lists each email's differences
(expected vs found): for tuning on a development set, never on a held-out one.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from workers.email.evaluation import evaluate, load_rows  # noqa: E402


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("file", help="JSON lines: {email, labels} per line")
    ap.add_argument("--json", action="store_true", help="the figures as one JSON object")
    ap.add_argument("--misses", action="store_true", help="list every difference (development sets only)")
    args = ap.parse_args()
    try:
        rows = load_rows(args.file)
    except (OSError, ValueError) as e:
        print(f"eval_email: {e}", file=sys.stderr)
        return 2
    report = evaluate(rows)
    if args.json:
        print(json.dumps(report.as_dict(), indent=2))
    else:
        print(f"{args.file}: " + "\n".join(report.lines()))
    if args.misses:
        for m in report.misses:
            print(f"  {m.email_id:24} {m.what:16} expected {m.expected}  got {m.got}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

#!/usr/bin/env python3
"""Phase 1 (rules only) throughput on one core, over the sample corpus: a benchmark, not a test.

    python scripts/bench_phase1.py [--seconds 5]

Prints emails per second for `analyse()` (entities, workflow, urgency, patterns, sender category).
The goal in the email issue is at least 5,000 emails/s on one core.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from workers.email.rules import analyse, load_senders  # noqa: E402


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--seconds", type=float, default=5.0)
    args = ap.parse_args()
    emails = [json.loads(line)["email"] for line in (ROOT / "data" / "email_corpus.jsonl").read_text().splitlines()]
    senders = load_senders()
    for e in emails[:50]:  # warm up regex caches
        analyse(e["subject"], e["body"], e["sender_email"], senders)
    done = 0
    chars = 0
    start = time.perf_counter()
    while time.perf_counter() - start < args.seconds:
        for e in emails:
            analyse(e["subject"], e["body"], e["sender_email"], senders)
            chars += len(e["body"])
        done += len(emails)
    elapsed = time.perf_counter() - start
    print(f"phase 1: {done} emails in {elapsed:.2f}s = {done / elapsed:,.0f} emails/s on one core "
          f"(mean body {chars / done:.0f} chars; goal 5,000/s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())

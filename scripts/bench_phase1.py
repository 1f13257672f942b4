#!/usr/bin/env python3
"""Phase 1 (rules only) throughput on one core, over labelled corpora: a benchmark, not a test.

    python scripts/bench_phase1.py [--seconds 5] [--profile N] [FILE ...]

Prints emails per second for `analyse()` (segmentation, entities, workflow, urgency, auto-reply, patterns,
sender category) on each corpus: by default the generated one (data/email_corpus.jsonl) and the development
parts of the evaluation set (data/email_eval/dev.jsonl and dev2.jsonl, realistic business mail: quoted chains,
signatures, footers, tables). The goal in the email issue is at least 5,000 emails/s on one core on each.

The rate is of CPU time (time.process_time): the machine's other work does not count against it. What Phase 1
remembers across emails (phone numbers read, senders' locales) is forgotten before each pass over a corpus, so
a pass reads it as new mail; the process's one-time setup (compiling the probe databases) is not counted.
It first prints how Phase 1's modules run: compiled by mypyc (scripts/build_native.py, what bootstrap.sh builds)
or from their Python sources (not built, or CORRAL_PURE_PYTHON=1 to measure them).

--once N: instead of a rate, the first N emails of each corpus analysed once after the warm-up, inside
itertools.starmap (which Phase 1 never calls), for a count of instructions that does not drift with the machine:
`valgrind --tool=callgrind --collect-atstart=no --toggle-collect=starmap_next python scripts/bench_phase1.py
--once 80 FILE` (add `--cache-sim=yes --LL=1048576,16,64` for the misses of a 1 MB cache).

--profile N: after each rate, the N functions with the most time of their own in five more passes under cProfile
(which slows Python code more than native code: shares to compare, not the rate; `py-spy record --native` over
this script gives truer ones).
"""

from __future__ import annotations

import argparse
import cProfile
import itertools
import json
import pstats
import sys
import time
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from workers.email import native  # noqa: E402
from workers.email.locales import load_locales  # noqa: E402
from workers.email.parts import load_parts  # noqa: E402
from workers.email.rules import analyse, clear_caches, load_senders  # noqa: E402

Email = tuple[str, str, str, datetime, dict[str, str] | None]  # analyse()'s arguments

DEFAULT = [ROOT / "data" / "email_corpus.jsonl", ROOT / "data" / "email_eval" / "dev.jsonl",
           ROOT / "data" / "email_eval" / "dev2.jsonl"]


def prepared(path: Path) -> list[Email]:
    """The arguments the processor passes, decoded once (validation is the job schema's, not Phase 1's)."""
    out = []
    for line in path.read_text(encoding="utf-8").splitlines():
        e: dict[str, Any] = json.loads(line)["email"]
        out.append((e.get("subject", ""), e["body"], e["sender_email"],
                    datetime.fromisoformat(e["received_at"].replace("Z", "+00:00")), e.get("headers")))
    return out


def warmed(emails: list[Email]) -> tuple[Callable[[Email], object], Callable[[], None]]:
    """Phase 1 as the processor calls it, warmed up (regex caches, probe databases) on the first 50 emails: the
    function that analyses one email, and the one that forgets what Phase 1 remembers across emails."""
    senders, locales, parts = load_senders(), load_locales(), load_parts()

    def one(email: Email) -> object:
        subject, body, sender, when, headers = email
        return analyse(subject, body, sender, senders, received_at=when, headers=headers, locales=locales, parts=parts)
    for email in emails[:50]:
        one(email)
    return one, lambda: clear_caches(locales)


def rate(emails: list[Email], seconds: float) -> tuple[float, float]:
    one, forget = warmed(emails)
    done = 0
    start = time.process_time()
    while time.process_time() - start < seconds:
        forget()  # each pass reads the corpus as new mail
        for email in emails:
            one(email)
        done += len(emails)
    return done / (time.process_time() - start), sum(len(e[1]) for e in emails) / len(emails)


def once(emails: list[Email], n: int) -> int:
    one, forget = warmed(emails)
    forget()
    return len(list(itertools.starmap(one, ((e,) for e in emails[:n]))))


def profile(emails: list[Email], top: int) -> None:
    one, forget = warmed(emails)
    profiler = cProfile.Profile()
    for _ in range(5):
        forget()
        profiler.enable()
        for email in emails:
            one(email)
        profiler.disable()
    pstats.Stats(profiler, stream=sys.stdout).sort_stats("tottime").print_stats(top)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--seconds", type=float, default=5.0, help="per corpus")
    ap.add_argument("--profile", type=int, default=0, metavar="N",
                    help="after each rate, the N functions with the most own time under cProfile")
    ap.add_argument("--once", type=int, default=0, metavar="N",
                    help="analyse the first N emails of each corpus once (for valgrind), print no rate")
    ap.add_argument("files", nargs="*", type=Path)
    args = ap.parse_args()
    files = args.files or [p for p in DEFAULT if p.exists()]
    print(f"phase 1's modules: {native.state()}")
    worst = float("inf")
    for path in files:
        emails = prepared(path)
        if args.once > 0:
            print(f"phase 1 on {path.name}: {once(emails, args.once)} emails analysed once")
            continue
        per_second, mean_chars = rate(emails, args.seconds)
        worst = min(worst, per_second)
        print(f"phase 1 on {path.relative_to(ROOT) if path.is_relative_to(ROOT) else path}: "
              f"{per_second:,.0f} emails/s on one core (mean body {mean_chars:,.0f} chars; goal 5,000/s)")
        if args.profile > 0:
            profile(emails, args.profile)
    return 0 if args.once > 0 or worst >= 5000 else 1


if __name__ == "__main__":
    sys.exit(main())

#!/usr/bin/env python3
"""Phase 1's full output on the tuning sets, to check that a change for speed changes no result.

    python scripts/phase1_snapshot.py --write BEFORE.jsonl     # on the code before the change
    python scripts/phase1_snapshot.py --check BEFORE.jsonl     # after it: exit 1 and the first differences

Every field of `analyse()`'s result for every email of the generated corpus and every development part of the
evaluation set (data/email_eval/dev*.jsonl; never the held-out part), each read twice: with what
Phase 1 remembers across emails forgotten first, then remembered (the two must agree). Also the same emails in
variants the sets do not hold (the body upper-cased, the sender at other domains, the body cut in half), so a
shortcut that happens to fit the sets' mail is caught too.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from workers.email.locales import load_locales  # noqa: E402
from workers.email.parts import load_parts  # noqa: E402
from workers.email.rules import analyse, clear_caches, load_senders  # noqa: E402

SETS = [ROOT / "data" / "email_corpus.jsonl",
        *sorted((ROOT / "data" / "email_eval").glob("dev*.jsonl"), key=lambda p: int(p.stem[3:] or 1))]
# Senders whose locales read dates, numbers and phones differently from the sets' own.
OTHER_SENDERS = ("einkauf@example.de", "buyer@gmail.com", "kobai@example.co.jp", "ops@example.com.au")


def _cases() -> Iterator[tuple[str, dict[str, Any]]]:
    """(key, email) for each email of the sets, then each variant of it."""
    for path in SETS:
        emails = [json.loads(line)["email"] for line in path.read_text(encoding="utf-8").splitlines()]
        for e in emails:
            yield f"{path.name}:{e['id']}", e
        for e in emails:
            body = e["body"]
            yield f"{path.name}:{e['id']}:upper", {**e, "subject": e.get("subject", "").upper(), "body": body.upper()}
            yield f"{path.name}:{e['id']}:half", {**e, "body": body[:len(body) // 2]}
            for sender in OTHER_SENDERS:
                yield f"{path.name}:{e['id']}:{sender}", {**e, "sender_email": sender}


def _result(e: dict[str, Any]) -> dict[str, Any]:
    when = datetime.fromisoformat(e["received_at"].replace("Z", "+00:00"))
    result = analyse(e.get("subject", ""), e["body"], e["sender_email"], load_senders(), received_at=when,
                     headers=e.get("headers"), locales=load_locales(), parts=load_parts())
    return result.as_dict()


def snapshot() -> dict[str, dict[str, Any]]:
    cases = list(_cases())
    clear_caches(load_locales())
    cold = {key: _result(e) for key, e in cases}
    warm = {key: _result(e) for key, e in cases}  # now with phones, locales and names remembered
    differ = [key for key in cold if cold[key] != warm[key]]
    if differ:
        raise SystemExit(f"results differ with what Phase 1 remembers: {differ[:5]}")
    return cold


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    mode = ap.add_mutually_exclusive_group(required=True)
    mode.add_argument("--write", type=Path, help="write the snapshot here")
    mode.add_argument("--check", type=Path, help="compare with this snapshot")
    args = ap.parse_args()
    now = snapshot()
    if args.write:
        args.write.write_text("".join(json.dumps({"key": k, "result": v}, sort_keys=True, ensure_ascii=False) + "\n"
                                      for k, v in now.items()), encoding="utf-8")
        print(f"{len(now)} results written to {args.write}")
        return 0
    before = {}
    for line in args.check.read_text(encoding="utf-8").splitlines():
        row = json.loads(line)
        before[row["key"]] = row["result"]
    # Through JSON, as written: a float or tuple compares as it was stored.
    now_json = {k: json.loads(json.dumps(v, sort_keys=True, ensure_ascii=False)) for k, v in now.items()}
    missing = sorted(set(before) ^ set(now_json))
    differ = [k for k in before if k in now_json and before[k] != now_json[k]]
    for k in differ[:10]:
        fields = [f for f in before[k] if before[k][f] != now_json[k].get(f)]
        for f in fields:
            print(f"{k} {f}:\n  before {before[k][f]!r}\n  now    {now_json[k].get(f)!r}")
    if missing:
        print(f"emails in one snapshot only: {missing[:10]}")
    print(f"{len(now_json)} results, {len(differ)} differ, {len(missing)} missing")
    return 1 if differ or missing else 0


if __name__ == "__main__":
    sys.exit(main())

"""Failed attempts reported by the workers (their heartbeats carry each worker's latest), grouped by reason for
operators: the final failures (jobs that ended failed) and the attempts that will be retried, each reason with its
count, when it last happened, on which queue and an example job. The dashboard, `corral status` and `corral watch`
show them; without them a pool that fails every job for one cause ("Ollama unreachable") does not say why."""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field
from typing import Any

from workers.failures import reason_group
from workers.protocol import FailureNote

MAX_REASONS = 50  # distinct reasons kept per kind; the least recent go first
SHOWN = 10


@dataclass
class Reason:
    reason: str  # the first seen text of this group
    count: int = 0
    last_at: float = 0.0
    queue: str = ""
    job_id: str = ""

    def as_dict(self) -> dict[str, Any]:
        return {"reason": self.reason, "count": self.count, "lastAt": round(self.last_at, 3), "queue": self.queue,
                "jobId": self.job_id}


@dataclass
class Failures:
    final: dict[str, Reason] = field(default_factory=dict)
    retried: dict[str, Reason] = field(default_factory=dict)
    recent: deque[FailureNote] = field(default_factory=lambda: deque(maxlen=50))  # final failures, newest last
    _seen: dict[str, int] = field(default_factory=dict)  # worker id -> highest note seq taken

    def take(self, worker_id: str, notes: tuple[FailureNote, ...]) -> None:
        """A heartbeat's notes; each is counted once, however many heartbeats repeat it."""
        seen = self._seen.get(worker_id, 0)
        for n in notes:
            if n.seq <= seen:
                continue
            seen = n.seq
            groups = self.final if n.final else self.retried
            key = reason_group(n.reason)
            r = groups.get(key)
            if r is None:
                if len(groups) >= MAX_REASONS:
                    del groups[min(groups, key=lambda k: groups[k].last_at)]
                r = groups[key] = Reason(n.reason)
            r.count += 1
            r.last_at, r.queue, r.job_id = n.at, n.queue, n.job_id
            if n.final:
                self.recent.append(n)
        self._seen[worker_id] = seen

    def forget(self, worker_id: str) -> None:
        self._seen.pop(worker_id, None)

    def as_dict(self) -> dict[str, Any]:
        def top(groups: dict[str, Reason]) -> list[dict[str, Any]]:
            return [r.as_dict() for r in sorted(groups.values(), key=lambda r: (-r.count, -r.last_at))[:SHOWN]]

        return {"final": top(self.final), "retried": top(self.retried),
                "recent": [{"at": round(n.at, 3), "queue": n.queue, "jobId": n.job_id, "name": n.name,
                            "reason": n.reason[:500]} for n in list(self.recent)[-SHOWN:]]}


def describe(snapshot: dict[str, Any], shown: int = 5) -> list[str]:
    """A snapshot's failures and dependency checks as lines for `corral status` and `corral watch`."""
    lines = []
    f = snapshot.get("failures") or {}
    for kind, title in (("final", "jobs failed"), ("retried", "attempts failed, retried")):
        groups = f.get(kind) or []
        if groups:
            lines.append(f"{title}, by reason:")
            lines += [f"  {g['count']:>6}  {g['reason'][:150]}  (last: {g['queue']}/{g['jobId']})"
                      for g in groups[:shown]]
    for name, c in (snapshot.get("checks") or {}).items():
        lines.append(f"dependency {name}: {'ok' if c['ok'] else 'DOWN'}: {c['detail']}")
    return lines

"""Failed attempts reported by the workers, grouped by reason for operators: the final failures (jobs that ended
failed) and the attempts that will be retried, each reason with its count, when it last happened, on which queue and
an example job; and the most recent final failures. The dashboard, `corral status` and `corral watch` show them;
without them a pool that fails every job for one cause ("Ollama unreachable") does not say why.

The counts come from the workers' cumulative counts by reason (every heartbeat carries them all), summed as their
tallies are, a gone worker's kept: a burst of failures beyond the few notes a heartbeat carries is still counted. The
recent list comes from the notes."""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field
from typing import Any

from workers.failures import OTHER_REASONS
from workers.protocol import FailureNote, ReasonCount

MAX_REASONS = 50  # distinct reasons kept per kind for gone workers; past it the least recent fold into "other"
SHOWN = 10

Key = tuple[bool, str]  # (final, reason group)


@dataclass
class Reason:
    reason: str  # the first seen text of this group
    count: int = 0
    last_at: float = 0.0
    queue: str = ""
    job_id: str = ""

    def add(self, count: int, last_at: float, queue: str, job_id: str) -> None:
        self.count += count
        if last_at >= self.last_at:
            self.last_at, self.queue, self.job_id = last_at, queue, job_id

    def as_dict(self) -> dict[str, Any]:
        return {"reason": self.reason, "count": self.count, "lastAt": round(self.last_at, 3), "queue": self.queue,
                "jobId": self.job_id}


@dataclass
class Failures:
    live: dict[str, dict[Key, ReasonCount]] = field(default_factory=dict)  # worker id -> its latest counts
    gone: dict[Key, Reason] = field(default_factory=dict)  # the counts of workers no longer running, summed
    recent: deque[FailureNote] = field(default_factory=lambda: deque(maxlen=50))  # final failures, newest last
    _seen: dict[str, int] = field(default_factory=dict)  # worker id -> highest note seq taken

    def take(self, worker_id: str, notes: tuple[FailureNote, ...], counts: tuple[ReasonCount, ...]) -> None:
        """A heartbeat's counts (cumulative: the latest replace the previous) and notes (each taken once, however
        many heartbeats repeat it)."""
        self.live[worker_id] = {(c.final, c.group): c for c in counts}
        seen = self._seen.get(worker_id, 0)
        for n in notes:
            if n.seq > seen:
                seen = n.seq
                if n.final:
                    self.recent.append(n)
        self._seen[worker_id] = seen

    def forget(self, worker_id: str) -> None:
        """The worker is gone: its counts stay, folded into the others of gone workers."""
        self._seen.pop(worker_id, None)
        for key, c in self.live.pop(worker_id, {}).items():
            self.gone.setdefault(key, Reason(c.reason)).add(c.count, c.last_at, c.queue, c.job_id)
        for final in (True, False):
            keys = [k for k in self.gone if k[0] == final and k[1] != OTHER_REASONS]
            for key in sorted(keys, key=lambda k: self.gone[k].last_at)[:max(0, len(keys) - MAX_REASONS)]:
                r = self.gone.pop(key)
                self.gone.setdefault((final, OTHER_REASONS), Reason(OTHER_REASONS)).add(
                    r.count, r.last_at, r.queue, r.job_id)

    def totals(self) -> dict[Key, Reason]:
        out = {k: Reason(r.reason, r.count, r.last_at, r.queue, r.job_id) for k, r in self.gone.items()}
        for counts in self.live.values():
            for key, c in counts.items():
                out.setdefault(key, Reason(c.reason)).add(c.count, c.last_at, c.queue, c.job_id)
        return out

    def as_dict(self) -> dict[str, Any]:
        totals = self.totals()

        def top(final: bool) -> list[dict[str, Any]]:
            groups = [r for (f, _), r in totals.items() if f == final]
            return [r.as_dict() for r in sorted(groups, key=lambda r: (-r.count, -r.last_at))[:SHOWN]]

        return {"final": top(True), "retried": top(False),
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

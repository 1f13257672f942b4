"""Failed attempts, said once and grouped: each is logged at WARNING with its queue, job id and reason; when the
same reason repeats (Ollama down: every job fails alike), the repeats within a window are folded into one line
("... and 212 more attempts failed with the same reason"), so the log says why without drowning.

The reasons are grouped by `reason_group`: digits and hexadecimal ids masked, so "job 41 ... lock 7f3a" and
"job 42 ... lock 9c1d" are one reason. The worker counts its failures by reason group and keeps its last few; its
heartbeats carry both, and the supervisor sums the counts and lists the last ones for the dashboard, `corral status`
and `corral watch`.
"""

from __future__ import annotations

import logging
import re
import time
from collections import deque
from dataclasses import dataclass, field

from workers.protocol import FailureNote, ReasonCount

log = logging.getLogger("corral.worker")

WINDOW_SECONDS = 10.0  # repeats of a reason within this are folded into one line
RECENT = 20  # failures a heartbeat carries as notes (their counts by reason are complete)
MAX_REASONS = 100  # reason groups a worker counts apart; later new ones count under OTHER_REASONS
OTHER_REASONS = "(other reasons)"
_VARYING = re.compile(r"\b[0-9a-f]*\d[0-9a-f]*\b", re.IGNORECASE)


def reason_group(reason: str) -> str:
    """What failures of the same cause share: the reason's first line, numbers and ids masked, bounded."""
    first = reason.strip().splitlines()[0] if reason.strip() else "(no reason)"
    return _VARYING.sub("#", first)[:160]


@dataclass
class _Repeats:
    first_at: float
    more: int = 0
    example: str = ""


@dataclass
class FailureLog:
    recent: deque[FailureNote] = field(default_factory=lambda: deque(maxlen=RECENT))
    counts: dict[tuple[bool, str], ReasonCount] = field(default_factory=dict)  # (final, reason group) -> count
    _seq: int = 0
    _repeats: dict[str, _Repeats] = field(default_factory=dict)

    def note(self, queue: str, job_id: str, name: str, reason: str, *, final: bool, now: float | None = None) -> None:
        now = time.time() if now is None else now
        self._seq += 1
        self.recent.append(FailureNote(self._seq, now, queue, job_id, name, reason, final))
        key = reason_group(reason)
        self._count(final, key, reason, now, queue, job_id)
        self.flush(now)
        seen = self._repeats.get(key)
        if seen is not None:
            seen.more += 1
            seen.example = job_id
            return
        self._repeats[key] = _Repeats(now)
        log.warning("job %s on %s %s: %s", job_id, queue, "failed" if final else "failed an attempt (will retry)",
                    reason, extra={"queue": queue, "job_id": job_id, "reason": reason, "final": final})

    def _count(self, final: bool, group: str, reason: str, now: float, queue: str, job_id: str) -> None:
        """Cumulative, never forgotten (a count that vanished would make the supervisor's sum go down): past
        MAX_REASONS groups, a new cause counts under OTHER_REASONS."""
        if (final, group) not in self.counts and len(self.counts) >= MAX_REASONS:
            group = reason = OTHER_REASONS
        had = self.counts.get((final, group))
        self.counts[(final, group)] = ReasonCount(final, group, had.reason if had else reason[:500],
                                                  (had.count if had else 0) + 1, now, queue, job_id)

    def flush(self, now: float | None = None) -> None:
        """Say how often each reason repeated once its window is over (called on every note and heartbeat)."""
        now = time.time() if now is None else now
        for key, seen in list(self._repeats.items()):
            if now - seen.first_at < WINDOW_SECONDS:
                continue
            del self._repeats[key]
            if seen.more:
                log.warning("... and %d more attempts failed with the same reason in %.0fs (last: job %s): %s",
                            seen.more, now - seen.first_at, seen.example, key,
                            extra={"reason": key, "repeats": seen.more})

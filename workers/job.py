"""The job as a processor sees it."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable, Coroutine
from dataclasses import dataclass, field
from typing import Any

from workers.errors import InvalidJobError


def _decode_json(raw: str | None, what: str, default: Any) -> Any:
    if raw is None or raw == "":
        return default
    try:
        return json.loads(raw)
    except (ValueError, TypeError) as e:
        raise InvalidJobError(f"job {what} is not valid JSON: {e}") from None


@dataclass
class Job:
    """One BullMQ job in hand.

    `progress()` and `log()` may be called from a `def` processor running in a thread as well as
    from an `async def` one: they are queued to the event loop, and all of them reach Redis before
    the job is finished, in order.
    """

    queue: str
    id: str
    name: str
    data: Any
    opts: dict[str, Any]
    attempts_made: int
    timestamp: int
    token: str
    _post: Callable[[Callable[[], Coroutine[Any, Any, None]]], None] = field(repr=False)
    _progress_write: Callable[[Any], Coroutine[Any, Any, None]] = field(repr=False)
    _log_write: Callable[[str], Coroutine[Any, Any, None]] = field(repr=False)
    last_progress: Any = 0

    @property
    def attempts(self) -> int:
        return int(self.opts.get("attempts") or 1)

    def progress(self, value: Any) -> None:
        """Report progress (a number or a JSON object): stored on the job, emitted as a `progress` event."""
        self.last_progress = value
        self._post(lambda: self._progress_write(value))

    def log(self, line: str) -> None:
        """Append a line to the job's BullMQ log (`Job.getLogs` / dashboards)."""
        self._post(lambda: self._log_write(str(line)))

    async def update_progress(self, value: Any) -> None:
        self.last_progress = value
        await self._progress_write(value)


def parse_job_hash(raw: dict[str, str]) -> tuple[str, Any, dict[str, Any], int, int]:
    """name, data, opts, attemptsMade, timestamp from a BullMQ job hash; bad JSON is an InvalidJobError.

    Redis replies are decoded with `surrogateescape`, so bytes that are not UTF-8 arrive as lone
    surrogates: such a job is refused here by name instead of crashing the reply parser.
    """
    for field_name in ("name", "data", "opts"):
        value = raw.get(field_name)
        if value is not None and not _is_utf8(value):
            raise InvalidJobError(f"job {field_name} is not valid UTF-8 text")
    opts = _decode_json(raw.get("opts"), "opts", {})
    if not isinstance(opts, dict):
        raise InvalidJobError("job opts is not a JSON object")
    data = _decode_json(raw.get("data"), "data", {})
    return (
        raw.get("name", ""),
        data,
        opts,
        int(raw.get("atm") or raw.get("attemptsMade") or 0),
        int(raw.get("timestamp") or 0),
    )


def _is_utf8(text: str) -> bool:
    try:
        text.encode("utf-8")
        return True
    except UnicodeEncodeError:
        return False


async def drain_posted(pending: list[asyncio.Future[None]]) -> None:
    """Wait for a job's queued progress/log writes before it is finished, so none lands after."""
    if pending:
        await asyncio.gather(*pending, return_exceptions=True)
        pending.clear()

"""Log lines for the supervisor and its workers: JSON lines when stderr is not a terminal (for a log
collector), readable lines on a terminal. Extra fields (`queue`, `job_id`, `reason`, ...) ride along."""

from __future__ import annotations

import json
import logging
import os
import sys
import time
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from workers.protocol import WorkerSettings

# Fields a LogRecord always has; anything else was passed with `extra=` and is worth printing.
_STANDARD = set(vars(logging.LogRecord("", 0, "", 0, "", None, None))) | {"message", "asctime", "taskName",
                                                                         "color_message"}  # uvicorn's ANSI copy


def _extras(record: logging.LogRecord) -> dict[str, Any]:
    return {k: v for k, v in vars(record).items() if k not in _STANDARD and not k.startswith("_")}


class JsonFormatter(logging.Formatter):
    def __init__(self, static: dict[str, Any]) -> None:
        super().__init__()
        self.static = static

    def format(self, record: logging.LogRecord) -> str:
        doc: dict[str, Any] = {
            "ts": round(record.created, 3),
            "level": record.levelname.lower(),
            "logger": record.name,
            "msg": record.getMessage(),
            "pid": record.process,
            **self.static,
            **_extras(record),
        }
        if record.exc_info:
            doc["exc"] = self.formatException(record.exc_info)
        return json.dumps(doc, default=str)


class TextFormatter(logging.Formatter):
    def __init__(self, role: str) -> None:
        super().__init__()
        self.role = role

    def format(self, record: logging.LogRecord) -> str:
        stamp = time.strftime("%H:%M:%S", time.localtime(record.created))
        message = record.getMessage()
        # Extras the message already says (the reason, the job id) are not printed again.
        extras = " ".join(f"{k}={v}" for k, v in _extras(record).items() if str(v) not in message)
        line = f"{stamp} {record.levelname:<7} [{self.role} {record.process}] {message}"
        if extras:
            line += f"  ({extras})"
        if record.exc_info:
            line += "\n" + self.formatException(record.exc_info)
        return line


def configure(level: str, role: str, static: dict[str, Any]) -> None:
    handler = logging.StreamHandler(sys.stderr)
    use_json = os.environ.get("CORRAL_LOG_FORMAT", "auto")
    if use_json == "json" or (use_json == "auto" and not sys.stderr.isatty()):
        handler.setFormatter(JsonFormatter(static))
    else:
        handler.setFormatter(TextFormatter(role))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    # httpx logs every request at INFO: one line per Ollama call or upload drowns the pool's own events.
    logging.getLogger("httpx").setLevel(max(logging.WARNING, root.level))
    # uvicorn announces its start and stop at INFO; corral logs the one line that matters ("HTTP on ...").
    logging.getLogger("uvicorn.error").setLevel(max(logging.WARNING, root.level))


def configure_worker_logging(settings: WorkerSettings) -> None:
    configure(settings.log_level, f"worker {settings.worker_id}",
              {"role": "worker", "worker_id": settings.worker_id})

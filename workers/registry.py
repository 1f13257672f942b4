"""Resolve `module:attribute` processor paths.

A processor is a callable (`def` or `async def`) taking a `Job` and returning a JSON-serialisable
value, or a mapping from job name to such callables. A callable may carry a pydantic model in a
`data_model` attribute: job data is validated against it before the call.
"""

from __future__ import annotations

import importlib
import inspect
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from workers.errors import InvalidJobError, ProcessorImportError


@dataclass(frozen=True)
class Processor:
    func: Callable[..., Any]
    is_async: bool
    data_model: Any | None  # a pydantic BaseModel subclass, or None


@dataclass(frozen=True)
class QueueProcessors:
    """What a queue runs: one processor for every job name, or one per name."""

    path: str
    default: Processor | None
    by_name: Mapping[str, Processor]

    def for_name(self, queue: str, name: str) -> Processor:
        if self.default is not None:
            return self.default
        proc = self.by_name.get(name)
        if proc is None:
            known = ", ".join(sorted(self.by_name)) or "none"
            raise InvalidJobError(
                f"no processor for job name {name!r} on queue {queue!r} (known names: {known})"
            )
        return proc


def _processor(obj: Any, where: str) -> Processor:
    if not callable(obj):
        raise ProcessorImportError(f"{where} is not callable (got {type(obj).__name__})")
    func = obj
    # An instance with `async def __call__` is async too.
    is_async = inspect.iscoroutinefunction(func) or inspect.iscoroutinefunction(type(func).__call__)
    return Processor(func=func, is_async=is_async, data_model=getattr(func, "data_model", None))


def resolve(path: str) -> QueueProcessors:
    """Import `module:attribute`; raises ProcessorImportError with a one-line reason."""
    module_name, sep, attr = path.partition(":")
    if not sep or not module_name or not attr:
        raise ProcessorImportError(f"processor {path!r} is not of the form 'module:attribute'")
    try:
        module = importlib.import_module(module_name)
    except Exception as e:  # any error at import time is the processor's fault, reported as such
        raise ProcessorImportError(
            f"processor {path!r}: cannot import module {module_name!r}: {type(e).__name__}: {e}"
        ) from e
    obj: Any = module
    for part in attr.split("."):
        if not hasattr(obj, part):
            raise ProcessorImportError(f"processor {path!r}: module {module_name!r} has no attribute {attr!r}")
        obj = getattr(obj, part)
    if isinstance(obj, Mapping):
        if not obj:
            raise ProcessorImportError(f"processor {path!r} is an empty mapping")
        by_name = {str(k): _processor(v, f"{path}[{k!r}]") for k, v in obj.items()}
        return QueueProcessors(path=path, default=None, by_name=by_name)
    return QueueProcessors(path=path, default=_processor(obj, path), by_name={})

"""Processors for tests/test_tracing.py, chosen by job name."""

from __future__ import annotations

import sys
from typing import Any

from workers import tracing
from workers.job import Job


async def ok(job: Job) -> dict[str, Any]:
    return {"ok": True, "data": job.data}


async def boom(job: Job) -> None:
    raise RuntimeError(f"boom on attempt {job.attempts_made + 1}")


def nested(job: Job) -> str:
    """A `def` processor (run in a thread) with a span of its own, through the OpenTelemetry API as any library's."""
    from opentelemetry import trace

    with trace.get_tracer("tests.tracing_procs").start_as_current_span("inside a def processor"):
        return "nested"


async def report(job: Job) -> dict[str, Any]:
    """What this worker process holds of OpenTelemetry."""
    from opentelemetry import trace

    return {"tracing_on": tracing.enabled(), "provider": type(trace.get_tracer_provider()).__name__,
            "sdk_modules": sorted(m for m in sys.modules if m.startswith(("opentelemetry.sdk.trace",
                                                                          "opentelemetry.exporter",
                                                                          "opentelemetry.instrumentation")))}


processors = {"ok": ok, "boom": boom, "nested": nested, "report": report}

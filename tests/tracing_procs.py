"""Processors for tests/test_tracing.py, chosen by job name."""

from __future__ import annotations

import gc
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
    """What this worker process holds of OpenTelemetry's tracing SDK: objects, not modules (a supervisor with
    tracing on preloads the modules, and a test's pytest process is the supervisor of every pool it runs)."""
    import httpx
    from opentelemetry import trace

    sdk = ("opentelemetry.sdk.trace", "opentelemetry.exporter", "opentelemetry.instrumentation")
    made = {"TracerProvider", "Tracer", "BatchSpanProcessor", "SynchronousMultiSpanProcessor", "OTLPSpanExporter",
            "_Span", "Span", "HTTPXClientInstrumentor"}  # what setting tracing up makes (not the modules' constants)
    objects = sorted({type(o).__qualname__ for o in gc.get_objects()
                      if str(getattr(type(o), "__module__", "")).startswith(sdk) and type(o).__qualname__ in made})
    return {"tracing_on": tracing.enabled(), "provider": type(trace.get_tracer_provider()).__name__,
            "sdk_objects": objects,
            "httpx_instrumented": hasattr(httpx.AsyncHTTPTransport.handle_async_request, "__wrapped__")}


processors = {"ok": ok, "boom": boom, "nested": nested, "report": report}

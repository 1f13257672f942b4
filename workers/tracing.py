"""Tracing with OpenTelemetry: a worker continues the trace of the producer that added the job.

A Node producer using BullMQ's OpenTelemetry integration (`new Queue(name, {telemetry: new BullMQOtel(...)})`,
package bullmq-otel) writes its `add` span's context into the job's options: `opts.tm` is a JSON object, the
carrier of the global propagator (W3C `traceparent`/`tracestate`, and `baggage`). When `[tracing] enabled`, each
worker process sets up an OpenTelemetry SDK TracerProvider exporting over OTLP/HTTP (protobuf), and every attempt
of a job gets a span named and attributed as BullMQ's own worker names its (`process <queue>`, kind CONSUMER,
`bullmq.*` attributes), whose parent is the context extracted from `opts.tm`. Inside it, the processor's spans are
its children: each Ollama call (`span`, below) and each httpx request (opentelemetry-instrumentation-httpx, which
also sends `traceparent` on to the server).

Off by default, and then nothing here imports or creates anything of the SDK: `job_span` and `span` hand back a
shared no-op. The standard OTEL_* variables work as the SDK reads them (OTEL_EXPORTER_OTLP_ENDPOINT, _HEADERS,
_TIMEOUT, OTEL_SERVICE_NAME, OTEL_RESOURCE_ATTRIBUTES, OTEL_TRACES_SAMPLER and _ARG, OTEL_PROPAGATORS, OTEL_BSP_*,
OTEL_SDK_DISABLED); corral's own keys, when set, win over them.
"""

from __future__ import annotations

import contextlib
import json
import logging
import time
from collections.abc import Iterator, Mapping
from contextlib import AbstractContextManager
from typing import TYPE_CHECKING, Any, ClassVar, Literal, Protocol
from urllib.parse import urlsplit

from pydantic import Field, field_validator
from pydantic_settings import SettingsConfigDict

from workers.settings import Section

if TYPE_CHECKING:
    from opentelemetry.context import Context
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.trace import Span, Tracer

    from workers.job import JobHash

log = logging.getLogger("corral.tracing")

FLUSH_MILLIS = 5000  # at exit, spans still queued get this long to reach the collector
RESULT_LIMIT = 4096  # characters of a job's result kept on its span's `job completed` event

AttributeValue = str | bool | int | float


class TracingSettings(Section):
    """[tracing]: CORRAL_TRACING_<KEY>."""

    model_config = SettingsConfigDict(env_prefix="CORRAL_TRACING_")
    section: ClassVar[str] = "tracing"

    enabled: bool = Field(False, description="export a span per job attempt over OTLP/HTTP")
    endpoint: str = Field("", description="OTLP/HTTP traces URL, e.g. http://127.0.0.1:4318/v1/traces; empty: "
                                          "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT, else OTEL_EXPORTER_OTLP_ENDPOINT + "
                                          "/v1/traces, else http://localhost:4318/v1/traces")
    service_name: str = Field("", description="empty: OTEL_SERVICE_NAME, else 'corral'")
    sample_ratio: float | None = Field(None, ge=0, le=1, description="share of new traces recorded; a trace "
                                       "continued from a producer follows the producer's decision; unset: "
                                       "OTEL_TRACES_SAMPLER, else every trace")

    @field_validator("endpoint")
    @classmethod
    def _url(cls, v: str) -> str:
        v = v.strip()
        if v:
            parts = urlsplit(v)
            if parts.scheme not in ("http", "https") or not parts.hostname:
                raise ValueError(f"endpoint {v!r} is not an http:// or https:// URL with a host")
        return v


# -- the worker's provider -----------------------------------------------------------------------------------

_provider: TracerProvider | None = None
_tracer: Tracer | None = None


def enabled() -> bool:
    return _tracer is not None


def preload(cfg: TracingSettings) -> None:
    """Import the SDK's modules (nothing more) in the supervisor when tracing is on: its workers are forked with
    them loaded, instead of each spending a few hundred milliseconds importing them as it starts."""
    if cfg.enabled:
        import opentelemetry.exporter.otlp.proto.http.trace_exporter
        import opentelemetry.instrumentation.httpx
        import opentelemetry.sdk.trace  # noqa: F401


def setup(cfg: TracingSettings | None) -> bool:
    """Set up this process's TracerProvider (a worker, at start); False, and nothing imported, when tracing is off.

    The provider becomes the global one, so a processor's own `opentelemetry.trace.get_tracer(...)` spans join the
    job's trace, and every httpx client (Ollama's, the MYST job's) gets a span per request."""
    global _provider, _tracer
    if cfg is None or not cfg.enabled:
        return False
    try:
        _provider = _make_provider(cfg)
    except Exception as e:  # jobs matter more than their traces: run them untraced, and say why
        log.error("tracing: could not be set up, running without it: %s: %s", type(e).__name__, e)
        return False
    _tracer = _provider.get_tracer("corral", _version() or None)
    return True


def _make_provider(cfg: TracingSettings) -> TracerProvider:
    from opentelemetry import trace
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
    from opentelemetry.instrumentation.httpx import HTTPXClientInstrumentor
    from opentelemetry.sdk.resources import SERVICE_NAME, SERVICE_VERSION, Resource
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor
    from opentelemetry.sdk.trace.sampling import ParentBased, TraceIdRatioBased

    version = _version()
    resource = Resource.create({SERVICE_VERSION: version} if version else {})
    detected = str(resource.attributes.get(SERVICE_NAME, ""))
    if cfg.service_name or detected.startswith("unknown_service"):
        resource = resource.merge(Resource({SERVICE_NAME: cfg.service_name or "corral"}))
    # No sampler given: the SDK reads OTEL_TRACES_SAMPLER (default parent-based, always on).
    sampler = ParentBased(TraceIdRatioBased(cfg.sample_ratio)) if cfg.sample_ratio is not None else None
    provider = TracerProvider(resource=resource, sampler=sampler, shutdown_on_exit=False)
    provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter(endpoint=cfg.endpoint or None)))
    trace.set_tracer_provider(provider)
    HTTPXClientInstrumentor().instrument(tracer_provider=provider)
    return provider


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("corral")
    except PackageNotFoundError:  # run from a source tree that is not installed
        return ""


def shutdown() -> None:
    """Export what is still queued (within FLUSH_MILLIS) and stop: a worker leaves with os._exit, so the SDK's own
    atexit hook never runs."""
    global _provider, _tracer
    provider, _provider, _tracer = _provider, None, None
    if provider is None:
        return
    try:
        if not provider.force_flush(FLUSH_MILLIS):
            log.warning("tracing: spans not exported within %.0f s at exit; dropped", FLUSH_MILLIS / 1000)
        provider.shutdown()
    except Exception:
        log.exception("tracing: shutting the exporter down failed")


# -- a span per job attempt -------------------------------------------------------------------------------------


class Attempt(Protocol):
    """What the job span reads of the consumer's attempt when it ends."""

    job_id: str
    raw: dict[str, str]
    attempts_made: int
    outcome: str  # completed, failed, retried, moved; "" when nothing was recorded (lock lost, Redis gone)
    detail: str  # the result as stored, or the failure reason


class WorkerIdentity(Protocol):
    worker_id: str
    worker_name: str


_OFF: AbstractContextManager[None] = contextlib.nullcontext()


def job_span(queue: str, worker: WorkerIdentity, attempt: Attempt, parsed: JobHash) -> AbstractContextManager[None]:
    """Around one attempt (the processor call and recording its outcome): the job's span, current meanwhile."""
    if _tracer is None:
        return _OFF
    return _job_span(_tracer, queue, worker, attempt, parsed)


@contextlib.contextmanager
def _job_span(tracer: Tracer, queue: str, worker: WorkerIdentity, attempt: Attempt, parsed: JobHash) -> Iterator[None]:
    from opentelemetry import context, trace
    from opentelemetry.trace import SpanKind

    parent = producer_context(parsed.opts)
    # BullMQ's Worker.processJob: trace(SpanKind.CONSUMER, 'process', queueName) -> "process <queue>".
    span = tracer.start_span(f"process {queue}", context=parent, kind=SpanKind.CONSUMER, attributes={
        "bullmq.queue.name": queue, "bullmq.queue.operation": "process",
        "bullmq.worker.id": worker.worker_id, "bullmq.worker.name": worker.worker_name,
        "bullmq.job.id": attempt.job_id, "bullmq.job.name": parsed.name,
    })
    token = context.attach(trace.set_span_in_context(span, parent))
    try:
        yield
    except BaseException as e:  # Redis gone while recording, or the worker cancelled: the attempt did not end
        span.record_exception(e)
        _error(span, f"{type(e).__name__}: {e}")
        raise
    finally:
        context.detach(token)
        _outcome(span, attempt)
        span.end()


def producer_context(opts: Mapping[str, Any]) -> Context | None:
    """The context BullMQ's integration stored in `opts.tm` (bullmq-otel: JSON of the propagator's carrier), else
    None (a new trace). A `tm` that is not such JSON is ignored: tracing never fails a job."""
    tm = opts.get("tm")
    if not isinstance(tm, str) or not tm:
        return None
    try:
        carrier = json.loads(tm)
    except ValueError:
        log.debug("tracing: job opts.tm is not JSON; a new trace starts")
        return None
    if not isinstance(carrier, dict):
        return None
    from opentelemetry import propagate

    return propagate.extract({str(k): str(v) for k, v in carrier.items() if isinstance(v, str)})


def _outcome(span: Span, attempt: Attempt) -> None:
    """What BullMQ's worker adds when an attempt ends (its `job completed`/`job failed` events, attempts made,
    timestamps), and corral's `corral.job.outcome`."""
    now = int(time.time() * 1000)
    attrs: dict[str, AttributeValue] = {"bullmq.job.attempt_finished_timestamp": now}
    processed = attempt.raw.get("processedOn", "")
    if processed.isdigit():
        attrs["bullmq.job.processed.timestamp"] = int(processed)
    if attempt.outcome:
        attrs["corral.job.outcome"] = attempt.outcome
    if attempt.outcome in ("completed", "failed", "retried"):
        attrs["bullmq.job.attempts.made"] = attempt.attempts_made + 1
    span.set_attributes(attrs)
    if attempt.outcome == "completed":
        span.add_event("job completed", {"bullmq.job.result": attempt.detail[:RESULT_LIMIT]})
    elif attempt.outcome in ("failed", "retried"):
        span.add_event("job failed", {"bullmq.job.failed.reason": attempt.detail})
        if attempt.outcome == "failed":
            _error(span, attempt.detail)


def _error(span: Span, description: str) -> None:
    from opentelemetry.trace import Status, StatusCode

    span.set_status(Status(StatusCode.ERROR, description))


# -- spans inside a job ----------------------------------------------------------------------------------------


class Notes(Protocol):
    """What code inside a span may add to it (an OpenTelemetry Span, or a no-op when tracing is off)."""

    def set_attribute(self, key: str, value: AttributeValue) -> None: ...


class _Quiet:
    def set_attribute(self, key: str, value: AttributeValue) -> None:
        pass


_QUIET = _Quiet()


@contextlib.contextmanager
def span(name: str, *, kind: Literal["internal", "client"] = "internal",
         attributes: Mapping[str, AttributeValue] | None = None) -> Iterator[Notes]:
    """A child of the current span (the job's) around a step of a processor; an exception marks it failed with
    `error.type`. Yields the span, to add attributes (a no-op when tracing is off)."""
    if _tracer is None:
        yield _QUIET
        return
    from opentelemetry.trace import SpanKind

    with _tracer.start_as_current_span(name, kind=SpanKind.CLIENT if kind == "client" else SpanKind.INTERNAL,
                                       attributes=dict(attributes or {}), record_exception=True,
                                       set_status_on_exception=True) as s:
        try:
            yield s
        except BaseException as e:
            s.set_attribute("error.type", type(e).__name__)
            raise

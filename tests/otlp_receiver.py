"""A local OTLP/HTTP trace receiver for tests: what an OpenTelemetry Collector's `otlp` receiver does with
`POST /v1/traces` (protobuf `ExportTraceServiceRequest`, gzip or not), on a free loopback port, in a thread.
Requests are decoded with opentelemetry-proto and kept as flat `ReceivedSpan`s; anything else is answered 4xx and
counted in `refused`, so a test sees a producer that sends the wrong thing."""

from __future__ import annotations

import gzip
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from google.protobuf.message import DecodeError
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
)
from opentelemetry.proto.common.v1.common_pb2 import AnyValue, KeyValue
from opentelemetry.proto.trace.v1.trace_pb2 import Span, Status

KINDS = {Span.SPAN_KIND_INTERNAL: "internal", Span.SPAN_KIND_SERVER: "server", Span.SPAN_KIND_CLIENT: "client",
         Span.SPAN_KIND_PRODUCER: "producer", Span.SPAN_KIND_CONSUMER: "consumer",
         Span.SPAN_KIND_UNSPECIFIED: "unspecified"}
STATUSES = {Status.STATUS_CODE_UNSET: "unset", Status.STATUS_CODE_OK: "ok", Status.STATUS_CODE_ERROR: "error"}


@dataclass(frozen=True)
class ReceivedSpan:
    service: str  # the resource's service.name
    trace_id: str  # hex, as W3C traceparent writes it
    span_id: str
    parent_id: str  # "" for a root span
    name: str
    kind: str  # internal, server, client, producer, consumer
    attributes: dict[str, Any]
    events: list[tuple[str, dict[str, Any]]]
    status: str  # unset, ok, error
    status_message: str
    scope: str  # the instrumentation scope (tracer name)


@dataclass
class OtlpReceiver:
    keep: bool = True  # False: count the spans, keep none (a sink for benchmarks)
    spans: list[ReceivedSpan] = field(default_factory=list)
    span_count: int = 0
    requests: int = 0
    refused: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        self._lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self._body()
                status = receiver._take(self.path, self.headers.get("Content-Type", ""),
                                        self.headers.get("Content-Encoding", ""), body)
                payload = ExportTraceServiceResponse().SerializeToString() if status == 200 else b""
                self.send_response(status)
                self.send_header("Content-Type", "application/x-protobuf")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            def _body(self) -> bytes:
                if "chunked" not in self.headers.get("Transfer-Encoding", "").lower():
                    return self.rfile.read(int(self.headers.get("Content-Length") or 0))
                chunks = []  # Node's exporter streams its request: HTTP/1.1 chunked transfer coding
                while size := int(self.rfile.readline().split(b";")[0].strip() or b"0", 16):
                    chunks.append(self.rfile.read(size))
                    self.rfile.readline()
                while self.rfile.readline() not in (b"\r\n", b"\n", b""):  # trailers
                    pass
                return b"".join(chunks)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, name="otlp-receiver", daemon=True)

    @property
    def url(self) -> str:
        """The traces endpoint: what OTEL_EXPORTER_OTLP_TRACES_ENDPOINT or `[tracing] endpoint` is set to."""
        return f"http://127.0.0.1:{self.server.server_address[1]}/v1/traces"

    @property
    def base_url(self) -> str:
        """The base URL, as OTEL_EXPORTER_OTLP_ENDPOINT takes it (the SDK appends /v1/traces)."""
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def __enter__(self) -> OtlpReceiver:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()

    def _take(self, path: str, content_type: str, encoding: str, body: bytes) -> int:
        with self._lock:
            self.requests += 1
            if path != "/v1/traces":
                self.refused.append(f"path {path}")
                return 404
            if not content_type.startswith("application/x-protobuf"):
                self.refused.append(f"content type {content_type!r}")
                return 415
            try:
                request = ExportTraceServiceRequest.FromString(gzip.decompress(body) if encoding == "gzip" else body)
            except (DecodeError, OSError) as e:
                self.refused.append(f"undecodable body: {e}")
                return 400
            if self.keep:
                self.spans.extend(_flatten(request))
            self.span_count += sum(len(ss.spans) for rs in request.resource_spans for ss in rs.scope_spans)
            return 200

    def wait_for(self, pred: Any, timeout: float, what: str) -> list[ReceivedSpan]:
        """The spans, once `pred(spans)` holds (polled; the exporters send in batches)."""
        deadline = time.monotonic() + timeout
        while True:
            with self._lock:
                spans = list(self.spans)
            if pred(spans):
                return spans
            if time.monotonic() > deadline:
                names = sorted({f"{s.service}/{s.name}" for s in spans})
                raise AssertionError(f"timed out after {timeout} s waiting for {what}; received {len(spans)} spans "
                                     f"{names}, refused {self.refused}")
            time.sleep(0.05)


def _flatten(request: ExportTraceServiceRequest) -> list[ReceivedSpan]:
    out = []
    for rs in request.resource_spans:
        service = str(_attributes(rs.resource.attributes).get("service.name", ""))
        for ss in rs.scope_spans:
            for s in ss.spans:
                out.append(ReceivedSpan(
                    service=service, trace_id=s.trace_id.hex(), span_id=s.span_id.hex(),
                    parent_id=s.parent_span_id.hex(), name=s.name, kind=KINDS.get(s.kind, str(s.kind)),
                    attributes=_attributes(s.attributes),
                    events=[(e.name, _attributes(e.attributes)) for e in s.events],
                    status=STATUSES.get(s.status.code, str(s.status.code)), status_message=s.status.message,
                    scope=ss.scope.name))
    return out


def _attributes(kvs: Any) -> dict[str, Any]:
    return {kv.key: _value(kv.value) for kv in kvs if isinstance(kv, KeyValue)}


def _value(v: AnyValue) -> Any:
    which = v.WhichOneof("value")
    if which == "array_value":
        return [_value(x) for x in v.array_value.values]
    if which == "kvlist_value":
        return _attributes(v.kvlist_value.values)
    return getattr(v, which) if which else None

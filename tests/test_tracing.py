"""Tracing: a Node producer's trace (BullMQ's OpenTelemetry integration, bullmq-otel, a real OTel SDK) continued by
corral's workers, every span exported over OTLP/HTTP to a local receiver (tests/otlp_receiver.py)."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import pytest
import redis

from pool.config import ConfigError, CorralConfig, load_config
from tests.nodejs import run_node
from tests.otlp_receiver import OtlpReceiver, ReceivedSpan
from tests.pool_harness import RunningPool, add_jobs, job_hash, job_state, make_config, wait_for
from tests.test_email_job import email, job_data
from tests.test_email_llm import reset
from workers import tracing
from workers.settings import load_section
from workers.tracing import TracingSettings, producer_context

Q = "traced"
PROCS = "tests.tracing_procs:processors"


@pytest.fixture
def receiver() -> Any:
    with OtlpReceiver() as rec:
        yield rec


def traced(cfg: CorralConfig, endpoint: str, **keys: Any) -> CorralConfig:
    return cfg.model_copy(update={"tracing": load_section(
        TracingSettings, {"enabled": True, "endpoint": endpoint, **keys}, env={})})


def produce_traced(redis_url: str, queue: str, otlp_url: str, jobs: list[dict[str, Any]]) -> list[dict[str, str]]:
    """Node's Queue.add with bullmq-otel: [{id, traceId, spanId of the span around the add}]."""
    out = run_node("produce_traced.mjs", redis_url, queue, otlp_url, stdin=json.dumps(jobs))
    jobs_added: list[dict[str, str]] = out["jobs"]
    return jobs_added


def of(spans: list[ReceivedSpan], service: str, name: str) -> list[ReceivedSpan]:
    return [s for s in spans if s.service == service and s.name == name]


def attempts(spans: list[ReceivedSpan], job_id: str, queue: str = Q) -> list[ReceivedSpan]:
    """corral's spans of one job, in attempt order."""
    mine = [s for s in of(spans, "corral", f"process {queue}") if s.attributes["bullmq.job.id"] == job_id]
    return sorted(mine, key=lambda s: s.attributes["bullmq.job.attempt_finished_timestamp"])


async def finish(redis_url: str, queue: str, states: dict[str, str]) -> None:
    r = redis.Redis.from_url(redis_url)
    await wait_for(lambda: all(job_state(r, queue, j) == s for j, s in states.items()), 30, f"jobs {states}")


@pytest.mark.usefixtures("node_modules")
async def test_corral_continues_the_node_producers_trace(redis_url: str, receiver: OtlpReceiver) -> None:
    cfg = traced(make_config(redis_url, [(Q, PROCS, 2)], min_workers=1, max_workers=1), receiver.url)
    r = redis.Redis.from_url(redis_url)
    async with RunningPool(cfg):
        ok, boom, nested, report = produce_traced(redis_url, Q, receiver.url, [
            {"name": "ok", "data": {"n": 1}},
            {"name": "boom", "data": {}, "opts": {"attempts": 2}},
            {"name": "nested", "data": {}},
            {"name": "report", "data": {}}])
        await finish(redis_url, Q, {ok["id"]: "completed", boom["id"]: "failed", nested["id"]: "completed",
                                    report["id"]: "completed"})
    seen = json.loads(job_hash(r, Q, report["id"])["returnvalue"])  # what the off test finds absent is there
    assert (seen["tracing_on"], seen["provider"], seen["httpx_instrumented"]) == (True, "TracerProvider", True)
    assert {"TracerProvider", "BatchSpanProcessor", "OTLPSpanExporter"} <= set(seen["sdk_objects"])
    # The pool has stopped: each worker flushed its spans before it exited.
    spans = receiver.wait_for(lambda s: len(of(s, "corral", f"process {Q}")) >= 5, 20, "corral's job spans")
    assert receiver.refused == []

    [producer] = [s for s in of(spans, "node-producer", f"add {Q}.ok") if s.trace_id == ok["traceId"]]
    assert producer.kind == "producer" and producer.parent_id == ok["spanId"]
    [job] = attempts(spans, ok["id"])
    assert job.trace_id == producer.trace_id and job.parent_id == producer.span_id  # the producer's child
    assert job.kind == "consumer" and job.status == "unset"
    worker = job_hash(r, Q, ok["id"])["pb"]  # the name corral's worker wrote as processedBy
    assert {k: job.attributes[k] for k in ("bullmq.queue.name", "bullmq.queue.operation", "bullmq.job.id",
                                           "bullmq.job.name", "bullmq.worker.name", "bullmq.job.attempts.made",
                                           "corral.job.outcome")} == {
        "bullmq.queue.name": Q, "bullmq.queue.operation": "process", "bullmq.job.id": ok["id"],
        "bullmq.job.name": "ok", "bullmq.worker.name": worker, "bullmq.job.attempts.made": 1,
        "corral.job.outcome": "completed"}
    assert job.attributes["bullmq.job.processed.timestamp"] == int(job_hash(r, Q, ok["id"])["processedOn"])
    assert job.events == [("job completed", {"bullmq.job.result": '{"ok":true,"data":{"n":1}}'})]

    # Two attempts of one job: both children of its producer's span; the first retried, the second failed.
    [boom_add] = [s for s in of(spans, "node-producer", f"add {Q}.boom") if s.trace_id == boom["traceId"]]
    first, second = attempts(spans, boom["id"])
    assert first.parent_id == second.parent_id == boom_add.span_id and first.trace_id == boom["traceId"]
    assert (first.attributes["corral.job.outcome"], first.status) == ("retried", "unset")
    assert first.events == [("job failed", {"bullmq.job.failed.reason": "boom on attempt 1"})]
    assert (second.attributes["corral.job.outcome"], second.status) == ("failed", "error")
    assert second.status_message == "boom on attempt 2" and second.attributes["bullmq.job.attempts.made"] == 2

    # A `def` processor runs in a thread, in the job's context: its own span is the job span's child.
    [nested_job] = attempts(spans, nested["id"])
    [inner] = [s for s in spans if s.name == "inside a def processor"]
    assert inner.parent_id == nested_job.span_id and inner.trace_id == nested["traceId"]


@pytest.mark.usefixtures("node_modules")
async def test_job_span_is_named_and_attributed_as_bullmq_own_worker_span(redis_url: str,
                                                                          receiver: OtlpReceiver) -> None:
    """The same jobs through Node's Worker with bullmq-otel and through corral: the same span names, kinds, parent,
    attribute keys (corral adds only corral.*) and events."""
    jobs = [{"name": "ok", "data": {}}, {"name": "boom", "data": {}, "opts": {"attempts": 1}}]
    node_ids = produce_traced(redis_url, "node-side", receiver.url, jobs)
    await asyncio.to_thread(run_node, "worker_traced.mjs", redis_url, "node-side", receiver.url, "2")
    cfg = traced(make_config(redis_url, [(Q, PROCS, 1)], min_workers=1, max_workers=1), receiver.url)
    async with RunningPool(cfg):
        ours = produce_traced(redis_url, Q, receiver.url, jobs)
        await finish(redis_url, Q, {ours[0]["id"]: "completed", ours[1]["id"]: "failed"})
    spans = receiver.wait_for(lambda s: len(of(s, "corral", f"process {Q}")) >= 2, 20, "corral's job spans")
    for i in range(2):
        [node] = [s for s in of(spans, "node-worker", "process node-side") if s.trace_id == node_ids[i]["traceId"]]
        [corral] = attempts(spans, ours[i]["id"])
        node_add = next(s for s in spans if s.trace_id == node_ids[i]["traceId"] and s.kind == "producer")
        corral_add = next(s for s in spans if s.trace_id == ours[i]["traceId"] and s.kind == "producer")
        assert node.parent_id == node_add.span_id and corral.parent_id == corral_add.span_id
        assert (corral.kind, corral.scope != "") == (node.kind, True) == ("consumer", True)
        assert set(corral.attributes) - set(node.attributes) == {"corral.job.outcome"}
        assert set(node.attributes) <= set(corral.attributes), set(node.attributes) - set(corral.attributes)
        assert [e[0] for e in corral.events] == [e[0] for e in node.events]
        assert [set(e[1]) for e in corral.events] == [set(e[1]) for e in node.events]
        same = ("bullmq.queue.operation", "bullmq.job.name", "bullmq.job.attempts.made")
        assert {k: corral.attributes[k] for k in same} == {k: node.attributes[k] for k in same}


async def test_each_ollama_call_is_a_child_span_with_its_outcome(redis_url: str, receiver: OtlpReceiver,
                                                                  ollama_standin: str, tmp_path: Path,
                                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    """An email job against the Ollama stand-in: a `chat <model>` span per call under the job's span (the first
    answer of each phase-2 call is garbage, the stricter retry valid), each with the httpx request as its child."""
    conf = tmp_path / "email.toml"
    conf.write_text(f'database = "{tmp_path / "emails.sqlite"}"\n[ollama]\nhost = "{ollama_standin}"\n'
                    'phase2_model = "garbage-once"\nphase3_model = "good"\nrequest_timeout = 5.0\n')
    monkeypatch.setenv("CORRAL_EMAIL_CONFIG", str(conf))
    monkeypatch.setenv("TEST_REDIS_URL", redis_url)
    monkeypatch.delenv("OLLAMA_HOST", raising=False)
    reset(ollama_standin)  # garbage-once must not remember this session's earlier prompts
    q = "email-processing"
    cfg = traced(make_config(redis_url, [(q, "workers.email.processor:processors", 1)], min_workers=1,
                             max_workers=1), receiver.url)
    async with RunningPool(cfg):
        [j] = await add_jobs(redis_url, q, [("process-emails", job_data([email(0), email(1), email(2)]), {})])
        await finish(redis_url, q, {j: "completed"})
    spans = receiver.wait_for(lambda s: bool(of(s, "corral", f"process {q}")), 20, "the email job's span")
    [job] = of(spans, "corral", f"process {q}")
    assert job.parent_id == ""  # a Python producer without tracing: the job starts its own trace
    calls = [s for s in spans if s.name.startswith("chat ") and s.parent_id == job.span_id]
    assert len([s for s in spans if s.name.startswith("chat ")]) == len(calls) == 7  # 3 x 2 (phase 2) + 1 (phase 3)
    phase2 = sorted((s.attributes["corral.ollama.attempt"], s.attributes["corral.ollama.outcome"])
                    for s in calls if s.attributes["corral.email.phase"] == 2)
    assert phase2 == [(1, "invalid")] * 3 + [(2, "valid")] * 3
    [phase3] = [s for s in calls if s.attributes["corral.email.phase"] == 3]
    assert (phase3.name, phase3.kind, phase3.attributes["corral.ollama.outcome"]) == ("chat good", "client", "valid")
    assert phase3.attributes["gen_ai.request.model"] == "good"
    assert phase3.attributes["gen_ai.usage.output_tokens"] == 20  # the stand-in's eval_count
    assert all(s.attributes["corral.ollama.error"].startswith("1 error(s)") for s in calls
               if s.attributes["corral.ollama.outcome"] == "invalid")
    for call in calls:  # opentelemetry-instrumentation-httpx: the request itself, under its call
        [http] = [s for s in spans if s.parent_id == call.span_id]
        assert http.kind == "client" and http.name == "POST"
        # The instrumentation's default names (the stable ones with OTEL_SEMCONV_STABILITY_OPT_IN=http).
        attrs = http.attributes
        assert attrs.get("url.full", attrs.get("http.url")) == f"{ollama_standin}/api/chat", http
        assert attrs.get("http.response.status_code", attrs.get("http.status_code")) == 200, http


@pytest.mark.usefixtures("node_modules")
async def test_the_myst_jobs_download_status_and_upload_calls_are_child_spans(
        redis_url: str, receiver: OtlpReceiver, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A MYST job from a traced Node producer, against the GitHub and desci-server stand-ins (a build command that
    writes a PDF and a Typst file stands in for mystmd): each HTTP call is an httpx span under the job's span."""
    from tests.test_myst import BRANCH, OWNER, REPO, SECRET, serve_repo, submission
    from tests.web_standins import Serving, StandIns

    standins = StandIns()
    serving = Serving(standins.app())
    standins.url = serving.url
    build = "mkdir -p exports && printf '%%PDF-1.4\\n' > exports/manuscript.pdf && echo '= x' > exports/manuscript.typ"
    conf = tmp_path / "myst.toml"
    conf.write_text("".join(f"{k} = {json.dumps(v)}\n" for k, v in {
        "github_base_url": standins.url, "desci_server_url": standins.url, "build_command": build,
        "cache_dir": str(tmp_path / "cache"), "work_dir": str(tmp_path / "work"), "attempts": 1}.items()))
    monkeypatch.setenv("CORRAL_MYST_CONFIG", str(conf))
    monkeypatch.setenv("INTERNAL_SERVICE_SECRET", SECRET)
    q = "myst-build"
    cfg = traced(make_config(redis_url, [(q, "workers.myst.processor:processors", 1)], jobtypes=("myst",),
                             min_workers=1, max_workers=1), receiver.url)
    try:
        serve_repo(standins)
        async with RunningPool(cfg):
            data = submission(standins, "job-t1")
            [job] = produce_traced(redis_url, q, receiver.url, [
                {"name": "process-journal-submission", "data": data, "opts": {"jobId": "job-t1"}}])
            await finish(redis_url, q, {job["id"]: "completed"})
    finally:
        serving.stop()
    assert [u.job_id for u in standins.uploads] == ["job-t1"]
    spans = receiver.wait_for(lambda s: bool(of(s, "corral", f"process {q}")), 20, "the MYST job's span")
    [span] = of(spans, "corral", f"process {q}")
    assert span.trace_id == job["traceId"] and span.attributes["corral.job.outcome"] == "completed"
    calls = [(s.attributes.get("http.method", s.attributes.get("http.request.method")),
              str(s.attributes.get("url.full", s.attributes.get("http.url"))).removeprefix(standins.url))
             for s in spans if s.parent_id == span.span_id]
    statuses = len(standins.statuses_of("job-t1"))
    assert calls.count(("POST", "/v1/nodes/node-uuid-123/github-myst-import/job-t1/updateStatus")) == statuses >= 3
    assert ("GET", f"/{OWNER}/{REPO}/archive/refs/heads/{BRANCH}.zip") in calls, calls
    assert ("POST", "/v1/nodes/node-uuid-123/finalize-myst-import/job-t1/receiveFiles") in calls, calls


@pytest.mark.usefixtures("node_modules")
async def test_tracing_off_sends_nothing_and_creates_no_sdk_object(redis_url: str, receiver: OtlpReceiver,
                                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    # Everything the SDK would read points at the receiver: only [tracing] enabled is missing.
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", receiver.base_url)
    monkeypatch.setenv("OTEL_SERVICE_NAME", "corral-off")
    cfg = make_config(redis_url, [(Q, PROCS, 1)], min_workers=1, max_workers=1)
    assert cfg.tracing.enabled is False  # the default
    r = redis.Redis.from_url(redis_url)
    async with RunningPool(cfg):
        report, ok = produce_traced(redis_url, Q, receiver.url, [{"name": "report", "data": {}},
                                                                 {"name": "ok", "data": {}}])
        await finish(redis_url, Q, {report["id"]: "completed", ok["id"]: "completed"})
    # The workers have exited (a flush at exit would have sent by now): only the Node producer's spans came.
    spans = receiver.wait_for(lambda s: len(of(s, "node-producer", f"add {Q}.ok")) == 1, 20, "the producer's spans")
    assert {s.service for s in spans} == {"node-producer"}
    assert json.loads(job_hash(r, Q, report["id"])["returnvalue"]) == {
        "tracing_on": False, "provider": "ProxyTracerProvider", "sdk_objects": [], "httpx_instrumented": False}


# -- settings and context, without a pool ----------------------------------------------------------------------


def test_tracing_settings_follow_the_settings_system(tmp_path: Path) -> None:
    conf = tmp_path / "corral.toml"
    conf.write_text('jobtypes = []\n[[queues]]\nname = "q"\nprocessor = "workers.processors.builtin:noop"\n'
                    '[tracing]\nendpoint = "http://127.0.0.1:4318/v1/traces"\nsample_ratio = 0.25\n')
    cfg = load_config(conf, env={})
    assert (cfg.tracing.enabled, cfg.tracing.endpoint, cfg.tracing.sample_ratio) == (
        False, "http://127.0.0.1:4318/v1/traces", 0.25)
    cfg = load_config(conf, env={"CORRAL_TRACING_ENABLED": "true", "CORRAL_TRACING_SERVICE_NAME": "mail-workers"})
    assert (cfg.tracing.enabled, cfg.tracing.service_name) == (True, "mail-workers")
    assert load_config(conf, env={"OTEL_SERVICE_NAME": "x"}).tracing.service_name == ""  # the SDK reads that one

    for env, problem in [({"CORRAL_TRACING_ENDPOINT": "localhost:4318"}, "tracing.endpoint: endpoint 'localhost:4318'"
                          " is not an http:// or https:// URL with a host"),
                         ({"CORRAL_TRACING_SAMPLE_RATIO": "2"}, "tracing.sample_ratio: Input should be less than or "
                          "equal to 1"),
                         ({"CORRAL_TRACING_ENABLE": "1"}, "unknown environment variable CORRAL_TRACING_ENABLE (did you "
                          "mean CORRAL_TRACING_ENABLED?)")]:
        with pytest.raises(ConfigError) as e:
            load_config(conf, env=env)
        assert problem in str(e.value)
    conf.write_text(conf.read_text() + "exporter = 'zipkin'\n")
    with pytest.raises(ConfigError, match=r"tracing\.exporter: unknown key"):
        load_config(conf, env={})


def test_producer_context_reads_bullmq_otel_metadata_and_ignores_garbage() -> None:
    from opentelemetry import trace

    tm = json.dumps({"traceparent": "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"})
    ctx = producer_context({"tm": tm})
    parent = trace.get_current_span(ctx).get_span_context()
    assert (f"{parent.trace_id:032x}", f"{parent.span_id:016x}", parent.is_remote) == (
        "0af7651916cd43dd8448eb211c80319c", "b7ad6b7169203331", True)
    for opts in ({}, {"tm": ""}, {"tm": "not json"}, {"tm": "[1, 2]"}, {"tm": 5}):
        assert producer_context(opts) is None
    bad = producer_context({"tm": json.dumps({"traceparent": "00-zz-yy-01"})})  # the propagator ignores it
    assert not trace.get_current_span(bad).get_span_context().is_valid


def test_off_hands_back_shared_no_ops() -> None:
    assert not tracing.enabled()
    assert tracing.job_span("q", None, None, None) is tracing.job_span("q", None, None, None)  # type: ignore[arg-type]
    with tracing.span("anything", attributes={"a": 1}) as s:
        s.set_attribute("b", 2)

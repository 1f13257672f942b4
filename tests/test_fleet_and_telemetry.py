"""Pure parts of the operators' view: fleet shares, worker telemetry and how the supervisor sums it."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from pool import fleet
from pool.metrics import TelemetryTotals
from pool.prometheus import _cumulative
from workers.telemetry import BUCKETS, Telemetry, TelemetrySnapshot

NOW = 1_000_000.0


def snap(daemon: str, capacity: dict[str, int], at: float = NOW, interval: float = 5.0,
         stopped: bool = False) -> dict[str, object]:
    return {"daemonId": daemon, "capacity": capacity, "at": at, "metricsInterval": interval, "stopped": stopped}


def test_alone_a_daemon_takes_the_whole_backlog() -> None:
    assert fleet.shares("a", {"q": 10}, [snap("a", {"q": 10})], NOW) == {"q": 1.0}


def test_shares_follow_capacity_per_queue() -> None:
    peers = [snap("b", {"q": 30, "other": 5}), snap("c", {"x": 100})]
    assert fleet.shares("a", {"q": 10, "x": 0}, peers, NOW) == {"q": 0.25, "x": 0.0}


def test_stopped_and_silent_peers_do_not_count() -> None:
    peers = [snap("b", {"q": 10}, stopped=True), snap("c", {"q": 10}, at=NOW - 3 * 5.0 - 2.1),
             snap("d", {"q": 10}, at=NOW - 3 * 5.0 - 1.9)]
    assert fleet.shares("a", {"q": 10}, peers, NOW) == {"q": 0.5}  # only d is live
    assert fleet.capacity(4, {"q": 3, "r": 1}) == {"q": 12, "r": 4}


@given(st.lists(st.integers(1, 50), min_size=1, max_size=6))
def test_live_shares_add_up_to_one(capacities: list[int]) -> None:
    snaps = [snap(f"d{i}", {"q": c}) for i, c in enumerate(capacities)]
    total = sum(fleet.shares(f"d{i}", {"q": c}, snaps, NOW)["q"] for i, c in enumerate(capacities))
    assert total == pytest.approx(1.0)


def test_telemetry_buckets_counts_and_gauges() -> None:
    t = Telemetry()
    for v in (0.001, 0.3, 0.3, 5000.0):
        t.observe("job_duration_seconds", v, queue="q", job_name="j", status="completed")
    with t.track("ollama", model="m"):
        [g] = t.snapshot().gauges
        assert (g.name, g.labels, g.value) == ("ollama_requests_in_flight", (("model", "m"),), 1)
    s = t.snapshot()
    assert {g.value for g in s.gauges} == {0}
    job = next(h for h in s.histograms if h.name == "job_duration_seconds")
    assert job.labels == (("job_name", "j"), ("queue", "q"), ("status", "completed"))
    assert job.counts[0] == 1 and job.counts[BUCKETS.index(0.5)] == 2 and job.counts[-1] == 1
    assert job.total == pytest.approx(5000.601)
    cumulative = _cumulative(list(job.counts))
    assert cumulative[-1] == ("+Inf", 4.0) and cumulative[BUCKETS.index(0.25)][1] == 1.0
    t.reset()
    assert t.snapshot().histograms == ()


def test_supervisor_totals_keep_dead_workers_counts_but_not_their_gauges() -> None:
    a, b = Telemetry(), Telemetry()
    a.observe("x_seconds", 0.1, k="v")
    a.add("busy", 2)
    b.observe("x_seconds", 0.1, k="v")
    totals = TelemetryTotals()
    totals.update("a", a.snapshot())
    totals.update("b", b.snapshot())
    totals.update("b", b.snapshot())  # a repeated heartbeat counts nothing twice
    assert sum(totals.histograms()[("x_seconds", (("k", "v"),))][0]) == 2
    assert totals.gauges() == {("busy", ()): 2}
    totals.retire("a")
    assert sum(totals.histograms()[("x_seconds", (("k", "v"),))][0]) == 2
    assert totals.gauges() == {}
    totals.retire("a")  # reaped twice: still counted once
    assert sum(totals.histograms()[("x_seconds", (("k", "v"),))][0]) == 2


def test_job_name_labels_are_bounded() -> None:
    from workers.state import MAX_JOB_NAMES, WorkerContext

    ctx = WorkerContext(worker_id="w", worker_name="n", lock_duration_ms=30_000)
    assert ctx._label_for("send-email") == "send-email"
    assert ctx._label_for("x" * 65) == ctx._label_for("") == ctx._label_for("bad\n") == "_invalid"
    assert ctx._label_for("not-utf8-\udcff") == "_invalid"  # a lone surrogate kept from a non-UTF-8 name
    for i in range(MAX_JOB_NAMES):
        ctx._label_for(f"name-{i}")
    assert ctx._label_for("one-too-many") == "_other"
    assert ctx._label_for("name-3") == "name-3" and ctx._label_for("send-email") == "send-email"


def _worker_snapshot(names: list[str]) -> TelemetrySnapshot:
    t = Telemetry()
    for name in names:
        t.observe("job_duration_seconds", 0.01, queue="q", job_name=name, status="completed")
    t.observe("ollama_request_duration_seconds", 0.5, model="m")  # a processor's series: left alone
    return t.snapshot()


def test_job_name_labels_are_bounded_per_daemon_across_recycled_workers() -> None:
    from prometheus_client import CollectorRegistry, generate_latest
    from prometheus_client.parser import text_string_to_metric_families

    from pool.config import CorralConfig
    from pool.prometheus import PoolCollector
    from pool.supervisor import Supervisor
    from workers.state import MAX_JOB_NAMES

    cfg = CorralConfig.model_validate({"queues": [{"name": "q", "processor": "workers.processors.builtin:noop"}]})
    sup = Supervisor(cfg, "redis://127.0.0.1:1/0")  # not run: only its telemetry is read
    # 80 workers in turn (a pool recycling for weeks), each running 60 jobs with names no one used before,
    # plus the worker's own overflow and a name the first worker used: 4,800 distinct names in all.
    for w in range(80):
        names = [f"job-{w}-{i}" for i in range(60)] + ["_other", "job-0-0"]
        sup.state.telemetry.update(f"w{w}", _worker_snapshot(names))
        sup.state.telemetry.update(f"w{w}", _worker_snapshot(names))  # a repeated heartbeat
        if w < 79:
            sup.state.telemetry.retire(f"w{w}")
    registry = CollectorRegistry(auto_describe=False)
    registry.register(PoolCollector(sup.state))
    families = {f.name: f for f in text_string_to_metric_families(generate_latest(registry).decode())}
    completed = {s.labels["job_name"]: s.value for s in families["corral_jobs_completed"].samples
                 if s.name == "corral_jobs_completed_total"}
    assert len(completed) == MAX_JOB_NAMES + 1  # the first 100 names seen, and _other
    assert {f"job-0-{i}" for i in range(60)} | {f"job-1-{i}" for i in range(40)} | {"_other"} == set(completed)
    assert completed["job-0-0"] == 81  # two from the first worker, one from each other: never folded
    assert sum(completed.values()) == 80 * 62  # folded, not lost
    buckets = {s.labels["job_name"] for s in families["corral_job_duration_seconds"].samples}
    assert buckets == set(completed)
    [ollama] = [s for s in families["corral_ollama_request_duration_seconds"].samples if s.name.endswith("_count")]
    assert ollama.value == 80


def test_a_job_name_keeps_its_series_once_the_daemon_set_is_full() -> None:
    totals = TelemetryTotals(max_job_names=2)
    totals.update("a", _worker_snapshot(["x", "y"]))
    totals.update("b", _worker_snapshot(["z", "x"]))  # z comes too late: _other, x stays x
    totals.retire("a")
    totals.update("b", _worker_snapshot(["z", "x", "x"]))
    names = {dict(lb)["job_name"]: sum(c) for (n, lb), (c, _) in totals.histograms().items()
             if n == "job_duration_seconds"}
    assert names == {"x": 3, "y": 1, "_other": 1}

"""`/metrics`: the pool's state as Prometheus metrics, read from the supervisor at scrape time.

A custom collector rather than metric objects updated as things happen: the supervisor already holds
every figure (worker states, RSS, backlog, restarts, the workers' cumulative telemetry), so a scrape
reads them as they are and nothing can drift. Its own registry, so several supervisors in one process
(tests) do not collide.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterator

from prometheus_client import CollectorRegistry, PlatformCollector, ProcessCollector
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, HistogramMetricFamily, Metric
from prometheus_client.exposition import choose_encoder
from prometheus_client.registry import Collector
from starlette.requests import Request
from starlette.responses import Response

from pool.metrics import HistogramKey
from pool.state import SHARED, PoolState
from workers.telemetry import BUCKETS, Labels

WORKER_STATES = ("starting", "idle", "busy", "draining")
JOB_DURATION = "job_duration_seconds"


class PoolCollector(Collector):
    def __init__(self, state: PoolState) -> None:
        self.state = state

    def collect(self) -> Iterator[Metric]:
        histograms = sorted(self.state.telemetry.histograms().items())  # folded once per scrape
        yield from self._workers()
        yield from self._queues()
        yield from self._jobs(histograms)
        yield from self._events()
        yield from self._dependencies()
        yield from self._bullmq()
        yield from self._processor_telemetry(histograms)

    def _workers(self) -> Iterator[Metric]:
        sup = self.state
        states = GaugeMetricFamily("corral_workers", "Worker processes by state", labels=["state"])
        counts = dict.fromkeys(WORKER_STATES, 0)
        for w in sup.workers.values():
            counts[w.state()] = counts.get(w.state(), 0) + 1
        for state, n in counts.items():
            states.add_metric([state], n)
        yield states
        bounds = GaugeMetricFamily("corral_workers_bound", "The pool's configured size bounds", labels=["bound"])
        bounds.add_metric(["min"], sup.cfg.pool.min_workers)
        bounds.add_metric(["max"], sup.cfg.pool.max_workers)
        yield bounds
        rss = GaugeMetricFamily("corral_worker_resident_memory_bytes",
                                "RSS of a worker and its child processes", labels=["worker_id"])
        for w in sup.workers.values():
            rss.add_metric([w.worker_id], w.rss_bytes)
        yield rss
        cpu = GaugeMetricFamily("corral_worker_cpu_cores",
                                "CPU a worker used between its last two heartbeats, in cores (1.0: one core busy)",
                                labels=["worker_id"])
        for w in sup.workers.values():
            cpu.add_metric([w.worker_id], w.heartbeat.cpu_percent / 100 if w.heartbeat else 0.0)
        yield cpu
        limit = GaugeMetricFamily("corral_worker_memory_limit_bytes",
                                  "Worker RSS limits: soft (drain and replace) and hard (kill)", labels=["kind"])
        shared = sup.groups.get(SHARED) or next(iter(sup.groups.values()))
        limit.add_metric(["soft"], shared.limits.max_memory_bytes)
        limit.add_metric(["hard"], shared.limits.hard_memory_bytes)
        yield limit

    def _queues(self) -> Iterator[Metric]:
        jobs = GaugeMetricFamily("corral_queue_jobs", "Jobs in a BullMQ queue by state, at the last probe",
                                 labels=["queue", "state"])
        paused = GaugeMetricFamily("corral_queue_paused", "1 when the queue is paused", labels=["queue"])
        share = GaugeMetricFamily("corral_fleet_share",
                                  "Part of a queue's backlog this daemon scales for (shared with its peers)",
                                  labels=["queue"])
        for q, b in sorted(self.state.backlog.items()):
            for state, n in (("waiting", b.wait), ("prioritized", b.prioritized), ("delayed", b.delayed_total),
                             ("delayed_due", b.delayed_due), ("active", b.active)):
                jobs.add_metric([q, state], n)
            paused.add_metric([q], 1 if b.paused else 0)
            share.add_metric([q], self.state.fleet_shares.get(q, 1.0))
        yield jobs
        yield paused
        yield share

    def _jobs(self, histograms: list[tuple[HistogramKey, tuple[list[int], float]]]) -> Iterator[Metric]:
        families = {
            "completed": CounterMetricFamily("corral_jobs_completed", "Jobs completed by this daemon's workers",
                                             labels=["queue", "job_name"]),
            "failed": CounterMetricFamily("corral_jobs_failed", "Jobs that ended failed on this daemon's workers "
                                                                "(retries exhausted, or not retried)",
                                          labels=["queue", "job_name"]),
            "retried": CounterMetricFamily("corral_job_attempts_retried", "Failed attempts that were retried "
                                                                          "(not failed jobs)",
                                           labels=["queue", "job_name"]),
        }
        duration = HistogramMetricFamily("corral_job_duration_seconds", "Time a processor took per job",
                                         labels=["queue", "job_name"])
        merged: dict[tuple[str, str], tuple[list[int], float]] = {}
        for (name, labels), (counts, total) in histograms:
            if name != JOB_DURATION:
                continue
            lb = dict(labels)
            key = (lb.get("queue", ""), lb.get("job_name", ""))
            families[lb.get("status", "failed")].add_metric(list(key), sum(counts))
            have, sum_ = merged.get(key, ([0] * len(counts), 0.0))
            merged[key] = ([a + b for a, b in zip(have, counts, strict=True)], sum_ + total)
        for key, (counts, total) in merged.items():
            duration.add_metric(list(key), _cumulative(counts), total)
        yield from families.values()
        yield duration

    def _events(self) -> Iterator[Metric]:
        restarts = CounterMetricFamily("corral_worker_restarts", "Workers replaced, by reason", labels=["reason"])
        for reason, n in sorted(self.state.restart_counts.items()):
            restarts.add_metric([reason], n)
        yield restarts
        scaling = CounterMetricFamily("corral_scaling_decisions", "Scaling decisions taken", labels=["direction"])
        for direction in ("up", "down"):
            scaling.add_metric([direction], self.state.scaling_counts.get(direction, 0))
        yield scaling

    def _dependencies(self) -> Iterator[Metric]:
        up = GaugeMetricFamily("corral_dependency_up", "1 when a job type's dependency check passes (Ollama, "
                                                       "desci-server, build tools)", labels=["check"])
        for name, result in sorted(self.state.checks.items()):
            up.add_metric([name], 1 if result.ok else 0)
        yield up

    def _bullmq(self) -> Iterator[Metric]:
        """BullMQ's own names, as Node's Queue.exportPrometheusMetrics() writes them: dashboards and alerts made for
        BullMQ work unchanged. (The totals are BullMQ's per-queue metrics counts, kept by every worker that records
        metrics, corral's included.)"""
        count = GaugeMetricFamily("bullmq_job_count", "Number of jobs in the queue by state", labels=["queue", "state"])
        done = CounterMetricFamily("bullmq_job_completed", "Total number of completed jobs", labels=["queue"])
        failed = CounterMetricFamily("bullmq_job_failed", "Total number of failed jobs", labels=["queue"])
        for q, b in sorted(self.state.backlog.items()):
            for state, n in b.bullmq_counts().items():
                count.add_metric([q, state], n)
            done.add_metric([q], b.metrics_completed)
            failed.add_metric([q], b.metrics_failed)
        yield count
        yield done
        yield failed

    def _processor_telemetry(self, histograms: list[tuple[HistogramKey, tuple[list[int], float]]]
                             ) -> Iterator[Metric]:
        """What processors measure (Ollama calls, ...), named `corral_<name>` with their own labels."""
        by_name: dict[str, list[tuple[Labels, list[int], float]]] = {}
        for (name, labels), (counts, total) in histograms:
            if name != JOB_DURATION:
                by_name.setdefault(name, []).append((labels, counts, total))
        for name, series in by_name.items():
            keys = [k for k, _ in series[0][0]]
            fam = HistogramMetricFamily(f"corral_{name}", f"{name} reported by workers", labels=keys)
            for labels, counts, total in series:
                fam.add_metric([v for _, v in labels], _cumulative(counts), total)
            yield fam
        gauges: dict[str, list[tuple[Labels, float]]] = {}
        for (name, labels), value in sorted(self.state.telemetry.gauges().items()):
            gauges.setdefault(name, []).append((labels, value))
        for name, gseries in gauges.items():
            gfam = GaugeMetricFamily(f"corral_{name}", f"{name} reported by live workers",
                                     labels=[k for k, _ in gseries[0][0]])
            for labels, value in gseries:
                gfam.add_metric([v for _, v in labels], value)
            yield gfam


def _cumulative(counts: list[int]) -> list[tuple[str, float]]:
    out, running = [], 0
    for bound, n in zip((*BUCKETS, float("inf")), counts, strict=True):
        running += n
        out.append(("+Inf" if bound == float("inf") else repr(bound), float(running)))
    return out


def metrics_endpoint(state: PoolState) -> Callable[[Request], Awaitable[Response]]:
    registry = CollectorRegistry(auto_describe=False)
    registry.register(PoolCollector(state))
    ProcessCollector(namespace="corral_supervisor", registry=registry)  # the supervisor's own CPU and memory
    PlatformCollector(registry=registry)

    async def metrics(request: Request) -> Response:
        # Prometheus text or OpenMetrics, as the scraper's Accept header asks.
        encoder, content_type = choose_encoder(request.headers.get("accept", ""))
        return Response(encoder(registry), media_type=content_type)

    return metrics

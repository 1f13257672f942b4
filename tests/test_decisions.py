"""The supervisor's decisions as pure functions: no process, no Redis, no clock."""

from __future__ import annotations

from dataclasses import replace

from hypothesis import given, settings
from hypothesis import strategies as st

from pool.policy import (
    MB,
    Kill,
    Limits,
    QueueDemand,
    Replace,
    ScaleDecision,
    ScalerState,
    WorkerObs,
    health_action,
    poison_verdict,
    recycle_threshold,
    respawn_delay,
    scale,
    workers_needed,
)

LIMITS = Limits(max_memory_bytes=512 * MB, hard_memory_bytes=768 * MB, heartbeat_timeout=30,
                start_timeout=20, drain_timeout=60)
NOW = 10_000.0


def worker(wid: str = "w", **kw: object) -> WorkerObs:
    base = WorkerObs(worker_id=wid, state="idle", started_at=NOW - 100, last_seen=NOW - 1, rss_bytes=100 * MB,
                     jobs_held=0, jobs_done=0, recycle_after=None, drain_requested_at=None, idle_since=NOW - 50)
    return replace(base, **kw)  # type: ignore[arg-type]


def demand(runnable: int = 0, **kw: object) -> QueueDemand:
    base = QueueDemand(queue="q", runnable=runnable, held=0, paused=False, global_concurrency=None,
                       fleet_active=0, per_worker_concurrency=1)
    return replace(base, **kw)  # type: ignore[arg-type]


# -- health ---------------------------------------------------------------------------------------

def test_healthy_worker_is_left_alone() -> None:
    assert health_action(worker(), NOW, LIMITS) is None


def test_worker_that_does_not_start_in_time_is_killed_without_blame() -> None:
    a = health_action(worker(state="starting", started_at=NOW - 21), NOW, LIMITS)
    assert isinstance(a, Kill) and not a.blame_jobs and "did not start" in a.reason
    assert health_action(worker(state="starting", started_at=NOW - 19, last_seen=NOW - 19), NOW, LIMITS) is None


def test_silent_worker_is_hung_and_killed_with_blame() -> None:
    a = health_action(worker(state="busy", jobs_held=1, last_seen=NOW - 31), NOW, LIMITS)
    assert isinstance(a, Kill) and a.blame_jobs and "no heartbeat" in a.reason
    assert health_action(worker(state="busy", last_seen=NOW - 29), NOW, LIMITS) is None


def test_memory_over_limit_drains_and_over_hard_ceiling_kills() -> None:
    soft = health_action(worker(state="busy", rss_bytes=600 * MB), NOW, LIMITS)
    assert isinstance(soft, Replace) and "600 MB over the limit 512 MB" in soft.reason
    hard = health_action(worker(state="busy", rss_bytes=800 * MB), NOW, LIMITS)
    assert isinstance(hard, Kill) and hard.blame_jobs and "hard ceiling" in hard.reason


def test_draining_worker_is_not_drained_again_but_killed_past_drain_timeout() -> None:
    draining = worker(state="draining", rss_bytes=600 * MB, drain_requested_at=NOW - 10)
    assert health_action(draining, NOW, LIMITS) is None
    late = replace(draining, drain_requested_at=NOW - 61)
    a = health_action(late, NOW, LIMITS)
    assert isinstance(a, Kill) and "draining" in a.reason
    # a draining worker still breaching the hard ceiling is killed at once
    assert isinstance(health_action(replace(draining, rss_bytes=900 * MB), NOW, LIMITS), Kill)


def test_recycle_after_its_job_quota_or_age_by_a_replacement_first() -> None:
    assert health_action(worker(jobs_done=99, recycle_after=100), NOW, LIMITS) is None
    a = health_action(worker(jobs_done=100, recycle_after=100), NOW, LIMITS)
    assert isinstance(a, Replace) and "recycled after 100 jobs" in a.reason and a.category == "recycled"
    old = worker(started_at=NOW - 3601, max_age=3600.0)
    a = health_action(old, NOW, LIMITS)
    assert isinstance(a, Replace) and "max_worker_age" in a.reason
    # once its replacement is starting, nothing more is asked of it (it drains when that one is ready)
    assert health_action(replace(old, replacing=True), NOW, LIMITS) is None


def test_rule_order_silence_beats_memory() -> None:
    a = health_action(worker(last_seen=NOW - 40, rss_bytes=900 * MB), NOW, LIMITS)
    assert isinstance(a, Kill) and "heartbeat" in a.reason


# -- demand ---------------------------------------------------------------------------------------

def test_workers_needed_counts_runnable_and_held_per_concurrency() -> None:
    assert workers_needed(demand(0)) == 0
    assert workers_needed(demand(10, per_worker_concurrency=4)) == 3
    assert workers_needed(demand(3, held=5, per_worker_concurrency=4)) == 2


def test_paused_queue_needs_only_what_is_held() -> None:
    assert workers_needed(demand(1000, paused=True, held=2, per_worker_concurrency=1)) == 2


def test_global_concurrency_caps_runnable_work() -> None:
    # 100 waiting, but the queue allows 5 at once and 3 already run somewhere in the fleet
    assert workers_needed(demand(100, global_concurrency=5, fleet_active=3)) == 2
    assert workers_needed(demand(100, global_concurrency=5, fleet_active=9)) == 0


def test_fleet_share_takes_a_part_of_the_backlog() -> None:
    assert workers_needed(demand(10, fleet_share=0.5)) == 5
    assert workers_needed(demand(3, fleet_share=0.5)) == 2  # rounded up: no job left unserved


# -- scaling --------------------------------------------------------------------------------------

EMPTY = ScalerState()


def decide(demands: list[QueueDemand], workers: list[WorkerObs], state: ScalerState = EMPTY,
           now: float = NOW, **kw: object) -> ScaleDecision:
    opts = {"min_workers": 1, "max_workers": 5, "scale_down_delay": 30.0, **kw}
    return scale(now, demands, workers, state, **opts)  # type: ignore[arg-type]


def test_grows_at_once_to_the_backlog_clamped_to_max() -> None:
    d = decide([demand(3)], [worker("a")])
    assert d.spawn == 2 and "scale up 1 -> 3" in d.reason and "runnable=3" in d.reason
    d = decide([demand(50)], [worker("a")])
    assert d.spawn == 4


def test_keeps_min_workers_with_no_backlog() -> None:
    d = decide([demand(0)], [], min_workers=2)
    assert d.spawn == 2


def test_starting_workers_count_so_a_backlog_is_not_spawned_for_twice() -> None:
    d = decide([demand(3)], [worker("a"), worker("b", state="starting"), worker("c", state="starting")])
    assert d.spawn == 0


def test_draining_workers_do_not_count_as_serving() -> None:
    d = decide([demand(2)], [worker("a", state="draining"), worker("b")])
    assert d.spawn == 1


def test_shrinks_only_after_the_delay_and_only_idle_workers_oldest_idle_first() -> None:
    ws = [worker("busy", state="busy", jobs_held=1, idle_since=None), worker("new", idle_since=NOW - 5),
          worker("old", idle_since=NOW - 500), worker("start", state="starting")]
    first = decide([demand(0)], ws)
    assert first.drain == () and first.state.low_since == NOW
    early = decide([demand(0)], ws, state=first.state, now=NOW + 29)
    assert early.drain == ()
    late = decide([demand(0)], ws, state=first.state, now=NOW + 31)
    assert late.drain == ("old", "new")
    assert "scale down 4 -> 2" in late.reason and late.state.low_since is None


def test_demand_coming_back_resets_the_shrink_clock() -> None:
    ws = [worker("a"), worker("b")]
    low = decide([demand(0)], ws)
    back = decide([demand(2)], ws, state=low.state, now=NOW + 10)
    assert back.state.low_since is None and back.drain == ()


def test_autoscale_off_keeps_min() -> None:
    d = decide([demand(100)], [worker("a")], min_workers=2, autoscale=False)
    assert d.spawn == 1 and "autoscaling off" in d.reason


def test_several_queues_the_most_demanding_wins() -> None:
    d = decide([demand(2, queue="a"), demand(8, queue="b", per_worker_concurrency=2)], [worker("x")])
    assert d.spawn == 3


states = st.sampled_from(["starting", "idle", "busy", "draining"])
obs = st.builds(worker, wid=st.uuids().map(str), state=states, jobs_held=st.integers(0, 5),
                idle_since=st.one_of(st.none(), st.floats(NOW - 1000, NOW)))
demands = st.builds(demand, runnable=st.integers(0, 10_000), held=st.integers(0, 50), paused=st.booleans(),
                    global_concurrency=st.one_of(st.none(), st.integers(0, 100)),
                    fleet_active=st.integers(0, 200), per_worker_concurrency=st.integers(1, 50))


@settings(max_examples=300, deadline=None)
@given(demands=st.lists(demands, max_size=4), workers=st.lists(obs, max_size=12),
       low_since=st.one_of(st.none(), st.floats(NOW - 100, NOW)), mn=st.integers(0, 4), extra=st.integers(0, 8),
       delay=st.floats(0, 60))
def test_scale_never_breaks_the_bounds(demands: list[QueueDemand], workers: list[WorkerObs],
                                       low_since: float | None, mn: int, extra: int, delay: float) -> None:
    mx = mn + extra if mn + extra > 0 else 1
    d = scale(NOW, demands, workers, ScalerState(low_since), min_workers=mn, max_workers=mx,
              scale_down_delay=delay)
    serving = [w for w in workers if w.state != "draining"]
    assert d.spawn >= 0 and not (d.spawn and d.drain)
    assert d.spawn == 0 or len(serving) + d.spawn <= mx
    by_id = {w.worker_id: w for w in workers}
    assert all(by_id[i].state == "idle" for i in d.drain)
    if len(serving) >= mn:
        assert len(serving) + d.spawn - len(d.drain) >= mn


# -- restarts ---------------------------------------------------------------------------------------

def test_respawn_backoff_doubles_and_caps() -> None:
    assert [respawn_delay(n) for n in range(0, 5)] == [0.0, 0.5, 1.0, 2.0, 4.0]
    assert respawn_delay(50) == 30.0


def test_recycle_threshold_with_jitter() -> None:
    assert recycle_threshold(0, 0.1, 0.5) is None
    assert recycle_threshold(100, 0.1, 0.0) == 100
    assert abs((recycle_threshold(100, 0.1, 0.999) or 0) - 109.99) < 1e-9


def test_poison_verdict() -> None:
    assert not poison_verdict(2, 3) and poison_verdict(3, 3)

"""Small pure pieces: configuration precedence and errors, backoff, job parsing, processor paths, counters."""

from __future__ import annotations

import json
import random
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from pool.config import ConfigError, load_config, parse_queue_flag
from pool.metrics import Counters, Throughput
from workers.backoff import InvalidBackoffError, UnknownBackoffError, backoff_delay_ms
from workers.bullmq_scripts import keep_jobs, parse_fetch
from workers.errors import InvalidJobError, ProcessorImportError
from workers.job import attempts_of, parse_job_hash
from workers.protocol import Tally
from workers.registry import resolve

QUEUE = '[[queues]]\nname = "q"\nprocessor = "workers.processors.builtin:echo"\n'


def write(tmp_path: Path, text: str) -> Path:
    p = tmp_path / "corral.toml"
    p.write_text(text)
    return p


# -- configuration ----------------------------------------------------------------------------------

def test_defaults_file_env_flags_precedence(tmp_path: Path) -> None:
    f = write(tmp_path, "[pool]\nmin_workers = 1\nmax_workers = 6\nmax_memory_mb = 300\n" + QUEUE)
    cfg = load_config(f, env={})
    assert (cfg.pool.min_workers, cfg.pool.max_workers, cfg.pool.max_memory_mb) == (1, 6, 300)
    assert cfg.pool.heartbeat_timeout == 30.0 and cfg.redis.url == ""  # defaults
    cfg = load_config(f, env={"CORRAL_MIN_WORKERS": "3", "REDIS_URL": "redis://h:1/0"})
    assert cfg.pool.min_workers == 3 and cfg.redis.url == "redis://h:1/0"  # env beats file
    cfg = load_config(f, env={"CORRAL_MIN_WORKERS": "3"}, overrides={"pool": {"min_workers": 4}})
    assert cfg.pool.min_workers == 4 and cfg.pool.max_workers == 6  # flags beat env, rest kept


@pytest.mark.parametrize(("text", "needle"), [
    ("[pool]\nmin_wrokers = 1\n" + QUEUE, "pool.min_wrokers: unknown key"),
    ("surprise = 1\n" + QUEUE, "surprise: unknown key"),
    ("[pool]\nmin_workers = 5\nmax_workers = 2\n" + QUEUE, "min_workers (5) is greater than max_workers (2)"),
    ("[pool]\nmax_memory_mb = 512\nhard_memory_mb = 100\n" + QUEUE, "hard_memory_mb (100) is below max_memory_mb"),
    ('[[queues]]\nname = "a:b"\nprocessor = "m:f"\n', "must be non-empty, without ':'"),
    ('[[queues]]\nname = "a"\nprocessor = "not a path"\n', "must look like 'package.module:function'"),
    (QUEUE + QUEUE, "queue 'q' is configured twice"),
    ("jobtypes = []\n[pool]\nmin_workers = 1\n", "no queues configured"),
    ("[emial]\nx = 1\n" + QUEUE, "[emial]: unknown table"),
    ("[email]\ndatabse = 'x'\n" + QUEUE, "email.databse: unknown key"),
    ("jobtypes = ['nope']\n" + QUEUE, "job type 'nope' is not installed"),
    ("[pool\n", "not valid TOML"),
    ('[pool]\nmax_workers = "lots"\n' + QUEUE, "pool.max_workers"),
])
def test_bad_configuration_gives_one_line_naming_it(tmp_path: Path, text: str, needle: str) -> None:
    with pytest.raises(ConfigError) as e:
        load_config(write(tmp_path, text), env={})
    assert needle in str(e.value) and "\n" not in str(e.value)


@pytest.mark.parametrize(("env", "needle"), [
    ({"CORRAL_MAX_WORKRS": "5"}, "unknown environment variable CORRAL_MAX_WORKRS (did you mean CORRAL_MAX_WORKERS?)"),
    ({"CORRAL_EMAIL_OLAMA__HOST": "x"}, "unknown environment variable CORRAL_EMAIL_OLAMA__HOST"),
    ({"CORRAL_MAX_WORKERS": "many"}, "pool.max_workers"),
    ({"CORRAL_EMAIL_OLLAMA__PHASE2_TEMPERATURE": "9"}, "email.ollama.phase2_temperature"),
])
def test_bad_environment_gives_one_line_naming_it(tmp_path: Path, env: dict[str, str], needle: str) -> None:
    with pytest.raises(ConfigError) as e:
        load_config(write(tmp_path, QUEUE), env=env)
    assert needle in str(e.value) and "\n" not in str(e.value)


def test_the_variables_read_outside_the_settings_are_known(tmp_path: Path) -> None:
    # CORRAL_PURE_PYTHON=1 (docs/email.md) was refused as "unknown" by every corral command
    cfg = load_config(write(tmp_path, QUEUE), env={"CORRAL_PURE_PYTHON": "1", "CORRAL_LOG_FORMAT": "json"})
    assert cfg.queues


def test_job_types_settings_from_their_table_their_file_and_the_environment(tmp_path: Path) -> None:
    f = write(tmp_path, "[email]\ndatabase = 'mail.db'\n" + QUEUE)
    (tmp_path / "myst.toml").write_text("build_timeout = 60.0\n")
    cfg = load_config(f, env={"OLLAMA_HOST": "http://gpu:11434", "CORRAL_MYST_MAX_BODY_KB": "8"})
    email, myst = cfg.jobtype_settings["email"], cfg.jobtype_settings["myst"]
    assert email.database == "mail.db" and email.ollama.host == "http://gpu:11434"  # type: ignore[attr-defined]
    assert myst.build_timeout == 60.0 and myst.max_body_kb == 8  # type: ignore[attr-defined]
    assert {q.name for q in cfg.queues} == {"q", "email-processing", "myst-build"}  # the job types' own queues
    build = next(q for q in cfg.queues if q.name == "myst-build")
    assert build.own_workers and build.max_memory_mb == 2048  # builds get workers of their own
    cfg = load_config(f, env={"CORRAL_EMAIL_OLLAMA__HOST": "http://a:1", "OLLAMA_HOST": "http://b:2"})
    assert cfg.jobtype_settings["email"].ollama.host == "http://a:1"  # type: ignore[attr-defined]


def test_no_file_means_the_built_in_defaults(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)  # no corral.toml here: as after `pip install .`, from any folder
    cfg = load_config(env={"CORRAL_DATA_DIR": "/var/lib/corral"})
    assert cfg.source == "" and {q.name for q in cfg.queues} == {"email-processing", "myst-build"}
    assert cfg.place.data("email_analysis.sqlite") == Path("/var/lib/corral/email_analysis.sqlite")
    assert cfg.embedded_dir == Path("/var/lib/corral/redis")


def test_missing_explicit_file_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="does not exist"):
        load_config(tmp_path / "nope.toml", env={})


def test_queue_flags() -> None:
    assert parse_queue_flag("emails=app.jobs:run") == {"name": "emails", "processor": "app.jobs:run"}
    assert parse_queue_flag("emails=app.jobs:run@5")["concurrency"] == 5
    for bad in ("emails", "=a:b", "emails=", "emails=a:b@x"):
        with pytest.raises(ConfigError):
            parse_queue_flag(bad)


def test_the_shipped_config_files_are_valid() -> None:
    root = Path(__file__).resolve().parent.parent
    for f in [root / "config" / "corral.toml", *sorted(root.glob("config/examples/*.toml"))]:
        cfg = load_config(f, env={})
        for q in cfg.queues:
            resolve(q.processor)
    from workers.email.rules import load_senders
    from workers.email.settings import load_settings

    settings = load_settings()
    assert load_senders(settings.catalogue("senders")).category("x@ourcompany.com") == "internal"


# -- backoff ----------------------------------------------------------------------------------------

def test_backoffs_as_node_computes_them() -> None:
    assert backoff_delay_ms(None, 1) == 0
    assert backoff_delay_ms(500, 3) == 500
    assert [backoff_delay_ms({"type": "fixed", "delay": 300}, n) for n in (1, 2, 3)] == [300, 300, 300]
    assert [backoff_delay_ms({"type": "exponential", "delay": 2000}, n) for n in (1, 2, 3)] == [2000, 4000, 8000]
    rng = random.Random(1)
    for _ in range(50):
        d = backoff_delay_ms({"type": "fixed", "delay": 1000, "jitter": 0.5}, 1, rng)
        assert 500 <= d <= 1000
    with pytest.raises(UnknownBackoffError, match="unknown backoff strategy 'custom'"):
        backoff_delay_ms({"type": "custom", "delay": 1}, 1)


@pytest.mark.parametrize(("backoff", "named"), [
    ({"type": "fixed", "delay": "soon"}, "'backoff.delay'"),
    ({"type": "fixed", "delay": -5}, "'backoff.delay' is negative"),
    ({"type": "exponential", "delay": 10, "jitter": 2}, "'backoff.jitter'"), ("later", "'backoff'"),
    (float("inf"), "'backoff'"),
])
def test_invalid_backoffs_are_named(backoff: object, named: str) -> None:
    with pytest.raises(InvalidBackoffError, match=named):
        backoff_delay_ms(backoff, 1)


# -- job hashes and script replies ------------------------------------------------------------------

def test_parse_job_hash() -> None:
    h = parse_job_hash({"name": "n", "data": '{"a": 1}', "opts": '{"attempts": 3}', "atm": "2", "ats": "3",
                        "stc": "1", "timestamp": "17", "rjk": "tick", "defa": "stalled", "parentKey": "bull:p:1",
                        "parent": '{"id": "1", "queueKey": "bull:p"}'})
    assert (h.name, h.data, h.opts, h.attempts_made, h.attempts_started, h.stalled_counter, h.timestamp) == (
        "n", {"a": 1}, {"attempts": 3}, 2, 3, 1, 17)
    assert (h.repeat_job_key, h.deferred_failure, h.parent_key) == ("tick", "stalled", "bull:p:1")
    assert h.parent == {"id": "1", "queueKey": "bull:p"}
    with pytest.raises(InvalidJobError, match="job data is not valid JSON"):
        parse_job_hash({"name": "n", "data": "{", "opts": "{}"})
    with pytest.raises(InvalidJobError, match="job opts is not a JSON object"):
        parse_job_hash({"name": "n", "data": "{}", "opts": "3"})


@pytest.mark.parametrize(("field", "value", "named"), [
    ("atm", "x", "'atm'"), ("ats", "1.5", "'ats'"), ("stc", "NaN", "'stc'"), ("timestamp", "yesterday", "'timestamp'"),
    ("data", "[" * 200_000, "data is nested too deeply"), ("data", "NaN", "data is not valid JSON"),
    ("parent", "{", "parent is not valid JSON"), ("opts", '{"attempts": Infinity}', "opts is not valid JSON"),
])
def test_corrupt_fields_are_named(field: str, value: str, named: str) -> None:
    raw = {"name": "n", "data": "{}", "opts": "{}", "timestamp": "1", field: value}
    with pytest.raises(InvalidJobError, match=named):
        parse_job_hash(raw)


def test_a_deleted_hash_is_not_a_job() -> None:
    # What moveToActive leaves of a job whose hash was deleted while it waited.
    with pytest.raises(InvalidJobError, match="job hash is missing"):
        parse_job_hash({"processedOn": "1", "pb": "w", "ats": "1"})


@pytest.mark.parametrize(("attempts", "ok"), [(None, 1), (3, 3), (0, 1), ("4", 4), (3.0, 3), ("x", None),
                                               (float("nan"), None), (1e999, None), (2.5, None), (True, None)])
def test_attempts_option(attempts: object, ok: int | None) -> None:
    opts = {} if attempts is None else {"attempts": attempts}
    if ok is None:
        with pytest.raises(InvalidJobError, match="'attempts'"):
            attempts_of(opts)
    else:
        assert attempts_of(opts) == ok


@given(st.text(), st.text())
def test_parse_job_hash_only_ever_raises_invalid_job(data: str, opts: str) -> None:
    try:
        parse_job_hash({"name": "n", "data": data, "opts": opts})
    except InvalidJobError:
        pass


def test_keep_jobs_matches_node() -> None:
    assert keep_jobs(True) == {"count": 0}
    assert keep_jobs(False) == {"count": -1} and keep_jobs(None) == {"count": -1}
    assert keep_jobs(1000) == {"count": 1000}
    assert keep_jobs({"age": 3600, "count": 10}) == {"age": 3600, "count": 10}


def test_parse_fetch_shapes() -> None:
    got = parse_fetch([["name", "n", "data", "{}"], "7", 0, 0])
    assert got.job_id == "7" and got.job == {"name": "n", "data": "{}"}
    assert parse_fetch(None).job_id is None
    limited = parse_fetch([0, 0, 1500, 0])
    assert limited.job_id is None and limited.rate_limit_ms == 1500
    assert parse_fetch([0, 0, 0, 1_700_000_000_000]).next_delayed_ms == 1_700_000_000_000


# -- processor paths ------------------------------------------------------------------------------

@pytest.mark.parametrize(("path", "needle"), [
    ("no_colon", "not of the form 'module:attribute'"),
    ("corral_missing_mod:f", "cannot import module 'corral_missing_mod'"),
    ("workers.processors.builtin:missing", "has no attribute 'missing'"),
    ("workers.processors.builtin:__doc__", "is not callable"),
])
def test_resolve_errors_are_clear(path: str, needle: str) -> None:
    with pytest.raises(ProcessorImportError, match=needle.replace("(", r"\(").replace(")", r"\)")):
        resolve(path)


def test_resolve_mapping_and_unknown_names() -> None:
    procs = resolve("tests.procs:interop")
    assert procs.for_name("q", "echo").is_async
    with pytest.raises(InvalidJobError, match=r"no processor for job name 'zzz' on queue 'q' \(known names: echo"):
        procs.for_name("q", "zzz")
    assert not resolve("tests.procs:tracked_sync").default.is_async  # type: ignore[union-attr]
    assert resolve("tests.procs:validated").default.data_model is not None  # type: ignore[union-attr]


# -- counting -------------------------------------------------------------------------------------

def test_counters_count_each_job_once() -> None:
    c = Counters()
    c.update("a", Tally(5, 1, 2, 2.0), {"q": Tally(5, 1, 2, 2.0)})
    c.update("a", Tally(5, 1, 2, 2.0), {"q": Tally(5, 1, 2, 2.0)})  # the same heartbeat twice
    c.update("b", Tally(3, 0, 0, 1.0), {"q": Tally(3, 0, 0, 1.0)})
    c.update("a", Tally(7, 1, 3, 3.0), {"q": Tally(7, 1, 3, 3.0)})  # later totals replace, never add
    assert c.totals() == Tally(10, 1, 3, 4.0)
    assert c.queue_totals() == {"q": Tally(10, 1, 3, 4.0)}


def test_failures_are_grouped_by_reason_and_counted_once() -> None:
    from pool.failures import Failures
    from workers.failures import RECENT, FailureLog

    w1, w2 = FailureLog(), FailureLog()
    f = Failures()
    for i in range(1, 4):
        w1.note("q", str(40 + i), "n", f"Ollama unreachable: job {40 + i}", final=False, now=100 + i)
    f.take("w1", tuple(w1.recent), tuple(w1.counts.values()))
    # Between two heartbeats, more failures than a heartbeat's notes hold: the counts still have every one.
    for i in range(4, 4 + 3 * RECENT):
        w1.note("q", str(40 + i), "n", f"Ollama unreachable: job {40 + i}", final=True, now=100 + i)
    f.take("w1", tuple(w1.recent), tuple(w1.counts.values()))
    f.take("w1", tuple(w1.recent), tuple(w1.counts.values()))  # the same heartbeat again: nothing counted twice
    w2.note("q", "99", "n", "bad data in field 'x'", final=True, now=500)
    f.take("w2", tuple(w2.recent), tuple(w2.counts.values()))
    d = f.as_dict()
    assert d["retried"] == [{"reason": "Ollama unreachable: job 41", "count": 3, "lastAt": 103, "queue": "q",
                             "jobId": "43"}]
    assert [(r["reason"], r["count"]) for r in d["final"]] == [("Ollama unreachable: job 44", 3 * RECENT),
                                                                ("bad data in field 'x'", 1)]
    assert [r["jobId"] for r in d["recent"]][-2:] == [str(43 + 3 * RECENT), "99"]
    f.forget("w1")  # the worker is gone, its counts are not
    assert f.as_dict()["final"] == d["final"] and f.as_dict()["retried"] == d["retried"]


def test_a_worker_counts_a_bounded_number_of_failure_reasons() -> None:
    from workers.failures import MAX_REASONS, OTHER_REASONS, FailureLog

    log = FailureLog()
    for i in range(MAX_REASONS + 5):
        log.note("q", "1", "n", f"cause {chr(65 + i % 26)}{chr(65 + i // 26)}", final=True, now=float(i))
    assert len(log.counts) == MAX_REASONS + 1
    assert log.counts[(True, OTHER_REASONS)].count == 5


def test_throughput_over_the_window() -> None:
    t = Throughput(window=60)
    assert t.add(0, 0) == 0
    assert t.add(10, 100) == 10.0
    assert t.add(100, 1000) == pytest.approx(900 / 90)  # the sample at t=0 left the window


def test_snapshot_counts_each_outcome_by_its_name() -> None:
    from pool.state import PoolState
    from tests.pool_harness import make_config

    state = PoolState(make_config("redis://x:1/0", [("q", "workers.processors.builtin:echo", 1)]), started_at=0)
    state.counters.update("a", Tally(4, 1, 3, 4.0), {"q": Tally(4, 1, 3, 4.0)})
    snap = state.snapshot(now=10)
    assert (snap["totalProcessed"], snap["totalFailed"], snap["totalRetried"]) == (4, 1, 3)
    assert snap["averageProcessingTime"] == 500.0 and snap["queueDepth"] == 0  # 4 s over 8 attempts
    json.dumps(snap)


json_values = st.recursive(st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(),
                           lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(), inner, max_size=4),
                           max_leaves=20)


@given(st.dictionaries(st.sampled_from(["id", "conversationId", "emails", "priority", "options", "x"]), json_values))
def test_email_job_validation_fails_only_with_a_described_validation_error(data: dict[str, object]) -> None:
    from pydantic import ValidationError

    from workers.consumer import describe_validation_error
    from workers.email.schema import EmailJob

    try:
        EmailJob.model_validate(data)
    except ValidationError as e:
        message = describe_validation_error(e)
        assert message.startswith("invalid job data: field '") and "\n" not in message

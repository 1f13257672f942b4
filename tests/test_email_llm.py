"""Phases 2 and 3 against the Ollama-API stand-in: real client, real HTTP, scripted answers and failures."""

from __future__ import annotations

import asyncio
import json
import urllib.request
from pathlib import Path
from typing import Any

import pytest
import redis

from tests.pool_harness import RunningPool, add_jobs, job_hash, job_state, make_config, wait_for
from tests.test_email_job import email, job_data, rows

Q = "email-processing"


@pytest.fixture
def email_cfg(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, redis_url: str, ollama_standin: str) -> Any:
    def configure(phase2: str = "good", phase3: str = "good", **ollama: Any) -> Path:
        db = tmp_path / "emails.sqlite"
        opts = {"host": ollama_standin, "phase2_model": phase2, "phase3_model": phase3, "request_timeout": 5.0,
                **ollama}  # `host` may be overridden: the real-model tier points it at its own server
        lines = [f'database = "{db}"', "[ollama]"] + [f"{k} = {json.dumps(v)}" for k, v in opts.items()]
        cfg = tmp_path / "email.toml"
        cfg.write_text("\n".join(lines) + "\n")
        monkeypatch.setenv("CORRAL_EMAIL_CONFIG", str(cfg))
        monkeypatch.delenv("CORRAL_EMAIL_DATABASE", raising=False)
        monkeypatch.delenv("OLLAMA_HOST", raising=False)
        monkeypatch.setenv("TEST_REDIS_URL", redis_url)

        return db

    return configure


def stats(url: str) -> dict[str, Any]:
    with urllib.request.urlopen(f"{url}/stats") as r:
        result: dict[str, Any] = json.loads(r.read())
    return result


def reset(url: str) -> None:
    urllib.request.urlopen(urllib.request.Request(f"{url}/reset", method="POST"))


async def run_job(redis_url: str, data: dict[str, Any], opts: dict[str, Any], state: str = "completed",
                  timeout: float = 40, **pool: Any) -> dict[str, str]:
    r = redis.Redis.from_url(redis_url)
    cfg = make_config(redis_url, [(Q, "workers.email.processor:processors", 2)], min_workers=1, max_workers=1,
                      **pool)
    async with RunningPool(cfg):
        [j] = await add_jobs(redis_url, Q, [("process-emails", data, opts)])
        await wait_for(lambda: job_state(r, Q, j) == state, timeout, f"the job to end {state}")
    return job_hash(r, Q, j)


async def test_all_three_phases_run_and_every_output_is_stored(redis_url: str, email_cfg: Any) -> None:
    db = email_cfg("good", "good-large")
    h = await run_job(redis_url, job_data([email(0), email(1), email(2)]), {})
    summary = json.loads(h["returnvalue"])
    assert all(e["phases"] == ["phase1", "phase2", "phase3"] and e["fallbacks"] == {} for e in summary["emails"])
    stored = rows(db)
    assert len(stored) == 3 and all(s["needs_reanalysis"] == 0 for s in stored)
    p2 = json.loads(stored[0]["phase2"])
    assert p2["business_process"] == "order fulfilment" and p2["confidence"] == 0.8
    assert json.loads(stored[0]["phase3"])["executive_summary"] == "Customer chasing a delivery."
    assert json.loads(stored[0]["models"]) == {"phase2": "good", "phase3": "good-large"}
    assert set(json.loads(stored[0]["timings_ms"])) == {"phase1", "phase2", "phase3"}


async def test_phase3_only_for_complete_chains_unless_forced(redis_url: str, email_cfg: Any) -> None:
    db = email_cfg()
    short = [email(0)]
    h = await run_job(redis_url, job_data(short), {})
    assert json.loads(h["returnvalue"])["emails"][0]["phases"] == ["phase1", "phase2"]
    assert rows(db)[0]["phase3"] is None
    h = await run_job(redis_url, job_data(short, id="job-2", options={"forceAllPhases": True}), {})
    assert json.loads(h["returnvalue"])["emails"][0]["phases"] == ["phase1", "phase2", "phase3"]


@pytest.mark.parametrize("model", ["garbage", "wrong-shape"])
async def test_garbage_answers_are_fallbacks_never_stored_as_real(redis_url: str, email_cfg: Any,
                                                                  model: str) -> None:
    db = email_cfg(model, model)
    h = await run_job(redis_url, job_data([email(0), email(1), email(2)]), {})
    for e in json.loads(h["returnvalue"])["emails"]:
        assert e["phases"] == ["phase1"]
        assert e["fallbacks"]["phase2"].startswith("invalid answer twice")
        assert "phase3" in e["fallbacks"]
    stored = rows(db)
    assert all(s["phase2"] is None and s["phase3"] is None and s["needs_reanalysis"] == 1 for s in stored)


async def test_one_bad_answer_is_retried_with_a_stricter_prompt(redis_url: str, email_cfg: Any,
                                                                ollama_standin: str) -> None:
    email_cfg("garbage-once")
    h = await run_job(redis_url, job_data([email(0)]), {})
    assert json.loads(h["returnvalue"])["emails"][0]["phases"] == ["phase1", "phase2"]
    assert stats(ollama_standin)["requests"].get("garbage-once", 0) >= 2


async def test_outage_retries_then_stores_phase1_marked_for_reanalysis(redis_url: str, email_cfg: Any) -> None:
    db = email_cfg("error", "error")
    opts = {"attempts": 2, "backoff": {"type": "fixed", "delay": 200}}
    h = await run_job(redis_url, job_data([email(0), email(1), email(2)]), opts)
    assert h["atm"] == "2"  # the first attempt was retried through BullMQ's backoff
    summary = json.loads(h["returnvalue"])
    assert all("Ollama answered 500" in e["fallbacks"]["phase2"] for e in summary["emails"])
    stored = rows(db)
    assert len(stored) == 3 and all(s["needs_reanalysis"] == 1 and s["runs"] == 1 for s in stored)


async def test_a_hanging_ollama_hits_the_job_timeout_and_stores_nothing(redis_url: str, email_cfg: Any) -> None:
    db = email_cfg("hang", request_timeout=30.0)
    data = job_data([email(0)], options={"timeout": 1500})
    h = await run_job(redis_url, data, {"attempts": 1}, state="failed")
    assert "longer than its timeout of 1.5s" in h["failedReason"]
    assert not db.exists() or rows(db) == []


async def test_pool_wide_ollama_concurrency_is_capped(redis_url: str, email_cfg: Any, ollama_standin: str) -> None:
    email_cfg("slow", per_worker_concurrency=3, pool_concurrency=2)
    r = redis.Redis.from_url(redis_url)
    reset(ollama_standin)
    cfg = make_config(redis_url, [(Q, "workers.email.processor:processors", 2)], min_workers=2, max_workers=2)
    jobs = [("process-emails", job_data([email(i, conv=f"c{n}") for i in range(2)], id=f"j{n}",
                                        conversationId=f"c{n}"), {}) for n in range(4)]
    async with RunningPool(cfg):
        ids = await add_jobs(redis_url, Q, jobs)
        await wait_for(lambda: all(job_state(r, Q, i) == "completed" for i in ids), 60, "all jobs")
    s = stats(ollama_standin)
    assert s["requests"]["slow"] >= 8
    assert s["max_in_flight"]["slow"] == 2  # 2 workers x 3 local slots, held to 2 by the pool-wide lease


@pytest.mark.slow
async def test_real_model_answers_hold_up_through_client_prompts_schema_and_validation(
        redis_url: str, email_cfg: Any, real_model: str) -> None:
    """SmolLM2-135M is weak in content but real: what it says is structure-checked, never trusted blindly.

    Each phase must end either as a real answer that validates against its schema, or as a fallback whose reason is
    a validation error; at least one answer must be real, or the prompts and schemas do not work with real models.
    """
    from workers.email.llm import Phase2Output, Phase3Output

    # Temperature 0: greedy decoding, the same run every time (sampled, anywhere from 0 to 2 of the 4 answers
    # fitted in num_predict from one run to the next).
    db = email_cfg("smollm2:135m", "smollm2:135m", host=real_model, request_timeout=120.0, num_predict=768,
                   per_worker_concurrency=1, phase2_temperature=0.0, phase3_temperature=0.0)
    mails = [email(0, body="PO 4500123456 is late. Please confirm the new delivery date by Friday."),
             email(1, body="Invoice INV-2231 for $4,500 is attached. Payment is due in 30 days.")]
    h = await run_job(redis_url, job_data(mails, options={"forceAllPhases": True, "timeout": 600_000}), {},
                      timeout=600)
    summary = json.loads(h["returnvalue"])
    stored = {s["email_id"]: s for s in rows(db)}
    assert set(stored) == {"c1-e0", "c1-e1"}
    real = 0
    for e in summary["emails"]:
        row = stored[e["id"]]
        assert json.loads(row["models"]) == {"phase2": "smollm2:135m", "phase3": "smollm2:135m"}
        for phase, schema in (("phase2", Phase2Output), ("phase3", Phase3Output)):
            if phase in e["phases"]:
                schema.model_validate(json.loads(row[phase]))  # what is stored as real is a valid answer
                real += 1
            else:
                assert e["fallbacks"][phase].startswith("invalid answer twice"), e["fallbacks"]
                assert row[phase] is None and row["needs_reanalysis"] == 1
    print(f"real model: {real} of 4 phase answers valid; fallbacks: {[e['fallbacks'] for e in summary['emails']]}")
    assert real >= 1


async def test_reanalyse_queues_fallen_back_emails_once_and_they_get_real_answers(
        redis_url: str, email_cfg: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    from pool.cli import main

    db = email_cfg("error", "error")
    await run_job(redis_url, job_data([email(0), email(1), email(2)]), {"attempts": 1})
    assert all(s["needs_reanalysis"] == 1 for s in rows(db))

    email_cfg("good", "good-large")  # Ollama is back

    async def corral(*argv: str) -> int:  # the CLI runs its own event loop
        return await asyncio.to_thread(main, list(argv))

    assert await corral("reanalyse-emails", "--redis-url", redis_url, "--dry-run") == 0
    assert await corral("reanalyse-emails", "--redis-url", redis_url) == 0
    assert await corral("reanalyse-emails", "--redis-url", redis_url) == 0  # still waiting: not queued twice
    r = redis.Redis.from_url(redis_url)
    waiting = r.lrange(f"bull:{Q}:wait", 0, -1) + [m for m, _ in r.zrange(f"bull:{Q}:prioritized", 0, -1,
                                                                           withscores=True)]
    assert len(waiting) == 1
    [job_id] = [w.decode() for w in waiting]
    cfg = make_config(redis_url, [(Q, "workers.email.processor:processors", 2)], min_workers=1, max_workers=1)
    async with RunningPool(cfg):
        await wait_for(lambda: job_state(r, Q, job_id) == "completed", 40, "the re-analysis job")
    stored = rows(db)
    assert len(stored) == 3
    assert all(s["needs_reanalysis"] == 0 and s["runs"] == 2 and s["phase2"] is not None for s in stored)
    assert await corral("reanalyse-emails", "--redis-url", redis_url) == 0  # nothing left to do
    assert len(r.keys(f"bull:{Q}:reanalyse-*")) == 1


def test_reanalyse_names_a_missing_database(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    from pool.cli import main

    assert main(["reanalyse-emails", "--database", str(tmp_path / "nope.sqlite"), "--dry-run"]) == 2
    assert "no email database at" in capsys.readouterr().err


async def test_ollama_calls_show_in_prometheus_while_in_flight_and_after(redis_url: str, email_cfg: Any,
                                                                         ollama_standin: str) -> None:
    """corral_ollama_requests_in_flight while calls run, and their latency histogram once done."""
    import httpx

    from tests.test_operators import sample, scrape

    email_cfg("slow", "slow")
    reset(ollama_standin)
    r = redis.Redis.from_url(redis_url)
    cfg = make_config(redis_url, [(Q, "workers.email.processor:processors", 2)], http={"port": 0},
                      min_workers=1, max_workers=1)
    async with RunningPool(cfg) as pool:
        assert pool.sup.http is not None
        base = f"http://127.0.0.1:{pool.sup.http.port}"
        [j] = await add_jobs(redis_url, Q, [("process-emails", job_data([email(0), email(1)]),
                                             {"priority": 1})])
        seen_in_flight = 0.0
        while job_state(r, Q, j) != "completed":
            s = await scrape(base)
            seen_in_flight = max(seen_in_flight, sample(s, "corral_ollama_requests_in_flight", model="slow") or 0)
            await asyncio.sleep(0.05)
        calls = stats(ollama_standin)["requests"]["slow"]

        async def counted() -> bool:
            s = await scrape(base)
            return sample(s, "corral_ollama_request_duration_seconds_count", model="slow", outcome="ok") == calls

        await wait_for(counted, 5, "every Ollama call in the histogram")
        s = await scrape(base)
        assert seen_in_flight >= 1  # heartbeats every 0.2 s, calls of 0.35 s: seen while they ran
        assert sample(s, "corral_ollama_requests_in_flight", model="slow") == 0
        assert (sample(s, "corral_ollama_request_duration_seconds_sum", model="slow", outcome="ok") or 0) >= 0.3 * calls
        assert sample(s, "corral_ollama_request_duration_seconds_bucket", model="slow", le="0.25", outcome="ok") == 0
        async with httpx.AsyncClient() as c:
            assert (await c.get(base + "/readyz")).status_code == 200


async def test_one_ollama_client_per_worker_with_its_own_timeout_closed_on_shutdown(ollama_standin: str) -> None:
    """A hanging Ollama ends the call at the client's own timeout (as unavailable), every job of the worker shares
    the client, and the worker's shutdown hooks close it."""
    from workers import runtime
    from workers.email import processor
    from workers.email.llm import OllamaUnavailable, Phase2Output, ask
    from workers.email.settings import OllamaSettings

    cfg = OllamaSettings(host=ollama_standin, request_timeout=0.5)
    hooks_before = list(runtime.shutdown_hooks)
    try:
        client = processor.ollama_client(cfg)
        assert processor.ollama_client(cfg) is client
        limiter = processor.OllamaLimiter(1, None)
        good = await ask(client, "good", "hi", Phase2Output, temperature=0.1, limiter=limiter.slot)
        assert good.output is not None
        with pytest.raises(OllamaUnavailable, match="ReadTimeout"):
            await ask(client, "hang", "hi", Phase2Output, temperature=0.1, limiter=limiter.slot)
        new_hooks = [h for h in runtime.shutdown_hooks if h not in hooks_before]
        assert len(new_hooks) == 1
        for hook in new_hooks:
            await hook()
        assert client._client.is_closed and processor._ollama is None
    finally:
        runtime.shutdown_hooks[:] = hooks_before
        processor._ollama = None

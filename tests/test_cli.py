"""`corral` as an operator runs it: a real process, real signals, the embedded Redis, `corral status`."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis

from pool.embedded_redis import free_port
from tests.pool_harness import job_state

ROOT = Path(__file__).resolve().parent.parent
Q = "cli-test"
FAST_ENV = {
    "CORRAL_METRICS_INTERVAL": "0.3",
    "CORRAL_HEARTBEAT_INTERVAL": "0.2",
    "CORRAL_POLL_INTERVAL": "0.2",
    "CORRAL_LOG_FORMAT": "json",
    "CORRAL_HTTP_PORT": "0",  # tests run side by side with an operator's daemon on 5454
}


def corral(*args: str, env: dict[str, str] | None = None, timeout: float = 30) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "pool.cli", *args], cwd=ROOT, capture_output=True, text=True,
                          timeout=timeout, env={**os.environ, **(env or {})})


def start(*args: str, env: dict[str, str] | None = None) -> subprocess.Popen[str]:
    return subprocess.Popen([sys.executable, "-m", "pool.cli", "run", *args], cwd=ROOT, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            env={**os.environ, **FAST_ENV, **(env or {})})


def wait_until(pred: object, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if pred():  # type: ignore[operator]
            return
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


@pytest.fixture
def no_redis_env(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.delenv("REDIS_URL", raising=False)
    yield


@pytest.mark.parametrize(("args", "needle"), [
    (["--min-workers", "5", "--max-workers", "2"], "min_workers (5) is greater than max_workers (2)"),
    (["--queue", "x=corral_nope.mod:fn"], "cannot import module 'corral_nope.mod'"),
    (["--queue", "x=workers.processors.builtin:nope"], "has no attribute 'nope'"),
    (["--queue", "no-processor"], "expected NAME=module:function"),
    (["--redis-url", "redis://127.0.0.1:1/0"], "cannot reach Redis at redis://127.0.0.1:1/0"),
    (["--config", "/nonexistent/corral.toml"], "does not exist"),
])
def test_bad_configuration_is_one_clear_line_and_nonzero(args: list[str], needle: str) -> None:
    res = corral("run", *args)
    assert res.returncode == 2
    lines = res.stderr.strip().splitlines()
    assert len(lines) == 1 and needle in lines[0], res.stderr


def test_unknown_key_in_file_is_named(tmp_path: Path) -> None:
    f = tmp_path / "c.toml"
    f.write_text('[pool]\nmin_wrokers = 2\n[[queues]]\nname = "a"\nprocessor = "workers.processors.builtin:echo"\n')
    res = corral("run", "--config", str(f))
    assert res.returncode == 2 and "pool.min_wrokers: unknown key" in res.stderr


def test_environment_overrides_file_and_flags_override_environment(tmp_path: Path) -> None:
    f = tmp_path / "c.toml"
    f.write_text('[pool]\nmin_workers = 1\nmax_workers = 2\n'
                 '[[queues]]\nname = "a"\nprocessor = "workers.processors.builtin:echo"\n')
    res = corral("run", "--config", str(f), env={"CORRAL_MIN_WORKERS": "3"})
    assert res.returncode == 2 and "min_workers (3) is greater than max_workers (2)" in res.stderr
    res = corral("check", "--config", str(f), env={"CORRAL_MIN_WORKERS": "3", "CORRAL_MAX_WORKERS": "4"})
    assert res.returncode == 0, res.stderr


def test_run_status_and_sigterm(redis_url: str) -> None:
    r = redis.Redis.from_url(redis_url)
    proc = start("--redis-url", redis_url, "--queue", f"{Q}=workers.processors.builtin:echo@4",
                 "--min-workers", "1", "--max-workers", "2")
    try:
        import asyncio

        from bullmq import Queue  # the Python producer

        async def produce() -> list[str]:
            q = Queue(Q, {"connection": redis_url})
            ids = [(await q.add("e", {"n": i})).id for i in range(25)]
            await q.close()
            return ids

        ids = asyncio.run(produce())
        wait_until(lambda: all(job_state(r, Q, i) == "completed" for i in ids), 20, "jobs completed")

        def reported() -> bool:
            res = corral("status", "--json", "--redis-url", redis_url)
            if res.returncode != 0:
                return False
            snap = json.loads(res.stdout)["daemons"][0]
            return bool(snap["totalProcessed"] == 25)

        wait_until(reported, 10, "status to show 25 processed")
        human = corral("status", "--redis-url", redis_url)
        assert human.returncode == 0 and "completed 25" in human.stdout and f"queue {Q}" in human.stdout
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(30) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
    err = proc.stderr.read() if proc.stderr else ""
    events = [json.loads(line) for line in err.splitlines() if line.startswith("{")]
    assert any("scale up" in e["msg"] for e in events)
    assert any(e["msg"] == "all workers stopped" for e in events)


def test_second_signal_stops_at_once_and_hands_jobs_back(redis_url: str) -> None:
    r = redis.Redis.from_url(redis_url)
    import asyncio

    from bullmq import Queue

    async def produce() -> str:
        q = Queue(Q, {"connection": redis_url})
        job = await q.add("s", {"seconds": 120})
        await q.close()
        return str(job.id)

    proc = start("--redis-url", redis_url, "--queue", f"{Q}=workers.processors.builtin:sleep",
                 "--min-workers", "1", "--max-workers", "1")
    job_id = asyncio.run(produce())
    wait_until(lambda: job_state(r, Q, job_id) == "active", 15, "the job to start")
    proc.send_signal(signal.SIGTERM)
    time.sleep(0.5)
    assert proc.poll() is None  # still waiting for the job in hand (shutdown_timeout 30 s)
    t0 = time.monotonic()
    proc.send_signal(signal.SIGINT)
    assert proc.wait(15) == 0
    assert time.monotonic() - t0 < 10
    assert job_state(r, Q, job_id) == "waiting"


def test_embedded_redis_started_persisted_and_stopped(tmp_path: Path, no_redis_env: None) -> None:
    port = free_port()
    cfg = tmp_path / "corral.toml"
    cfg.write_text(f'[redis]\nurl = ""\nembedded_port = {port}\nembedded_dir = "{tmp_path / "redis"}"\n'
                   '[pool]\nmin_workers = 1\nmax_workers = 1\n'
                   f'[[queues]]\nname = "{Q}"\nprocessor = "workers.processors.builtin:echo"\n')
    proc = start("--config", str(cfg))
    url = f"redis://127.0.0.1:{port}/0"
    try:
        # `corral status` with no URL finds the embedded server and its password by itself.
        wait_until(lambda: corral("status", "--json", "--config", str(cfg)).returncode == 0, 20,
                   "the daemon to report through its embedded Redis")
        with pytest.raises(redis.AuthenticationError):
            redis.Redis.from_url(url).ping()  # any other local process: refused
        password = (tmp_path / "redis" / "password").read_text().strip()
        r = redis.Redis.from_url(f"redis://:{password}@127.0.0.1:{port}/0")
        assert r.config_get("appendonly")["appendonly"] == "yes"
        proc.send_signal(signal.SIGINT)
        assert proc.wait(30) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
    with pytest.raises(redis.ConnectionError):
        redis.Redis.from_url(url, socket_connect_timeout=0.5).ping()
    assert (tmp_path / "redis").exists()
    log = proc.stderr.read() if proc.stderr else ""
    assert f"embedded redis-server on redis://:***@127.0.0.1:{port}/0" in log and password not in log


def test_embedded_port_taken_is_a_clear_error(redis_server: object, tmp_path: Path, no_redis_env: None) -> None:
    url = getattr(redis_server, "url", redis_server)
    port = int(str(url).rsplit(":", 1)[1].split("/")[0])
    cfg = tmp_path / "corral.toml"
    cfg.write_text(f'[redis]\nembedded_port = {port}\nembedded_dir = "{tmp_path}"\n'
                   '[[queues]]\nname = "a"\nprocessor = "workers.processors.builtin:echo"\n')
    res = corral("run", "--config", str(cfg))
    assert res.returncode == 2 and f"the embedded Redis port {port} is in use" in res.stderr


def test_default_config_serves_both_job_types_and_the_intake_route(redis_url: str, tmp_path: Path) -> None:
    checked = corral("check", "--redis-url", redis_url)
    assert checked.returncode == 0, checked.stderr
    assert "ok  email-processing" in checked.stdout and "ok  myst-build" in checked.stdout

    import httpx

    port = free_port()
    (tmp_path / "myst.toml").write_text("# the defaults\n")
    proc = start("--redis-url", redis_url, "--http-port", str(port), "--min-workers", "1", "--max-workers", "1",
                 env={"INTERNAL_SERVICE_SECRET": "cli-secret", "CORRAL_EMAIL_DATABASE": str(tmp_path / "e.db"),
                      "CORRAL_MYST_CONFIG": str(tmp_path / "myst.toml")})
    base = f"http://127.0.0.1:{port}"
    try:
        def up() -> bool:
            try:
                return httpx.get(base + "/openapi.json", timeout=1).status_code == 200
            except httpx.HTTPError:
                return False

        wait_until(up, 20, "the HTTP server")
        assert "/v1/services/process-journal-submission" in httpx.get(base + "/openapi.json").json()["paths"]
        r = httpx.post(base + "/v1/services/process-journal-submission", json={"url": "x"},
                       headers={"X-Internal-Secret": "cli-secret"})
        assert r.status_code == 400 and r.json()["ok"] is False
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(30) == 0
    finally:
        if proc.poll() is None:
            proc.kill()


def test_http_port_taken_is_a_clear_error(redis_url: str) -> None:
    import socket

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        res = corral("run", "--redis-url", redis_url, "--http-port", str(port), "--min-workers", "0")
    assert res.returncode == 2
    assert f"the HTTP port 127.0.0.1:{port} is in use" in res.stderr


def test_a_second_daemon_hears_of_both_taken_ports_at_once(tmp_path: Path) -> None:
    import socket

    with socket.socket() as http, socket.socket() as embedded:
        for s in (http, embedded):
            s.bind(("127.0.0.1", 0))
            s.listen()
        hp, ep = http.getsockname()[1], embedded.getsockname()[1]
        res = corral("run", "--http-port", str(hp), "--embedded-port", str(ep), "--data-dir", str(tmp_path))
    assert res.returncode == 2 and len(res.stderr.strip().splitlines()) == 1
    assert f"HTTP port 127.0.0.1:{hp} is in use" in res.stderr and f"embedded Redis port {ep} is in use" in res.stderr

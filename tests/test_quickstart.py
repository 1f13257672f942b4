"""The README's quick start, as a new user runs it: `corral run` in an empty folder (built-in defaults, the embedded
Redis under ./data/redis), then one job from Python (scripts/push.py) and one from Node (scripts/node/push.mjs)."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

from pool.embedded_redis import client_url, free_port

ROOT = Path(__file__).resolve().parent.parent


def _wait_for_status(cwd: Path, port: int, env: dict[str, str]) -> str:
    deadline = time.monotonic() + 30
    out = ""
    while time.monotonic() < deadline:
        res = subprocess.run([sys.executable, "-m", "pool.cli", "status", "--embedded-port", str(port)], cwd=cwd,
                             env=env, capture_output=True, text=True, timeout=30)
        out = res.stdout + res.stderr
        if res.returncode == 0 and "queue hello:" in res.stdout:
            return res.stdout
        time.sleep(0.3)
    raise AssertionError(f"the daemon never showed up in corral status:\n{out}")


def test_run_in_an_empty_folder_then_push_from_python_and_from_node(tmp_path: Path) -> None:
    port = free_port()
    env = {**os.environ, "PYTHONPATH": str(ROOT), "CORRAL_LOG_LEVEL": "WARNING"}
    env.pop("REDIS_URL", None)
    daemon = subprocess.Popen(
        [sys.executable, "-m", "pool.cli", "run", "--embedded-port", str(port), "--http-port", "0",
         "--queue", "hello=workers.processors.builtin:echo"],
        cwd=tmp_path, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        _wait_for_status(tmp_path, port, env)
        assert (tmp_path / "data/redis/password").is_file()  # the embedded server's files under ./data
        url = client_url(port, tmp_path / "data/redis")
        py = subprocess.run([sys.executable, str(ROOT / "scripts/push.py"), "hello", '{"greeting": "hi"}'],
                            cwd=tmp_path, env={**env, "REDIS_URL": url}, capture_output=True, text=True, timeout=60)
        assert py.returncode == 0, py.stdout + py.stderr
        assert 'completed: {"greeting": "hi"}' in py.stdout, py.stdout
        node = subprocess.run(["node", str(ROOT / "scripts/node/push.mjs"), "hello", '{"greeting": "hi from node"}'],
                              cwd=tmp_path, env={**env, "REDIS_URL": url}, capture_output=True, text=True, timeout=60)
        assert node.returncode == 0, node.stdout + node.stderr
        assert 'completed: {"greeting":"hi from node"}' in node.stdout, node.stdout
        failed = subprocess.run([sys.executable, str(ROOT / "scripts/push.py"), "nobody-serves-this", "{}",
                                 "--timeout", "1"], cwd=tmp_path, env={**env, "REDIS_URL": url},
                                capture_output=True, text=True, timeout=60)
        assert failed.returncode == 2 and "not finished after 1 s" in failed.stderr, failed.stderr
        _refused_logins_are_named(tmp_path, port, env)
    finally:
        daemon.terminate()
        code = daemon.wait(60)
    assert code == 0, daemon.stderr.read() if daemon.stderr else ""


def _refused_logins_are_named(folder: Path, port: int, env: dict[str, str]) -> None:
    """Without the password (a command run outside the daemon's folder, a URL without it) each client says that
    Redis refused the login and where the password was looked for, instead of the add script's protocol error."""
    bare = f"redis://127.0.0.1:{port}/0"
    for cmd in ([sys.executable, str(ROOT / "scripts/push.py"), "hello", "{}"],
                ["node", str(ROOT / "scripts/node/push.mjs"), "hello", "{}"]):
        res = subprocess.run(cmd, cwd=folder, env={**env, "REDIS_URL": bare}, capture_output=True, text=True,
                             timeout=60)
        assert res.returncode == 2 and "refused the login" in res.stderr, (cmd, res.stdout, res.stderr)
        assert "Protocol error" not in res.stderr and "added job" not in res.stdout, res.stdout + res.stderr
    elsewhere = folder / "elsewhere"
    elsewhere.mkdir()
    res = subprocess.run([sys.executable, "-m", "pool.cli", "status", "--embedded-port", str(port)], cwd=elsewhere,
                         env=env, capture_output=True, text=True, timeout=30)
    assert res.returncode == 1, res.stdout + res.stderr
    assert "refused the login" in res.stderr and "there is no data/redis/password" in res.stderr, res.stderr

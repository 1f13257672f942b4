"""A private redis-server for `corral run` without a Redis URL: started and owned by the daemon.

It persists to an append-only file under data/redis, so jobs survive a daemon restart, and runs in its
own session so the Ctrl-C meant for the supervisor does not kill it before the workers hand back.
"""

from __future__ import annotations

import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path

import redis


class EmbeddedRedisError(Exception):
    pass


class EmbeddedRedis:
    def __init__(self, port: int, directory: str | Path) -> None:
        self.port = port
        self.dir = Path(directory)
        self.proc: subprocess.Popen[bytes] | None = None

    @classmethod
    def throwaway(cls) -> EmbeddedRedis:
        """A server on a free port with its files in a new temporary folder, for scripts and benchmarks."""
        return cls(free_port(), tempfile.mkdtemp(prefix="corral-redis-"))

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self, timeout: float = 10.0) -> str:
        binary = shutil.which("redis-server")
        if binary is None:
            raise EmbeddedRedisError(
                "no Redis URL given and redis-server is not installed: install it (apt-get install redis-server) "
                "or pass --redis-url / REDIS_URL"
            )
        if _answers(self.url):
            raise EmbeddedRedisError(
                f"port {self.port} already has a Redis on it: pass --redis-url {self.url} to use it, "
                "or set redis.embedded_port to another port"
            )
        self.dir.mkdir(parents=True, exist_ok=True)
        log_file = self.dir / "redis.log"
        self.proc = subprocess.Popen(
            [binary, "--port", str(self.port), "--bind", "127.0.0.1", "--dir", str(self.dir),
             "--appendonly", "yes", "--appendfsync", "everysec", "--save", "",
             "--maxmemory-policy", "noeviction",  # BullMQ needs every key it writes to stay
             "--logfile", str(log_file), "--daemonize", "no"],
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
            start_new_session=True,
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                err = (self.proc.stderr.read().decode() if self.proc.stderr else "").strip()
                tail = log_file.read_text()[-500:] if log_file.exists() else ""
                raise EmbeddedRedisError(f"embedded redis-server exited at start: {err or tail}")
            if _answers(self.url):
                return self.url
            time.sleep(0.05)
        self.stop()
        raise EmbeddedRedisError(f"embedded redis-server did not answer on port {self.port} within {timeout:g}s")

    def stop(self, timeout: float = 10.0) -> None:
        proc, self.proc = self.proc, None
        if proc is None or proc.poll() is not None:
            return
        try:
            # SHUTDOWN flushes the append-only file; a plain SIGTERM does too, but this waits for it.
            redis.Redis.from_url(self.url, socket_timeout=timeout).shutdown(nosave=False)
        except redis.exceptions.RedisError:
            proc.terminate()
        try:
            proc.wait(timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _answers(url: str) -> bool:
    try:
        return bool(redis.Redis.from_url(url, socket_connect_timeout=0.2, socket_timeout=0.5).ping())
    except (redis.exceptions.RedisError, OSError):
        return False

"""A private redis-server for `corral run` without a Redis URL: started and owned by the daemon.

It persists to an append-only file under data/redis, so jobs survive a daemon restart, and runs in its
own session so the Ctrl-C meant for the supervisor does not kill it before the workers hand back.

It listens on loopback only, but any local user could still queue jobs (MYST builds run shell commands):
so it requires a password, made once and kept in `<dir>/password` (mode 0600). The daemon's URL carries
it; `corral status` and the other client commands read the same file. redis-server gets it on stdin, not
in its arguments, which any local user can read with `ps`.
"""

from __future__ import annotations

import os
import re
import secrets
import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path

import redis

PASSWORD_FILE = "password"
_PASSWORD = re.compile(r"^[A-Za-z0-9_-]{16,256}$")  # safe unquoted in a URL and in redis.conf


class EmbeddedRedisError(Exception):
    pass


class EmbeddedRedis:
    def __init__(self, port: int, directory: str | Path) -> None:
        self.port = port
        # Absolute: redis-server changes into --dir before it opens --logfile, so a relative path (the default
        # data/redis under the working folder) would be looked up inside itself.
        self.dir = Path(directory).resolve()
        self.password = ""  # read or made by start()
        self.proc: subprocess.Popen[bytes] | None = None

    @classmethod
    def throwaway(cls) -> EmbeddedRedis:
        """A server on a free port with its files in a new temporary folder, for scripts and benchmarks."""
        return cls(free_port(), tempfile.mkdtemp(prefix="corral-redis-"))

    @property
    def url(self) -> str:
        return _url(self.port, self.password)

    def start(self, timeout: float = 10.0) -> str:
        binary = shutil.which("redis-server")
        if binary is None:
            raise EmbeddedRedisError(
                "no Redis URL given and redis-server is not installed: install it (apt-get install redis-server) "
                "or pass --redis-url / REDIS_URL"
            )
        if _redis_on(self.port):
            raise EmbeddedRedisError(
                f"port {self.port} already has a Redis on it: pass --redis-url redis://127.0.0.1:{self.port}/0 "
                "(with its password) to use it, or set redis.embedded_port to another port"
            )
        self.dir.mkdir(mode=0o700, parents=True, exist_ok=True)  # the append-only file holds every job's data
        self.password = ensure_password(self.dir)
        log_file = self.dir / "redis.log"
        # "-": the rest of the configuration (the password) comes on stdin.
        self.proc = subprocess.Popen(
            [binary, "-", "--port", str(self.port), "--bind", "127.0.0.1", "--dir", str(self.dir),
             "--appendonly", "yes", "--appendfsync", "everysec", "--save", "",
             "--maxmemory-policy", "noeviction",  # BullMQ needs every key it writes to stay
             "--logfile", str(log_file), "--daemonize", "no"],
            stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
            start_new_session=True,
        )
        assert self.proc.stdin is not None
        self.proc.stdin.write(f"requirepass {self.password}\n".encode())
        self.proc.stdin.close()
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


def ensure_password(directory: Path) -> str:
    """The embedded server's password, made on first use (also for a data folder from before passwords)."""
    path = directory / PASSWORD_FILE
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return read_password(directory)
    with os.fdopen(fd, "w") as f:
        f.write(secrets.token_urlsafe(32) + "\n")
    return read_password(directory)


def read_password(directory: Path) -> str:
    path = directory / PASSWORD_FILE
    try:
        if path.stat().st_mode & 0o077:
            path.chmod(0o600)  # readable by others: tighten it, as it guards every job
        password = path.read_text().strip()
    except OSError as e:
        raise EmbeddedRedisError(f"cannot read the embedded Redis password {path}: {e.strerror} (run as the "
                                 "daemon's user, or pass --redis-url)") from None
    if not _PASSWORD.match(password):
        raise EmbeddedRedisError(f"{path} must hold one password of 16-256 letters, digits, '-' or '_'; "
                                 "delete it and corral makes a new one")
    return password


def client_url(port: int, directory: str | Path) -> str:
    """The URL a client command uses for the embedded server: with its password once one was made."""
    directory = Path(directory)
    password = read_password(directory) if (directory / PASSWORD_FILE).exists() else ""
    return _url(port, password)


def refused_login(url: str, error: Exception, directory: str | Path) -> str:
    """What a client tells its user when Redis refuses it for want of the right password: the usual cause is a
    command run outside the daemon's working folder, where the embedded server's password file is not."""
    where = Path(directory) / PASSWORD_FILE
    found = f"the password in {where} was sent" if where.exists() else f"there is no {where}"
    return (f"Redis at {url} refused the login ({error}): {found}. Run this in the folder the daemon runs in "
            "(corral's commands also take --data-dir), or give the password in the URL: "
            "redis://:PASSWORD@HOST:PORT/0")


def _url(port: int, password: str) -> str:
    return f"redis://{f':{password}@' if password else ''}127.0.0.1:{port}/0"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _answers(url: str) -> bool:
    try:
        return bool(redis.Redis.from_url(url, socket_connect_timeout=0.2, socket_timeout=0.5).ping())
    except (redis.exceptions.RedisError, OSError):
        return False


def _redis_on(port: int) -> bool:
    """A Redis answers on the port, with or without a password (ours or anyone's)."""
    try:
        return bool(redis.Redis.from_url(_url(port, ""), socket_connect_timeout=0.2, socket_timeout=0.5).ping())
    except redis.exceptions.AuthenticationError:
        return True
    except (redis.exceptions.RedisError, OSError):
        return False

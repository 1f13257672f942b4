"""A throwaway redis-server for the tests: loopback only, restartable on the same port.

By default no persistence, plain TCP, no password. Options for the connection tests: a password, a unix
socket, TLS (a self-signed certificate made with openssl), and an append-only file (as in production).
"""

from __future__ import annotations

import shutil
import subprocess
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import redis

from pool.embedded_redis import free_port


class RedisServer:
    def __init__(self, port: int | None = None, directory: Path | None = None, *, password: str = "",
                 unix_socket: bool = False, tls: bool = False, appendonly: bool = False,
                 extra_args: Sequence[str] = ()) -> None:
        self.port = port or free_port()
        self.dir = directory or Path(tempfile.mkdtemp(prefix="corral-test-redis-"))
        self.password = password
        self.unix_socket = unix_socket
        self.tls = tls
        self.appendonly = appendonly
        self.extra_args = list(extra_args)  # more redis-server options: cluster mode, replication
        self.proc: subprocess.Popen[bytes] | None = None
        if tls:
            _self_signed_certificate(self.dir)

    @property
    def url(self) -> str:
        auth = f":{self.password}@" if self.password else ""
        if self.unix_socket:
            return f"unix://{auth}{self.dir / 'redis.sock'}?db=0"
        if self.tls:
            return f"rediss://{auth}localhost:{self.port}/0?ssl_ca_certs={self.dir / 'cert.pem'}"
        return f"redis://{auth}127.0.0.1:{self.port}/0"

    def _options(self) -> list[str]:
        opts = ["--bind", "127.0.0.1", "--save", "", "--dir", str(self.dir)]
        opts += ["--appendonly", "yes", "--appendfsync", "always"] if self.appendonly else ["--appendonly", "no"]
        if self.password:
            opts += ["--requirepass", self.password]
        if self.unix_socket:
            opts += ["--port", "0", "--unixsocket", str(self.dir / "redis.sock")]
        elif self.tls:
            opts += ["--port", "0", "--tls-port", str(self.port), "--tls-auth-clients", "no",
                     "--tls-cert-file", str(self.dir / "cert.pem"), "--tls-key-file", str(self.dir / "key.pem")]
        else:
            opts += ["--port", str(self.port)]
        return opts + self.extra_args

    def start(self, timeout: float = 10.0) -> None:
        """Start (or restart, after stop()) on the same port, and return once it answers PING."""
        binary = shutil.which("redis-server")
        if binary is None:
            raise RuntimeError("redis-server is not installed: apt-get install -y redis-server")
        if self.proc is not None:
            raise RuntimeError(f"redis-server on port {self.port} is already running")
        client = redis.Redis.from_url(self.url, socket_connect_timeout=1)
        if _answers(client):  # else the PINGs below would be answered by someone else's server
            client.close()
            raise RuntimeError(f"port {self.port} already has a Redis on it")
        log = self.dir / "redis.log"
        self.proc = subprocess.Popen(
            [binary, *self._options(), "--logfile", str(log)],
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + timeout
        try:
            while not _answers(client):
                # Exited early (port taken, bad option) or hung: say why instead of waiting for ever.
                if self.proc.poll() is not None or time.monotonic() > deadline:
                    self.stop()
                    tail = log.read_text(errors="replace")[-2000:] if log.exists() else ""
                    raise RuntimeError(f"redis-server did not start on port {self.port}:\n{tail}")
                time.sleep(0.05)
        finally:
            client.close()

    def stop(self) -> None:
        stop_process(self.proc)
        self.proc = None

    def close(self) -> None:
        """Stop it and remove its folder (its log included)."""
        self.stop()
        shutil.rmtree(self.dir, ignore_errors=True)


def _self_signed_certificate(directory: Path) -> None:
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj", "/CN=localhost",
         "-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1",
         "-keyout", str(directory / "key.pem"), "-out", str(directory / "cert.pem")],
        check=True, capture_output=True,
    )


def _answers(client: redis.Redis) -> bool:
    try:
        return bool(client.ping())
    except redis.ConnectionError:
        return False


def stop_process(proc: subprocess.Popen[Any] | None) -> None:
    """SIGTERM, then SIGKILL after 10 s; nothing if there is no process."""
    if proc is None:
        return
    proc.terminate()
    try:
        proc.wait(10)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()

from __future__ import annotations

import subprocess
import time
from collections.abc import Iterator

import pytest
import redis

from pool.embedded_redis import free_port
from tests.redis_server import RedisServer


@pytest.fixture(scope="session")
def redis_server() -> Iterator[RedisServer]:
    """One real redis-server for the session (no persistence); `.stop()`/`.start()` restart it on its port."""
    server = RedisServer()
    server.start()
    yield server
    server.close()


@pytest.fixture
def redis_url(redis_server: RedisServer) -> str:
    """The session server's URL, emptied for this test (and running again if a test left it stopped)."""
    if redis_server.proc is None:
        redis_server.start()
    client = redis.Redis.from_url(redis_server.url)
    client.flushall()
    client.close()
    return redis_server.url


@pytest.fixture(scope="session")
def node_modules() -> None:
    from tests.nodejs import ensure_node_modules

    ensure_node_modules()


@pytest.fixture(scope="session")
def ollama_standin() -> Iterator[str]:
    """The Ollama-API stand-in (tests/ollama_standin.py) in its own process, on a free port."""
    import sys
    import urllib.request

    port = free_port()
    proc = subprocess.Popen([sys.executable, "-m", "tests.ollama_standin", str(port)])
    url = f"http://127.0.0.1:{port}"
    for _ in range(200):
        try:
            urllib.request.urlopen(f"{url}/api/version", timeout=1)
            break
        except OSError:
            time.sleep(0.05)
    yield url
    proc.terminate()  # a "hang" request may be open: do not wait on uvicorn's graceful shutdown for it
    try:
        proc.wait(5)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()

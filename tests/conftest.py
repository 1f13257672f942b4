from __future__ import annotations

import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterator

import pytest
import redis

from pool.embedded_redis import free_port


@pytest.fixture(scope="session")
def redis_server() -> Iterator[str]:
    port = free_port()
    d = tempfile.mkdtemp()
    p = subprocess.Popen(["redis-server", "--port", str(port), "--save", "", "--appendonly", "no", "--dir", d],
                         stdout=subprocess.DEVNULL)
    url = f"redis://127.0.0.1:{port}/0"
    for _ in range(100):
        try:
            redis.Redis.from_url(url).ping()
            break
        except redis.ConnectionError:
            time.sleep(0.05)
    yield url
    p.terminate()
    p.wait()
    shutil.rmtree(d, ignore_errors=True)


@pytest.fixture
def redis_url(redis_server: str) -> str:
    redis.Redis.from_url(redis_server).flushall()
    return redis_server


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

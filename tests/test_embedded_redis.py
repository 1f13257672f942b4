"""The embedded redis-server requires a password that corral makes, keeps and finds by itself."""

from __future__ import annotations

import stat
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import psutil
import pytest
import redis

from pool.embedded_redis import PASSWORD_FILE, EmbeddedRedis, EmbeddedRedisError, client_url, free_port


@pytest.fixture
def embedded(tmp_path: Path) -> Iterator[EmbeddedRedis]:
    server = EmbeddedRedis(free_port(), tmp_path / "redis")
    yield server
    server.stop()


def test_a_client_without_the_password_is_refused(embedded: EmbeddedRedis) -> None:
    url = embedded.start()
    password = (embedded.dir / PASSWORD_FILE).read_text().strip()
    assert len(password) >= 32 and url == f"redis://:{password}@127.0.0.1:{embedded.port}/0"
    assert stat.S_IMODE((embedded.dir / PASSWORD_FILE).stat().st_mode) == 0o600
    assert stat.S_IMODE(embedded.dir.stat().st_mode) == 0o700
    for client in (redis.Redis.from_url(f"redis://127.0.0.1:{embedded.port}/0"),
                   redis.Redis.from_url(f"redis://:guess-{password[6:]}@127.0.0.1:{embedded.port}/0")):
        with pytest.raises(redis.AuthenticationError):
            client.set("queued", "by anyone")
    assert redis.Redis.from_url(url).set("queued", "by corral")
    assert embedded.proc is not None
    assert password not in " ".join(psutil.Process(embedded.proc.pid).cmdline())  # not for `ps` to show
    assert client_url(embedded.port, embedded.dir) == url  # what `corral status` and friends use


def test_the_password_is_kept_across_restarts_with_the_data(embedded: EmbeddedRedis) -> None:
    first = embedded.start()
    redis.Redis.from_url(first).set("job", "kept")
    embedded.stop()
    assert embedded.start() == first
    assert redis.Redis.from_url(first).get("job") == b"kept"


def test_a_data_folder_from_before_passwords_keeps_its_jobs(tmp_path: Path) -> None:
    folder, port = tmp_path / "redis", free_port()
    folder.mkdir()
    old = subprocess.Popen(["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--dir", str(folder),
                            "--appendonly", "yes", "--save", ""], stdout=subprocess.DEVNULL)
    try:
        client = redis.Redis.from_url(f"redis://127.0.0.1:{port}/0")
        for _ in range(100):
            try:
                client.set("bull:q:1", "queued before the upgrade")
                break
            except redis.ConnectionError:
                assert old.poll() is None, "the old redis-server did not start"
                time.sleep(0.05)
        client.shutdown()
    finally:
        old.wait(10)
    server = EmbeddedRedis(port, folder)
    try:
        url = server.start()
        assert (folder / PASSWORD_FILE).exists()
        assert redis.Redis.from_url(url).get("bull:q:1") == b"queued before the upgrade"
        with pytest.raises(redis.AuthenticationError):
            redis.Redis.from_url(f"redis://127.0.0.1:{port}/0").get("bull:q:1")
    finally:
        server.stop()


def test_a_readable_password_file_is_tightened_and_a_bad_one_named(tmp_path: Path) -> None:
    folder = tmp_path / "redis"
    folder.mkdir()
    password = folder / PASSWORD_FILE
    password.write_text("a-password-of-enough-length\n")
    password.chmod(0o644)
    assert client_url(6380, folder) == "redis://:a-password-of-enough-length@127.0.0.1:6380/0"
    assert stat.S_IMODE(password.stat().st_mode) == 0o600
    password.write_text("short\n")
    with pytest.raises(EmbeddedRedisError, match=f"{password} must hold one password of 16-256 letters"):
        EmbeddedRedis(free_port(), folder).start()
    assert client_url(6380, tmp_path / "never-started") == "redis://127.0.0.1:6380/0"

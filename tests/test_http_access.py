"""The HTTP surface against strangers: the access token (required off loopback), and slow clients cut off.

A real daemon (supervisor, workers, uvicorn) on a real socket; the browser case in Debian's chromium.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import httpx
import pytest

from pool.access import COOKIE
from pool.config import ConfigError, load_config
from tests.pool_harness import RunningPool, make_config, wait_for

TOKEN = "test-token-0123456789abcdef"
SECRET = "intake-secret-for-tests"
INTAKE = "/v1/services/process-journal-submission"
ROOT = Path(__file__).resolve().parent.parent
GUARDED = ["/", "/api/snapshot", "/metrics", "/readyz", "/docs", "/openapi.json", "/nowhere"]

Daemon = Callable[..., Awaitable[str]]


@pytest.fixture
async def daemon(redis_url: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> AsyncIterator[Daemon]:
    """`await daemon(**http settings)` -> the base URL of a running daemon (no workers: min 0)."""
    monkeypatch.setenv("INTERNAL_SERVICE_SECRET", SECRET)  # the intake route, with its own secret
    monkeypatch.setenv("CORRAL_MYST_CONFIG", str(tmp_path / "myst.toml"))

    pools: list[RunningPool] = []

    async def start(**http: Any) -> str:
        pool = RunningPool(make_config(redis_url, [("q", "workers.processors.builtin:noop", 1)],
                                       http={"port": 0, **http}, jobtypes=("myst",), min_workers=0,
                                       max_workers=1))
        await pool.__aenter__()
        pools.append(pool)
        await wait_for(lambda: pool.sup.http is not None and pool.sup.http.started, 10, "the HTTP server")
        assert pool.sup.http is not None
        return f"http://127.0.0.1:{pool.sup.http.port}"

    yield start
    for pool in pools:
        await pool.__aexit__(None, None, None)


# -- when a token is required ------------------------------------------------------------------------------


def _load(tmp_path: Path, env: dict[str, str], **http: Any) -> Any:
    f = tmp_path / "c.toml"
    f.write_text('[[queues]]\nname = "q"\nprocessor = "workers.processors.builtin:noop"\n')
    return load_config(f, env=env, overrides={"http": http} if http else None)


def test_token_settings(tmp_path: Path) -> None:
    for host in ("0.0.0.0", "::", "10.1.2.3", "corral.example.org"):
        with pytest.raises(ConfigError, match=f"host {host} is not a loopback address: set http.token"):
            _load(tmp_path, {}, host=host)
        assert _load(tmp_path, {"CORRAL_HTTP_TOKEN": TOKEN}, host=host).http.access_token == TOKEN
        assert _load(tmp_path, {}, host=host, enabled=False).http.access_token == ""  # no server, no need
    for host in ("127.0.0.1", "127.0.0.2", "::1", "[::1]", "localhost"):
        assert _load(tmp_path, {}, host=host).http.access_token == ""
    token_file = tmp_path / "token"
    token_file.write_text(TOKEN + "\n")
    assert _load(tmp_path, {"CORRAL_HTTP_TOKEN_FILE": str(token_file)}, host="0.0.0.0").http.access_token == TOKEN
    with pytest.raises(ConfigError, match="token_file /nonexistent: No such file or directory"):
        _load(tmp_path, {"CORRAL_HTTP_TOKEN_FILE": "/nonexistent"})
    with pytest.raises(ConfigError, match="set one of token and token_file"):
        _load(tmp_path, {"CORRAL_HTTP_TOKEN_FILE": str(token_file)}, token=TOKEN)
    with pytest.raises(ConfigError, match="at least 16 characters"):
        _load(tmp_path, {"CORRAL_HTTP_TOKEN": "short"})
    assert _load(tmp_path, {"CORRAL_HTTP_OPEN_MONITORING": "true"}).http.open_monitoring is True


def test_corral_run_off_loopback_without_a_token_is_one_line_and_exit_2(redis_url: str) -> None:
    res = subprocess.run([sys.executable, "-m", "pool.cli", "run", "--redis-url", redis_url, "--queue",
                          "q=workers.processors.builtin:noop"], cwd=ROOT, capture_output=True, text=True, timeout=30,
                         env={**os.environ, "CORRAL_HTTP_HOST": "0.0.0.0", "CORRAL_HTTP_PORT": "0"})
    assert res.returncode == 2
    [line] = res.stderr.strip().splitlines()
    assert "host 0.0.0.0 is not a loopback address: set http.token (or CORRAL_HTTP_TOKEN" in line


# -- what the token guards ---------------------------------------------------------------------------------


async def test_the_token_guards_everything_but_healthz_and_the_intake_route(daemon: Daemon) -> None:
    base = await daemon(token=TOKEN)
    bearer = {"Authorization": f"Bearer {TOKEN}"}
    async with httpx.AsyncClient(base_url=base, timeout=10) as c:
        for path in GUARDED:
            refused = await c.get(path)
            assert refused.status_code == 401, path
            assert (await c.get(path, headers={"Authorization": f"Bearer {TOKEN[:-1]}x"})).status_code == 401
        assert "token=" in (await c.get("/")).text  # the page says how to get in
        api = await c.get("/api/snapshot")
        assert api.headers["www-authenticate"].startswith("Bearer") and "[http] token" in api.json()["message"]
        assert "daemonId" not in api.text and "pid" not in api.text
        for path in GUARDED[:-1]:
            assert (await c.get(path, headers=bearer)).status_code == 200, path
        assert (await c.get("/nowhere", headers=bearer)).status_code == 404
        async with c.stream("GET", "/api/events") as events:
            assert events.status_code == 401
        async with c.stream("GET", "/api/events", headers=bearer) as events:
            assert events.status_code == 200 and events.headers["content-type"].startswith("text/event-stream")
        assert (await c.get("/healthz")).status_code == 200  # probes stay open
        # The intake route answers to its own secret alone: no token needed, the secret still is.
        assert (await c.post(INTAKE, json={})).status_code == 401
        bad = await c.post(INTAKE, json={"url": "x"}, headers={"X-Internal-Secret": SECRET})
        assert bad.status_code == 400 and bad.json()["ok"] is False
        assert (await c.get(f"{INTAKE}/some-job", headers={"X-Internal-Secret": SECRET})).status_code == 404


async def test_a_browser_gets_a_session_cookie_for_the_page_and_its_stream(daemon: Daemon) -> None:
    base = await daemon(token=TOKEN)
    async with httpx.AsyncClient(base_url=base, timeout=10) as c:
        wrong = await c.get("/", params={"token": "not-the-token-at-all"})
        assert wrong.status_code == 401 and COOKIE not in wrong.cookies
        login = await c.get("/", params={"token": TOKEN})
        assert login.status_code == 303 and login.headers["location"] == "./"  # the token leaves the URL
        set_cookie = login.headers["set-cookie"].lower()
        assert "httponly" in set_cookie and "samesite=strict" in set_cookie and "path=/" in set_cookie
        session = login.cookies[COOKIE]
        assert TOKEN not in session
        page = await c.get("/")  # httpx keeps the cookie, as a browser does
        assert page.status_code == 200 and "<title>" in page.text
        assert (await c.get("/", params={"token": TOKEN})).status_code == 303  # logged in: still out of the URL
        assert (await c.get("/api/snapshot")).json()["latest"]["daemonId"]
        async with c.stream("GET", "/api/events") as events:
            assert events.status_code == 200
    async with httpx.AsyncClient(base_url=base, timeout=10, cookies={COOKIE: session[:-1] + "0"}) as forged:
        assert (await forged.get("/api/snapshot")).status_code == 401


async def test_open_monitoring_lets_prometheus_and_probes_in_without_the_token(daemon: Daemon) -> None:
    base = await daemon(token=TOKEN, open_monitoring=True)
    async with httpx.AsyncClient(base_url=base, timeout=10) as c:
        assert (await c.get("/metrics")).status_code == 200
        assert (await c.get("/readyz")).status_code in (200, 503)  # answered, not refused
        assert (await c.get("/readyz")).json()["checks"]["redis"] == "ok"
        for path in ("/", "/api/snapshot", "/docs"):
            assert (await c.get(path)).status_code == 401, path


async def test_without_a_token_on_loopback_everything_answers_as_before(daemon: Daemon) -> None:
    base = await daemon()
    async with httpx.AsyncClient(base_url=base, timeout=10) as c:
        for path in GUARDED[:-1]:
            assert (await c.get(path)).status_code == 200, path


async def test_the_dashboard_works_in_a_real_browser_with_the_token(daemon: Daemon) -> None:
    import shutil

    from playwright.async_api import async_playwright

    chromium = shutil.which("chromium") or "/usr/bin/chromium"
    if not Path(chromium).exists():
        pytest.fail("chromium is not installed: run scripts/test.sh (it installs Debian's chromium)")
    base = await daemon(token=TOKEN)
    async with async_playwright() as pw:
        browser = await pw.chromium.launch(executable_path=chromium, headless=True)
        try:
            page = await browser.new_page()
            errors: list[str] = []
            page.on("pageerror", lambda e: errors.append(str(e)))
            await page.goto(f"{base}/?token={TOKEN}")
            assert page.url == f"{base}/"
            await page.wait_for_selector("#conn.live", timeout=10_000)  # the event stream is open
            await page.wait_for_function("document.getElementById('s-bounds').textContent === '0..1'",
                                         timeout=10_000)  # the snapshot fetch worked
            assert errors == []
            stranger = await (await browser.new_context()).new_page()  # another browser profile: no cookie
            response = await stranger.goto(f"{base}/")
            assert response is not None and response.status == 401
        finally:
            await browser.close()


# -- slow clients ------------------------------------------------------------------------------------------


async def _trickle(port: int, head: bytes, drip: bytes) -> bytes:
    """Send `head`, then one byte of `drip` every 0.2 s until the server closes; return what it answered."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(head)

    async def drip_bytes() -> None:
        for i in range(len(drip)):
            await asyncio.sleep(0.2)
            writer.write(drip[i:i + 1])
            await writer.drain()

    dripping = asyncio.create_task(drip_bytes())
    try:
        return await asyncio.wait_for(reader.read(), 30)  # to EOF: the server closed the connection
    finally:
        dripping.cancel()
        await asyncio.gather(dripping, return_exceptions=True)
        writer.close()


async def test_slow_clients_are_cut_off_and_others_still_served(daemon: Daemon) -> None:
    base = await daemon(header_timeout=1, body_timeout=1)
    port = int(base.rsplit(":", 1)[1])
    headers = [_trickle(port, b"GET / HTTP/1.1\r\nHost: corral\r\nX-Slow: ", b"a" * 1000) for _ in range(40)]
    bodies = [_trickle(port, f"POST {INTAKE} HTTP/1.1\r\nHost: corral\r\nContent-Type: application/json\r\n"
                             "Content-Length: 1000\r\n\r\n{".encode(), b" " * 999) for _ in range(10)]
    silent = [_trickle(port, b"", b"") for _ in range(5)]  # connect and say nothing
    slow = asyncio.gather(*headers, *bodies, *silent)
    await asyncio.sleep(0.3)
    async with httpx.AsyncClient(base_url=base, timeout=10) as c:
        assert (await c.get("/healthz")).status_code == 200  # served while 55 connections trickle
    answers = await slow
    for answer in answers[:40] + answers[50:]:
        assert answer.startswith(b"HTTP/1.1 408 ") and b"the request's headers did not arrive within 1s" in answer
    for answer in answers[40:50]:
        assert answer.startswith(b"HTTP/1.1 408 ") and b"the request's body did not arrive within 1s" in answer
    async with httpx.AsyncClient(base_url=base, timeout=10) as c:
        assert (await c.get("/healthz")).status_code == 200


async def healthz_ok(c: httpx.AsyncClient) -> bool:
    return (await c.get("/healthz")).status_code == 200


async def test_a_full_server_makes_room_by_closing_the_longest_waiting_connection(daemon: Daemon) -> None:
    base = await daemon(max_connections=10, header_timeout=60)
    port = int(base.rsplit(":", 1)[1])
    idle = [await asyncio.open_connection("127.0.0.1", port) for _ in range(10)]  # connected, silent
    try:
        clients = [httpx.AsyncClient(base_url=base, timeout=10) for _ in range(3)]
        for c in clients:  # each on a connection of its own, kept open: each pushes out the oldest silent one
            assert await healthz_ok(c)
        for reader, _ in idle[:3]:
            answer = await asyncio.wait_for(reader.read(), 10)
            assert answer.startswith(b"HTTP/1.1 408 ") and b"closed for a newer connection (at most 10)" in answer
        for c in clients:
            assert await healthz_ok(c)  # served again on its kept connection
            await c.aclose()
    finally:
        for _, writer in idle:
            writer.close()


async def test_connections_beyond_the_limit_are_refused_when_all_are_serving(daemon: Daemon) -> None:
    base = await daemon(max_connections=10)
    port = int(base.rsplit(":", 1)[1])
    streams = []
    for _ in range(10):  # the dashboard's event stream: a request in progress for as long as it is open
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(b"GET /api/events HTTP/1.1\r\nHost: corral\r\n\r\n")
        assert (await asyncio.wait_for(reader.readline(), 10)).startswith(b"HTTP/1.1 200")
        streams.append(writer)
    try:
        async with httpx.AsyncClient(base_url=base, timeout=10) as c:
            refused = await c.get("/healthz")
            assert refused.status_code == 503 and "too many connections (at most 10)" in refused.text
            streams.pop().close()
            await wait_for(lambda: healthz_ok(c), 10, "a connection free again")
    finally:
        for writer in streams:
            writer.close()


# -- the intake route: URLs and keys -------------------------------------------------------------------------

GH = "https://github.com"


def submission(url: str = f"{GH}/corral-dev/articles/blob/main/paper/myst.yml", job_id: str = "import-42") -> Any:
    return {"url": url, "jobId": job_id, "uuid": "node-1",
            "parsedDocument": {"project": {"exports": [{"format": "meca", "output": "exports/m.meca.zip"}]}}}


@pytest.mark.parametrize(("url", "needle"), [
    # '%2F' smuggles a level and a '..' into one segment: path a/../../etc/myst.yml once decoded (was 202)
    (f"{GH}/o/r/blob/main/a%2F..%2F..%2Fetc/myst.yml", "branch or path segment 'a/../../etc' holds a '/'"),
    (f"{GH}/o/r/blob/feature%2F..%2F../myst.yml", "branch or path segment 'feature/../..' holds a '/'"),
    (f"{GH}/o%2F..%2Fother/r/blob/main/myst.yml", "owner segment 'o/../other' holds a '/'"),
    (f"{GH}/o/r%2F..%2Fx/blob/main/myst.yml", "repository segment 'r/../x' holds a '/'"),
    (f"{GH}/o/r/blob/main/a%5C..%5Cb/myst.yml", "holds a '/', a '\\' or a control character"),
    (f"{GH}/o/r/blob/main/a%00b/myst.yml", "holds a '/', a '\\' or a control character"),
    (f"{GH}/o/r/blob/main/%2e%2e/myst.yml", "has an empty, '.' or '..' path segment"),
    (f"{GH}/o/r/blob/main/%2E/myst.yml", "has an empty, '.' or '..' path segment"),
    (f"{GH}/%2e%2e/r/blob/main/myst.yml", "owner name '..' is not a valid GitHub name"),
])
async def test_percent_encoding_cannot_smuggle_a_path_into_the_url(daemon: Daemon, url: str, needle: str) -> None:
    from workers.myst.source import BadSourceUrl, parse_blob_url

    with pytest.raises(BadSourceUrl):
        parse_blob_url(url)
    base = await daemon()
    async with httpx.AsyncClient(base_url=base, timeout=10) as c:
        r = await c.post(INTAKE, json=submission(url), headers={"X-Internal-Secret": SECRET})
    assert r.status_code == 400 and r.json()["field"] == "url" and needle in r.json()["message"], r.text


def test_encoded_names_that_stay_in_their_segment_are_fine() -> None:
    from workers.myst.source import parse_blob_url

    [first, second] = parse_blob_url(f"{GH}/o/r/blob/release%2Dv1/my%20paper/myst.yml")
    assert (first.ref, first.path) == ("release-v1", "my paper/myst.yml")
    assert (second.ref, second.folder) == ("release-v1/my paper", "")


async def test_only_jobs_are_jobs_on_the_status_route(daemon: Daemon, redis_url: str) -> None:
    import redis as sync_redis

    base = await daemon()
    headers = {"X-Internal-Secret": SECRET}
    async with httpx.AsyncClient(base_url=base, timeout=10) as c:
        queued = await c.post(INTAKE, json=submission(), headers=headers)
        assert queued.status_code == 202, queued.text
        assert (await c.get(f"{INTAKE}/import-42", headers=headers)).json()["data"]["state"] == "waiting"
        r = sync_redis.Redis.from_url(redis_url)
        q = "bull:myst-build"
        assert r.type(f"{q}:meta") == b"hash" and r.type(f"{q}:id") == b"string"  # the queue's own keys exist
        assert r.type(f"{q}:events") == b"stream" and r.type(f"{q}:wait") == b"list"
        r.hset(f"{q}:stray", mapping={"some": "hash"})  # a hash that is no job
        r.set(f"{q}:plain-string", "x")
        for name in ("meta", "id", "events", "wait", "marker", "stalled-check", "stray", "plain-string",
                     "never-queued", "a:b", "1234"):
            got = await c.get(f"{INTAKE}/{name}", headers=headers)
            assert got.status_code == 404 and got.json()["ok"] is False, (name, got.text)
        # and no submission can take such an id
        refused = await c.post(INTAKE, json=submission(job_id="meta"), headers=headers)
        assert refused.status_code == 400 and refused.json()["field"] == "jobId"
        assert "queue key names" in refused.json()["message"]

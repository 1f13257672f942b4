"""MYST journal builds end to end: the daemon's intake route, the `myst-build` job with a real `mystmd` build,
GitHub and desci-server played by local HTTP servers (tests/web_standins.py)."""

from __future__ import annotations

import io
import json
import os
import shutil
import signal
import stat
import sys
import zipfile
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import httpx
import psutil
import pytest
import redis
from openapi_spec_validator import validate

from tests.pool_harness import RunningPool, job_hash, make_config, wait_for
from tests.redis_server import RedisServer
from tests.web_standins import Serving, StandIns, github_archive

Q = "myst-build"
SECRET = "s3cret-for-tests"
FIXTURE = Path(__file__).parent / "fixtures" / "myst-article"
MYST = Path(sys.executable).parent / "myst"
BUILD = f"{MYST} build --jats && {MYST} build --meca && {MYST} build --site"
# A repository whose names have dots and dashes, a branch with a slash, the article in a subfolder.
OWNER, REPO, BRANCH, FOLDER = "corral.dev", "my-journal.articles", "release/v1.2", "papers/rate-limits"
PATH = "/v1/services/process-journal-submission"


@pytest.fixture(scope="module")
def standins() -> Iterator[StandIns]:
    s = StandIns()
    serving = Serving(s.app())
    s.url = serving.url
    yield s
    serving.stop()


@pytest.fixture
def myst_cfg(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, standins: StandIns) -> Any:
    standins.reset()

    def configure(**over: Any) -> Path:
        work = tmp_path / "work"
        opts = {"github_base_url": standins.url, "desci_server_url": standins.url, "build_command": BUILD,
                "work_dir": str(work), "attempts": 1, "backoff_ms": 100, "build_timeout": 120.0,
                "status_attempts": 2, **over}
        cfg = tmp_path / "myst.toml"
        cfg.write_text("".join(f"{k} = {json.dumps(v)}\n" for k, v in opts.items()))
        monkeypatch.setenv("CORRAL_MYST_CONFIG", str(cfg))
        monkeypatch.setenv("INTERNAL_SERVICE_SECRET", SECRET)
        for var in ("DESCI_SERVER_URL", "GITHUB_BASE_URL", "CORRAL_MYST_BUILD_COMMAND"):
            monkeypatch.delenv(var, raising=False)
        from workers.myst.settings import load_settings

        load_settings.cache_clear()  # workers fork from this process: no stale settings
        return work

    return configure


@pytest.fixture
async def daemon(redis_url: str, myst_cfg: Any) -> AsyncIterator[Any]:
    """Start with `await daemon(**myst settings)`; returns (base URL, the pool, the work folder)."""
    pools: list[RunningPool] = []

    async def start(**over: Any) -> tuple[str, RunningPool, Path]:
        work = myst_cfg(**over)
        cfg = make_config(redis_url, [(Q, "workers.myst.processor:processors", 1)], http={"port": 0},
                          min_workers=1, max_workers=1)
        pool = RunningPool(cfg)
        await pool.__aenter__()
        pools.append(pool)
        await wait_for(lambda: pool.sup.http is not None and pool.sup.http.port, 10, "the HTTP server")
        assert pool.sup.http is not None
        return f"http://127.0.0.1:{pool.sup.http.port}", pool, work

    yield start
    for pool in pools:
        await pool.__aexit__(None, None, None)


def submission(standins: StandIns, job_id: str = "job-abc.1", **over: Any) -> dict[str, Any]:
    body = {
        "url": f"{standins.url}/{OWNER}/{REPO}/blob/{BRANCH}/{FOLDER}/myst.yml",
        "jobId": job_id,
        "uuid": "node-uuid-123",
        "parsedDocument": {"project": {"title": "Rate limits", "exports": [
            {"format": "meca", "output": "exports/manuscript.meca.zip"},
            {"format": "pdf", "output": "exports/manuscript.pdf"},
            {"format": "typst", "output": "exports/manuscript.typ"}]}},
    }
    return {**body, **over}


def serve_repo(standins: StandIns, archive: bytes | None = None) -> None:
    top = f"{REPO}-{BRANCH.replace('/', '-')}"
    path = f"/{OWNER}/{REPO}/archive/refs/heads/{BRANCH}.zip"
    standins.archives[path] = archive if archive is not None else github_archive(FIXTURE, top, FOLDER)


async def post(base: str, body: Any, secret: str | None = SECRET, **kw: Any) -> httpx.Response:
    headers = {"X-Internal-Secret": secret} if secret is not None else {}
    async with httpx.AsyncClient() as c:
        if isinstance(body, bytes):
            return await c.post(base + PATH, content=body, headers={**headers, "content-type": "application/json"})
        return await c.post(base + PATH, json=body, headers=headers, **kw)


async def until_done(base: str, job_id: str, timeout: float = 90) -> dict[str, Any]:
    async with httpx.AsyncClient() as c:
        async def done() -> dict[str, Any] | None:
            r = await c.get(f"{base}{PATH}/{job_id}", headers={"X-Internal-Secret": SECRET})
            data: dict[str, Any] = r.json()["data"]
            return data if data["state"] in ("completed", "failed") else None

        result: dict[str, Any] = await wait_for(done, timeout, f"job {job_id} to finish", step=0.2)
        return result


def leftovers(work: Path) -> list[str]:
    return [str(p) for p in work.rglob("*")] if work.exists() else []


# -- the whole path --------------------------------------------------------------------------------------


async def test_submission_is_built_uploaded_and_reported(daemon: Any, standins: StandIns, redis_url: str) -> None:
    base, _pool, work = await daemon()
    serve_repo(standins)
    r = await post(base, submission(standins))
    assert r.status_code == 202, r.text
    body = r.json()
    assert body["ok"] is True and body["data"]["jobId"] == "job-abc.1" and body["data"]["uuid"] == "node-uuid-123"
    assert body["data"]["message"] == "Job queued for processing"
    assert r.headers["location"] == body["data"]["statusUrl"] == f"{base}{PATH}/job-abc.1"

    status = await until_done(base, "job-abc.1")
    assert status["state"] == "completed", status
    assert status["progress"] == 100

    [upload] = standins.uploads
    assert (upload.uuid, upload.job_id, upload.secret) == ("node-uuid-123", "job-abc.1", SECRET)
    assert upload.fields == {"uuid": "node-uuid-123", "contextPath": "root"}
    names = set(upload.files)
    assert {"exports/manuscript.meca/manifest.xml", "exports/manuscript.meca/article.xml",
            "exports/manuscript.meca/bundle/myst.yml", "exports/manuscript.meca/bundle/index.md",
            "_build/site/content/index.json"} <= names
    assert not any(n.endswith((".pdf", ".typ", ".zip")) for n in names)  # not built here: skipped, not faked
    assert b"<article" in upload.files["exports/manuscript.meca/article.xml"]
    assert json.loads(upload.files["_build/site/content/index.json"])["frontmatter"]["title"].startswith("Rate")
    # the archive was looked for as branch "release" first (no such branch), then "release/v1.2"
    assert standins.downloads[-1] == f"/{OWNER}/{REPO}/archive/refs/heads/{BRANCH}.zip"

    steps = standins.statuses_of("job-abc.1")
    assert [s for s, _ in steps] == ["IN_PROGRESS", "IN_PROGRESS", "IN_PROGRESS", "COMPLETED"]
    assert steps[0][1] == "Downloading repo files..."
    assert steps[1][1].startswith("Building the repo files...") and FOLDER in steps[1][1]
    assert steps[2][1] == "Exporting files..."
    assert steps[3][1] == "Files exported successfully"
    assert all(s["secret"] == SECRET for s in standins.statuses)

    h = job_hash(redis.Redis.from_url(redis_url), Q, "job-abc.1")
    result = json.loads(h["returnvalue"])
    assert any("pdf: exports/manuscript.pdf was not built" in s for s in result["skipped"])
    logs = redis.Redis.from_url(redis_url).lrange(f"bull:{Q}:job-abc.1:logs", 0, -1)
    assert any(b"Downloading repo files" in line for line in logs)
    assert any(b"Built index.md" in line for line in logs)  # the build's own output
    assert leftovers(work) == []

    # the same jobId again: answered, not built twice
    again = await post(base, submission(standins))
    assert again.status_code == 202 and again.json()["data"]["message"].startswith("Job already queued")
    assert again.json()["data"]["state"] == "completed"
    assert len(standins.uploads) == 1


# -- the intake route's answers ----------------------------------------------------------------------------


async def test_intake_rejects_bad_requests_with_the_reason(daemon: Any, standins: StandIns,
                                                           redis_server: RedisServer) -> None:
    base, _pool, _ = await daemon()
    good = submission(standins)
    assert (await post(base, good, secret=None)).status_code == 401
    wrong = await post(base, good, secret="nope")
    assert wrong.status_code == 401 and wrong.json() == {"ok": False, "message": "Unauthorized"}

    cases = [
        ({k: v for k, v in good.items() if k != "jobId"}, "jobId"),
        ({**good, "url": "https://gitlab.com/a/b/blob/main/myst.yml"}, "url"),
        ({**good, "url": f"{standins.url}/a/b/blob/main/README.md"}, "url"),
        ({**good, "url": f"{standins.url}/a/b/tree/main/myst.yml"}, "url"),
        ({**good, "jobId": "../../etc"}, "jobId"),
        ({**good, "jobId": "12345"}, "jobId"),
        ({**good, "uuid": 7}, "uuid"),
        ({**good, "parsedDocument": {"project": {"exports": [{"format": "pdf", "output": "../../x.pdf"}]}}},
         "parsedDocument.project.exports.0.output"),
        ({**good, "parsedDocument": {}}, "parsedDocument.project"),
    ]
    for body, field in cases:
        r = await post(base, body)
        assert r.status_code == 400, (body, r.text)
        assert r.json()["ok"] is False and r.json()["field"] == field, r.json()
        assert r.json()["message"].startswith(field), r.json()
    r = await post(base, b"{not json")
    assert r.status_code == 400 and "not valid JSON" in r.json()["message"]
    huge = {**good, "parsedDocument": {"project": {"exports": [], "pad": "x" * 2_000_000}}}
    assert (await post(base, huge)).status_code == 413

    async with httpx.AsyncClient() as c:
        r = await c.get(f"{base}{PATH}/no-such-job", headers={"X-Internal-Secret": SECRET})
        assert r.status_code == 404
        assert (await c.get(f"{base}{PATH}/no-such-job")).status_code == 401

    redis_server.stop()
    try:
        r = await post(base, good)
        assert r.status_code == 503 and "unavailable" in r.json()["message"]
    finally:
        redis_server.start()
    assert standins.uploads == [] and standins.statuses == []


async def test_openapi_describes_the_route(daemon: Any) -> None:
    base, _, _ = await daemon()
    async with httpx.AsyncClient() as c:
        spec = (await c.get(base + "/openapi.json")).json()
    validate(spec)  # a valid OpenAPI 3.1 document
    post_op = spec["paths"][PATH]["post"]
    assert {"202", "400", "401", "413", "503"} <= set(post_op["responses"])
    schema = post_op["requestBody"]["content"]["application/json"]["schema"]
    assert set(schema["required"]) == {"url", "jobId", "uuid", "parsedDocument"}
    assert "get" in spec["paths"][PATH + "/{job_id}"]


async def test_no_secret_no_intake_route(redis_url: str, myst_cfg: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    myst_cfg()
    monkeypatch.delenv("INTERNAL_SERVICE_SECRET")
    cfg = make_config(redis_url, [(Q, "workers.myst.processor:processors", 1)], http={"port": 0}, min_workers=0)
    async with RunningPool(cfg) as pool:
        await wait_for(lambda: pool.sup.http is not None and pool.sup.http.port, 10, "the HTTP server")
        assert pool.sup.http is not None
        async with httpx.AsyncClient() as c:
            r = await c.post(f"http://127.0.0.1:{pool.sup.http.port}{PATH}", json={},
                             headers={"X-Internal-Secret": ""})
    assert r.status_code == 404


# -- the job's failures: each a clear reason, no retries for what cannot succeed, no files left ------------


def _zip(entries: list[tuple[zipfile.ZipInfo | str, bytes]]) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
        for info, data in entries:
            z.writestr(info, data)
    return buf.getvalue()


def _symlink(name: str, target: str) -> zipfile.ZipInfo:
    info = zipfile.ZipInfo(name)
    # A zip symlink is an entry whose Unix mode says S_IFLNK and whose data is the target.
    info.external_attr = (stat.S_IFLNK | 0o777) << 16
    return info


TOP = f"{REPO}-release-v1.2"
BAD_ARCHIVES = {
    "zip slip": (_zip([(f"{TOP}/", b""), (f"{TOP}/../../evil.txt", b"x")]), "zip slip"),
    "absolute": (_zip([("/etc/evil.txt", b"x")]), "absolute path"),
    "symlink": (_zip([(f"{TOP}/", b""), (_symlink(f"{TOP}/{FOLDER}/myst.yml", "/etc/passwd"), b"/etc/passwd")]),
                "symbolic link"),
    "zip bomb": (_zip([(f"{TOP}/{FOLDER}/myst.yml", b"version: 1\n"), (f"{TOP}/zeros.bin", b"\0" * 3_000_000)]),
                 "over the 2097152 byte limit"),
    "not a zip": (b"<html>rate limited</html>", "not a valid zip archive"),
    "no myst.yml": (_zip([(f"{TOP}/", b""), (f"{TOP}/README.md", b"hi")]), "no myst.yml at"),
}


@pytest.mark.parametrize("case", list(BAD_ARCHIVES))
async def test_unsafe_or_wrong_archives_fail_at_once(daemon: Any, standins: StandIns, redis_url: str,
                                                     case: str) -> None:
    base, _, work = await daemon(max_extract_mb=2.0, attempts=3)
    archive, reason = BAD_ARCHIVES[case]
    serve_repo(standins, archive)
    assert (await post(base, submission(standins))).status_code == 202
    status = await until_done(base, "job-abc.1", 30)
    assert status["state"] == "failed" and reason in status["failedReason"], status
    assert status["attemptsMade"] == 1  # unrecoverable: no retries although attempts = 3
    assert standins.statuses_of("job-abc.1")[-1] == ("FAILED", status["failedReason"])
    assert standins.uploads == []
    assert leftovers(work) == []
    assert not (Path("/etc/evil.txt").exists() or (work.parent / "evil.txt").exists())


BUILD_FAILURES = {
    "missing tool": ({"build_command": "pixi run build-meca"}, "build command not found: pixi run build-meca"),
    "build fails": ({"build_command": "echo compiling; echo 'error: bad table' >&2; exit 3"},
                    "build command exited with 3"),
    "build timeout": ({"build_command": "sleep 60", "build_timeout": 1.0}, "build command timed out after 1s"),
    "nothing built": ({"build_command": "true"}, "the build produced none of the exports"),
}


@pytest.mark.parametrize("case", list(BUILD_FAILURES))
async def test_build_failures_end_the_job_with_the_reason(daemon: Any, standins: StandIns, redis_url: str,
                                                          case: str) -> None:
    over, reason = BUILD_FAILURES[case]
    base, _, work = await daemon(**over)
    serve_repo(standins)
    assert (await post(base, submission(standins))).status_code == 202
    status = await until_done(base, "job-abc.1", 30)
    assert status["state"] == "failed" and reason in status["failedReason"], status
    assert standins.statuses_of("job-abc.1")[-1][0] == "FAILED"
    assert leftovers(work) == []
    if case == "build fails":
        logs = redis.Redis.from_url(redis_url).lrange(f"bull:{Q}:job-abc.1:logs", 0, -1)
        assert b"error: bad table" in logs and b"compiling" in logs
        assert "error: bad table" in status["failedReason"]


async def test_upload_server_down_retries_then_fails_with_the_reason(daemon: Any, standins: StandIns,
                                                                     redis_url: str) -> None:
    base, _, work = await daemon(attempts=2, backoff_ms=200)
    standins.upload_status = 503
    serve_repo(standins)
    assert (await post(base, submission(standins))).status_code == 202
    status = await until_done(base, "job-abc.1", 120)
    assert status["state"] == "failed" and "upload to desci-server failed" in status["failedReason"]
    assert "503" in status["failedReason"]
    assert status["attemptsMade"] == 2 and len(standins.uploads) == 2  # retried through BullMQ's backoff
    kinds = [s for s, _ in standins.statuses_of("job-abc.1")]
    assert kinds[-1] == "FAILED" and "COMPLETED" not in kinds
    assert any("will retry" in m for _, m in standins.statuses_of("job-abc.1"))
    assert leftovers(work) == []


def _build_processes(marker: str) -> list[psutil.Process]:
    return [p for p in psutil.process_iter(["cmdline"]) if marker in " ".join(p.info["cmdline"] or [])]


@pytest.mark.parametrize("how", ["supervisor kills the worker", "worker dies on its own"])
async def test_a_dead_worker_takes_its_build_with_it(daemon: Any, standins: StandIns, how: str) -> None:
    """A build is a child of its worker: a kill from the supervisor, or the worker's own death, ends the build."""
    marker = "sleep 3217"
    base, pool, _ = await daemon(build_command=f"{marker}; echo never", build_timeout=600.0)
    serve_repo(standins)
    assert (await post(base, submission(standins))).status_code == 202
    await wait_for(lambda: _build_processes(marker) and pool.holder_of("job-abc.1"), 30, "the build running")
    worker = pool.holder_of("job-abc.1")
    await wait_for(lambda: worker.descendants, 5, "the supervisor sampling the worker's tree")
    build = _build_processes(marker)
    assert all(p.ppid() != 1 for p in build)  # under the worker, not already orphaned
    if how == "supervisor kills the worker":
        pool.sup._kill(worker, "test: RSS over the hard ceiling", blame=False, category="memory")
    else:
        os.kill(worker.pid, signal.SIGKILL)
    await wait_for(lambda: not any(p.is_running() and p.status() != psutil.STATUS_ZOMBIE for p in build), 10,
                   "the build to be killed with its worker")
    await wait_for(lambda: worker.worker_id not in pool.sup.workers, 10, "the supervisor to reap the worker")


async def test_unknown_repository_fails_naming_the_archives_tried(daemon: Any, standins: StandIns) -> None:
    base, _, work = await daemon(attempts=3)
    assert (await post(base, submission(standins))).status_code == 202  # nothing served: every archive is 404
    status = await until_done(base, "job-abc.1", 30)
    assert status["state"] == "failed" and "no archive found" in status["failedReason"]
    assert f"refs/heads/{BRANCH}.zip" in status["failedReason"] and status["attemptsMade"] == 1
    assert leftovers(work) == []


def test_fixture_project_builds_with_the_real_mystmd(tmp_path: Path) -> None:
    """The fixture itself: if mystmd changes what it writes, this says so before the end-to-end test does."""
    import subprocess

    project = tmp_path / "p"
    shutil.copytree(FIXTURE, project)
    subprocess.run(["/bin/sh", "-c", BUILD], cwd=project, check=True, capture_output=True, timeout=120)
    with zipfile.ZipFile(project / "exports" / "manuscript.meca.zip") as z:
        assert {"manifest.xml", "article.xml"} <= set(z.namelist())
    assert (project / "_build" / "site" / "content" / "index.json").is_file()


"""MYST journal builds end to end: the daemon's intake route, the `myst-build` job with a real `mystmd` build
of MyST projects of several shapes (tests/fixtures/myst-projects), GitHub, desci-server and mystmd's template
server played by local HTTP servers (tests/web_standins.py)."""

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

from pool.embedded_redis import free_port
from tests.pool_harness import RunningPool, make_config, wait_for
from tests.redis_server import RedisServer
from tests.web_standins import Serving, StandIns, github_archive

Q = "myst-build"
SECRET = "s3cret-for-tests"
FIXTURE = Path(__file__).parent / "fixtures" / "myst-article"
PROJECTS = Path(__file__).parent / "fixtures" / "myst-projects"
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
        opts = {"github_base_url": standins.url, "desci_server_url": standins.url, "build_command": "",
                "myst_api_url": standins.api_url, "cache_dir": str(tmp_path / "cache"),
                "work_dir": str(work), "attempts": 1, "backoff_ms": 100, "build_timeout": 120.0,
                "status_attempts": 2, **over}
        cfg = tmp_path / "myst.toml"
        cfg.write_text("".join(f"{k} = {json.dumps(v)}\n" for k, v in opts.items()))
        monkeypatch.setenv("CORRAL_MYST_CONFIG", str(cfg))
        monkeypatch.setenv("INTERNAL_SERVICE_SECRET", SECRET)
        for var in ("DESCI_SERVER_URL", "GITHUB_BASE_URL", "CORRAL_MYST_BUILD_COMMAND", "CORRAL_MYST_API_URL"):
            monkeypatch.delenv(var, raising=False)

        return work

    return configure


@pytest.fixture
async def daemon(redis_url: str, myst_cfg: Any) -> AsyncIterator[Any]:
    """Start with `await daemon(**myst settings)`; returns (base URL, the pool, the work folder)."""
    pools: list[RunningPool] = []

    async def start(**over: Any) -> tuple[str, RunningPool, Path]:
        work = myst_cfg(**over)
        cfg = make_config(redis_url, [(Q, "workers.myst.processor:processors", 1)], http={"port": 0},
                          jobtypes=("myst",), min_workers=1, max_workers=1)
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


def serve_project(standins: StandIns, name: str, branch: str = "main", owner: str = OWNER,
                  repo: str = REPO, links: dict[str, str] | None = None) -> None:
    """A fixture project as its whole repository's archive on the GitHub stand-in, with `links` (path in the
    repository: target) as GitHub stores committed symbolic links."""
    top = f"{repo}-{branch.replace('/', '-')}"
    archive = github_archive(PROJECTS / name, top)
    if links:
        buf = io.BytesIO(archive)
        with zipfile.ZipFile(buf, "a") as z:
            for path, target in links.items():
                z.writestr(_symlink(f"{top}/{path}", target), target)
        archive = buf.getvalue()
    standins.archives[f"/{owner}/{repo}/archive/refs/heads/{branch}.zip"] = archive


def blob(standins: StandIns, path: str, branch: str = "main") -> str:
    return f"{standins.url}/{OWNER}/{REPO}/blob/{branch}/{path}"


def exports_of(result: dict[str, Any]) -> dict[tuple[str, str], tuple[str, str]]:
    return {(e["format"], e["output"]): (e["status"], e["reason"]) for e in result["exports"]}


@pytest.mark.slow
async def test_submission_is_built_uploaded_and_reported(daemon: Any, standins: StandIns, redis_url: str) -> None:
    """The journal article (root myst.yml, a notebook, BibTeX): exports without `output` found where mystmd
    wrote them, a real typst PDF, every site page; built by mystmd directly (the default), on a slashed branch."""
    base, _pool, work = await daemon()
    serve_project(standins, "journal-article", BRANCH)
    body = submission(standins, url=blob(standins, "myst.yml", BRANCH), parsedDocument={"project": {"exports": [
        {"format": "meca"}, {"format": "typst", "template": "corral-article-typst", "output": "exports/article.pdf"}]}})
    r = await post(base, body)
    assert r.status_code == 202, r.text
    body = r.json()
    assert body["ok"] is True and body["data"]["jobId"] == "job-abc.1" and body["data"]["uuid"] == "node-uuid-123"
    assert body["data"]["message"] == "Job queued for processing"
    assert r.headers["location"] == body["data"]["statusUrl"] == f"{base}{PATH}/job-abc.1"

    status = await until_done(base, "job-abc.1")
    assert status["state"] == "completed", status
    assert status["progress"] == 100
    result = status["returnvalue"]
    assert result["outcome"] == "completed", json.dumps(result["exports"])
    assert exports_of(result) == {
        ("meca", "_build/exports/myst.zip"): ("delivered", ""),  # no `output`: mystmd's own default name
        ("xml", "_build/exports/myst.xml"): ("skipped", "JATS is delivered inside the MECA"),
        ("typst", "exports/article.pdf"): ("delivered", ""),
        ("site", "_build/site"): ("delivered", ""),
    }

    [upload] = standins.uploads
    assert (upload.uuid, upload.job_id, upload.secret) == ("node-uuid-123", "job-abc.1", SECRET)
    assert upload.fields == {"uuid": "node-uuid-123", "contextPath": "root"}
    names = set(upload.files)
    assert {"_build/exports/myst/manifest.xml", "_build/exports/myst/myst.xml", "_build/exports/myst/bundle/myst.yml",
            "_build/exports/myst/bundle/analysis.ipynb", "_build/exports/myst/bundle/references.bib",
            "exports/article.pdf", "_build/site/config.json", "_build/site/content/index.json",
            "_build/site/content/analysis.json"} <= names
    assert names == set(result["uploaded"])
    pdf = upload.files["exports/article.pdf"]
    assert pdf.startswith(b"%PDF-") and len(pdf) > 5000  # typst's real PDF
    assert b"<article" in upload.files["_build/exports/myst/myst.xml"]
    page = json.loads(upload.files["_build/site/content/analysis.json"])
    assert page["kind"] == "Notebook"
    # the notebook's stored PNG output is a site asset, sent because a page references it
    pngs = [n for n in names if n.startswith("_build/site/public/") and n.endswith(".png")]
    assert pngs and all(upload.files[n].startswith(b"\x89PNG") for n in pngs)
    assert json.loads(upload.files["_build/site/config.json"])["projects"][0]["title"].startswith("Back-pressure")
    # the archive was looked for as branch "release" first (no such branch), then "release/v1.2"
    assert standins.downloads[-1] == f"/{OWNER}/{REPO}/archive/refs/heads/{BRANCH}.zip"
    # the typst template and the site theme came from mystmd's template server (the stand-in), once
    assert sorted(standins.template_downloads) == ["site/myst/book-theme", "typst/myst/corral-article-typst"]

    steps = standins.statuses_of("job-abc.1")
    assert [s for s, _ in steps] == ["IN_PROGRESS", "IN_PROGRESS", "IN_PROGRESS", "COMPLETED"]
    assert steps[0][1] == "Downloading repo files..."
    assert steps[1][1].startswith("Building the repo files... (mystmd directly")
    assert steps[2][1] == "Exporting files..."
    assert steps[3][1] == ("Files exported successfully (delivered: meca _build/exports/myst.zip, "
                           "typst exports/article.pdf, site _build/site)")
    assert all(s["secret"] == SECRET for s in standins.statuses)

    logs = redis.Redis.from_url(redis_url).lrange(f"bull:{Q}:job-abc.1:logs", 0, -1)
    assert any(b"Downloading repo files" in line for line in logs)
    assert any(b"Built analysis.ipynb" in line for line in logs)  # the build's own output
    assert b"export meca _build/exports/myst.zip: delivered" in logs
    assert leftovers(work) == []

    # the same jobId again: answered, not built twice
    again = await post(base, submission(standins))
    assert again.status_code == 202 and again.json()["data"]["message"].startswith("Job already queued")
    assert again.json()["data"]["state"] == "completed"
    assert len(standins.uploads) == 1


@pytest.mark.slow
async def test_exports_through_extends_and_committed_files_give_a_partial_import(daemon: Any, standins: StandIns,
                                                                                 redis_url: str) -> None:
    """A paper in papers/NAME/ whose exports are all in the file it `extends:`; its PDF cannot be built (its
    template is not on the template server) and the PDF the author committed is not sent in its place, not
    even inside the MECA, where mystmd puts whatever is at the PDF export's output. As in the SciPy
    proceedings, another paper's folder holds symbolic links, one of them out of the repository."""
    base, _pool, work = await daemon()
    serve_project(standins, "proceedings", links={"papers/other/shared.bib": "../queue-simulation/mybib.bib",
                                                  "papers/other/data.zarr": "../../../data.zarr"})
    body = submission(standins, url=blob(standins, "papers/queue-simulation/myst.yml"),
                      parsedDocument={"project": {"title": "Simulating queues with bursty arrivals"}})
    assert (await post(base, body)).status_code == 202
    status = await until_done(base, "job-abc.1")
    assert status["state"] == "completed", status  # the job ran to its end; the import is partial
    result = status["returnvalue"]
    assert result["outcome"] == "partial"
    fates = exports_of(result)
    assert fates[("meca", "exports/meca.zip")] == ("delivered", "")
    assert fates[("xml", "exports/article.xml")][0] == "skipped"
    pdf_status, pdf_reason = fates[("pdf", "exports/paper.pdf")]
    assert pdf_status == "failed" and "not built (the repository's own copy was not sent)" in pdf_reason
    assert "tex/myst/cwq-proceedings-tex" in pdf_reason and "404" in pdf_reason  # which download failed
    assert fates[("site", "_build/site")] == ("delivered", "")

    [upload] = standins.uploads
    assert "exports/paper.pdf" not in upload.files  # committed, not built
    assert {"exports/meca/manifest.xml", "exports/meca/article.xml",
            "_build/site/content/main.json"} <= set(upload.files)
    committed = (PROJECTS / "proceedings/papers/queue-simulation/exports/paper.pdf").read_bytes()
    assert not [n for n, data in upload.files.items() if data == committed]  # not in the MECA either
    assert b"paper.pdf" not in upload.files["exports/meca/manifest.xml"]
    logs = redis.Redis.from_url(redis_url).lrange(f"bull:{Q}:job-abc.1:logs", 0, -1)
    assert any(b"the repository's own exports/paper.pdf (exports this build did not make) are kept out of the "
               b"MECA and the site" in line for line in logs)
    assert any(b"symbolic link" in line and b"papers/other/data.zarr -> ../../../data.zarr" in line
               for line in logs)
    assert any(n.endswith(".png") for n in upload.files)  # the figure the page shows
    last = standins.statuses_of("job-abc.1")[-1]
    assert last[0] == "FAILED" and last[1].startswith("Partial import: 2 of 3 exports delivered")
    assert "pdf exports/paper.pdf:" in last[1] and "cwq-proceedings-tex" in last[1]
    assert "COMPLETED" not in [s for s, _ in standins.statuses_of("job-abc.1")]
    assert leftovers(work) == []


@pytest.mark.slow
async def test_a_code_repository_and_a_seven_page_project_share_the_template_cache(daemon: Any,
                                                                                   standins: StandIns) -> None:
    """An article without a toc in paper/ of a code repository (its page is article.json), then seven pages
    with figures: the second build takes the site theme from the cache instead of downloading it again."""
    base, _pool, work = await daemon()
    serve_project(standins, "code-repo")
    body = submission(standins, url=blob(standins, "paper/myst.yml"), parsedDocument={"project": {"exports": [
        {"format": "meca", "output": "exports/article.meca.zip"}]}})
    assert (await post(base, body)).status_code == 202
    status = await until_done(base, "job-abc.1")
    assert status["state"] == "completed" and status["returnvalue"]["outcome"] == "completed", status
    assert "pixi is not installed (the repository has a 'build-meca' task)" in status["returnvalue"]["build"]
    files = standins.uploads[-1].files
    assert "_build/site/content/article.json" in files and "_build/site/content/index.json" not in files
    assert files["exports/article.typ"].startswith(b"// Created with jtex")
    assert "exports/article.meca/article.xml" in files
    assert standins.template_downloads == ["site/myst/book-theme"]

    serve_project(standins, "lecture-notes")
    body = submission(standins, job_id="job-abc.2", url=blob(standins, "myst.yml"),
                      parsedDocument={"project": {"exports": [{"format": "meca", "output": "exports/notes.meca.zip"}]}})
    assert (await post(base, body)).status_code == 202
    status = await until_done(base, "job-abc.2")
    assert status["state"] == "completed" and status["returnvalue"]["outcome"] == "completed", status
    files = standins.uploads[-1].files
    pages = {n.removeprefix("_build/site/content/") for n in files if n.startswith("_build/site/content/")}
    assert pages == {"index.json", "arrivals.json", "service.json", "little.json", "workers.json", "limits.json",
                     "failures.json"}
    nav = json.loads(files["_build/site/config.json"])["projects"][0]["pages"]
    assert len([p for p in nav if "slug" in p]) == 6
    assert len([n for n in files if n.startswith("_build/site/public/") and n.endswith(".png")]) == 2
    # its plugin could not be downloaded: the site is delivered, and the status says what it lacks
    plugin = "could not download plugin https://plugins.invalid/listing.mjs"
    site_status, site_reason = exports_of(status["returnvalue"])[("site", "_build/site")]
    assert site_status == "delivered" and site_reason.startswith(f"built with errors: {plugin}")
    last = standins.statuses_of("job-abc.2")[-1]
    assert last[0] == "COMPLETED" and f"delivered with errors: site _build/site: {plugin}" in last[1]
    assert standins.template_downloads == ["site/myst/book-theme"]  # not again: the cache had it
    assert status["returnvalue"]["cachedTemplates"] == []
    assert leftovers(work) == []


PIXI_STANDIN = """#!{python}
# pixi cannot be installed here (no registry has it): this stand-in runs a task of ./pixi.toml as pixi does.
import subprocess, sys, tomllib
assert sys.argv[1] == "run", sys.argv
open({record!r}, "a").write(sys.argv[2] + "\\n")
task = tomllib.load(open("pixi.toml", "rb"))["tasks"][sys.argv[2]]
sys.exit(subprocess.run(["/bin/sh", "-c", task]).returncode)
"""


@pytest.mark.slow
async def test_the_repository_pixi_task_builds_when_pixi_is_installed(daemon: Any, standins: StandIns,
                                                                      tmp_path: Path,
                                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    bin_dir, record = tmp_path / "bin", tmp_path / "pixi-runs"
    bin_dir.mkdir()
    (bin_dir / "pixi").write_text(PIXI_STANDIN.format(python=sys.executable, record=str(record)))
    (bin_dir / "pixi").chmod(0o755)
    monkeypatch.setenv("PATH", f"{bin_dir}:{MYST.parent}:{os.environ['PATH']}")
    base, _, work = await daemon()
    serve_project(standins, "code-repo")
    body = submission(standins, url=blob(standins, "paper/myst.yml"), parsedDocument={"project": {"exports": [
        {"format": "meca", "output": "exports/article.meca.zip"}]}})
    assert (await post(base, body)).status_code == 202
    status = await until_done(base, "job-abc.1")
    assert status["state"] == "completed", status
    assert record.read_text() == "build-meca\n"
    result = status["returnvalue"]
    assert result["build"] == "the repository's pixi task 'build-meca'" and result["outcome"] == "completed"
    # the task's last mystmd run was --site: the MECA is known from the submission, judged by its output path
    assert exports_of(result)[("meca", "exports/article.meca.zip")] == ("delivered", "")
    assert "exports/article.meca/article.xml" in standins.uploads[-1].files
    assert leftovers(work) == []


@pytest.mark.slow
async def test_a_template_that_cannot_be_downloaded_is_named_in_the_reason(daemon: Any, standins: StandIns) -> None:
    """mystmd's real error, not its version table: the download that failed is in failedReason and FAILED."""
    closed = f"http://127.0.0.1:{free_port()}"
    base, _, work = await daemon(build_command=f"{MYST} build --typst", myst_api_url=closed)
    serve_repo(standins)
    assert (await post(base, submission(standins))).status_code == 202
    status = await until_done(base, "job-abc.1", 60)
    assert status["state"] == "failed", status
    reason = status["failedReason"]
    assert f"could not download {closed}/templates/typst/myst/lapreprint-typst" in reason, reason
    assert "ECONNREFUSED" in reason and "Update available" not in reason
    assert standins.statuses_of("job-abc.1")[-1] == ("FAILED", reason)
    assert standins.uploads == [] and leftovers(work) == []


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
    cfg = make_config(redis_url, [(Q, "workers.myst.processor:processors", 1)], http={"port": 0},
                      jobtypes=("myst",), min_workers=0)
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


def _alive(p: psutil.Process) -> bool:
    """Running and not a zombie; a process that vanishes between the two questions is gone (what the test awaits)."""
    try:
        return p.is_running() and p.status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


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
    await wait_for(lambda: not any(map(_alive, build)), 10, "the build to be killed with its worker")
    await wait_for(lambda: worker.worker_id not in pool.sup.state.workers, 10, "the supervisor to reap the worker")


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


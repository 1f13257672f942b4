"""GitHub's archive downloads, desci-server's two endpoints and mystmd's template server, over real HTTP.

One Starlette app run by uvicorn in a thread of the test process, so a test reads what it recorded
directly. GitHub: `GET /{owner}/{repo}/archive/refs/heads/{branch}.zip` (and refs/tags, commit ids) from
`archives`. desci-server: `updateStatus` and `receiveFiles` recorded with the secret header they carried;
`updateStatus` takes only the states desci-server has (PENDING, IN_PROGRESS, COMPLETED, FAILED: 400 otherwise).
mystmd's template server (api.mystmd.org, mystmd's `API_URL`, here `{url}/mystmd-api`):
`GET /templates/{kind}/{org}/{name}` answers the template's download link, and the link serves a zip of
`tests/fixtures/myst-templates/{kind}/{org}/{name}` inside one top folder, as GitHub's archives are.
"""

from __future__ import annotations

import io
import threading
import time
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from pool.embedded_redis import free_port

TEMPLATES = Path(__file__).parent / "fixtures" / "myst-templates"
STATES = ("PENDING", "IN_PROGRESS", "COMPLETED", "FAILED")  # desci-server's import states


@dataclass
class Upload:
    uuid: str
    job_id: str
    secret: str
    fields: dict[str, str]
    files: dict[str, bytes]


@dataclass
class StandIns:
    archives: dict[str, bytes] = field(default_factory=dict)  # path after the host -> zip bytes
    statuses: list[dict[str, Any]] = field(default_factory=list)
    uploads: list[Upload] = field(default_factory=list)
    upload_status: int = 200  # what receiveFiles answers
    downloads: list[str] = field(default_factory=list)
    template_downloads: list[str] = field(default_factory=list)  # the zips mystmd fetched
    url: str = ""

    @property
    def api_url(self) -> str:
        """mystmd's API_URL for builds that should reach this template server."""
        return f"{self.url}/mystmd-api"

    def reset(self) -> None:
        self.archives.clear()
        self.statuses.clear()
        self.uploads.clear()
        self.downloads.clear()
        self.template_downloads.clear()
        self.upload_status = 200

    def statuses_of(self, job_id: str) -> list[tuple[str, str]]:
        return [(s["status"], s["message"]) for s in self.statuses if s["job_id"] == job_id]

    # -- the app --------------------------------------------------------------------------------------

    async def archive(self, request: Request) -> Response:
        path = request.url.path
        self.downloads.append(path)
        body = self.archives.get(path)
        if body is None:
            return JSONResponse({"message": "Not Found"}, status_code=404)
        return Response(body, media_type="application/zip")

    async def status(self, request: Request) -> Response:
        body = await request.json()
        if body.get("status") not in STATES or not isinstance(body.get("message"), str):
            return JSONResponse({"ok": False, "message": f"invalid status {body.get('status')!r}"}, status_code=400)
        self.statuses.append({"uuid": request.path_params["uuid"], "job_id": request.path_params["job_id"],
                              "secret": request.headers.get("x-internal-secret", ""), **body})
        return JSONResponse({"ok": True})

    async def receive(self, request: Request) -> Response:
        async with request.form(max_files=10_000) as form:
            files = {}
            fields = {}
            for key, value in form.multi_items():
                if isinstance(value, str):
                    fields[key] = value
                else:
                    assert key == "files", key
                    files[value.filename or ""] = await value.read()
        self.uploads.append(Upload(request.path_params["uuid"], request.path_params["job_id"],
                                   request.headers.get("x-internal-secret", ""), fields, files))
        if self.upload_status != 200:
            return JSONResponse({"error": "unavailable"}, status_code=self.upload_status)
        return JSONResponse({"ok": True})

    async def template(self, request: Request) -> Response:
        kind, org, name = (request.path_params[k] for k in ("kind", "org", "name"))
        if not (TEMPLATES / kind / org / name / "template.yml").is_file():
            return JSONResponse({"message": "template not found"}, status_code=404)
        download = f"{self.api_url}/download/{kind}/{org}/{name}.zip"
        return JSONResponse({"id": f"{kind}/{org}/{name}", "links": {"download": download}})

    async def template_zip(self, request: Request) -> Response:
        kind, org, name = (request.path_params[k] for k in ("kind", "org", "name"))
        folder = TEMPLATES / kind / org / name
        if not folder.is_dir():
            return JSONResponse({"message": "Not Found"}, status_code=404)
        self.template_downloads.append(f"{kind}/{org}/{name}")
        return Response(github_archive(folder, f"{name}-main"), media_type="application/zip")

    def app(self) -> Starlette:
        return Starlette(routes=[
            Route("/mystmd-api/templates/{kind}/{org}/{name}", self.template, methods=["GET"]),
            Route("/mystmd-api/download/{kind}/{org}/{name}.zip", self.template_zip, methods=["GET"]),
            Route("/v1/nodes/{uuid}/github-myst-import/{job_id}/updateStatus", self.status, methods=["POST"]),
            Route("/v1/nodes/{uuid}/finalize-myst-import/{job_id}/receiveFiles", self.receive, methods=["POST"]),
            Route("/{rest:path}", self.archive, methods=["GET"]),
        ])


class Serving:
    """uvicorn in a daemon thread; `stop()` at the end."""

    def __init__(self, app: Starlette) -> None:
        self.port = free_port()
        self.server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=self.port, log_level="warning",
                                                    lifespan="off"))
        self.thread = threading.Thread(target=self.server.run, daemon=True)
        self.thread.start()
        deadline = time.monotonic() + 10
        while not self.server.started:
            if time.monotonic() > deadline:
                raise RuntimeError("stand-in HTTP server did not start")
            time.sleep(0.01)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(10)


def github_archive(project: Path, top: str, folder: str = "") -> bytes:
    """A zip laid out as GitHub's archives are: one top folder, the project under `folder` inside it."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr(f"{top}/", "")
        if not (project / "README.md").exists() or folder:
            z.writestr(f"{top}/README.md", "# the repository\n")
        for p in sorted(project.rglob("*")):
            if p.is_file():
                rel = p.relative_to(project).as_posix()
                z.write(p, f"{top}/{folder + '/' if folder else ''}{rel}")
    return buf.getvalue()

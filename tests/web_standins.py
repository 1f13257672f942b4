"""GitHub's archive downloads and desci-server's two endpoints, over real HTTP on a free port.

One Starlette app run by uvicorn in a thread of the test process, so a test reads what it recorded
directly. GitHub: `GET /{owner}/{repo}/archive/refs/heads/{branch}.zip` (and refs/tags, commit ids) from
`archives`. desci-server: `updateStatus` and `receiveFiles` recorded with the secret header they carried.
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
    url: str = ""

    def reset(self) -> None:
        self.archives.clear()
        self.statuses.clear()
        self.uploads.clear()
        self.downloads.clear()
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

    def app(self) -> Starlette:
        return Starlette(routes=[
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
        z.writestr(f"{top}/README.md", "# the repository\n")
        for p in sorted(project.rglob("*")):
            if p.is_file():
                rel = p.relative_to(project).as_posix()
                z.write(p, f"{top}/{folder + '/' if folder else ''}{rel}")
    return buf.getvalue()

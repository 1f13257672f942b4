#!/usr/bin/env python3
"""Run real MyST projects through the whole `myst-build` job and print what became of each.

    PYTHONPATH=$PWD python scripts/myst_real_projects.py [--offline] [--set KEY=VALUE ...] \
        [--json FILE] REPO_FOLDER[:SUBFOLDER] ...

Each argument is a repository's files on disk (a checkout) and, after a colon, the folder inside it that holds
the submitted `myst.yml` (the repository root without one). For each, at run time, the script zips the
repository as GitHub's archives are (one top folder, symbolic links kept as links), serves it from the GitHub
stand-in of the tests (tests/web_standins.py), submits it to a real corral daemon's intake route with the
project's own parsed `myst.yml` as `parsedDocument` (as desci-server does), and waits for the job: the real
worker, the real mystmd and typst, the desci-server stand-in recording the upload and every status.

Template server: by default the stand-in, which answers every site theme with the content-only theme of the
tests (corral sends the site's content, never runs a theme) and has no export template (each is a 404).
`--offline` uses mystmd's own (api.mystmd.org), which cannot be reached from this machine.

Settings are config/myst.toml's (download and build limits included), except the URLs and folders the run needs
and `attempts = 1`; `--set max_download_mb=1000` overrides one. The folder name `owner+repo` (as the search
tool's snapshots are named) gives the repository's owner and name. Nothing is written inside the repositories:
archives are built in memory, the work and cache folders are temporary.

For each project it prints: the outcome, each export's fate, the files uploaded (and any that the repository
holds with the same content: a committed file sent as if built), the site pages sent against those the site's
config.json lists, every status sent to desci-server, and the time. `--json` writes all of it to a file.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import io
import json
import os
import stat
import sys
import tempfile
import time
import tomllib
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import redis
import yaml
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from pool.embedded_redis import EmbeddedRedis  # noqa: E402
from tests.pool_harness import RunningPool, make_config, wait_for  # noqa: E402
from tests.web_standins import TEMPLATES, Serving, StandIns, github_archive  # noqa: E402

QUEUE = "myst-build"
INTAKE = "/v1/services/process-journal-submission"
SECRET = "real-projects-secret"
SITE_THEME = TEMPLATES / "site" / "myst" / "book-theme"  # content only: what `myst build --site` reads
BRANCH = "main"


@dataclass(frozen=True)
class Project:
    repo_folder: Path
    subfolder: str  # the folder holding myst.yml, "" for the repository root

    @property
    def owner_repo(self) -> tuple[str, str]:
        name = self.repo_folder.name
        owner, _, repo = name.partition("+")
        return (owner, repo) if repo else ("real-projects", name)

    @property
    def label(self) -> str:
        owner, repo = self.owner_repo
        return f"{owner}/{repo}" + (f":{self.subfolder}" if self.subfolder else "")


def parse_project(arg: str) -> Project:
    folder, _, sub = arg.partition(":")
    repo = Path(folder).resolve()
    sub = sub.strip("/")
    if not (repo / sub / "myst.yml").is_file():
        raise SystemExit(f"{arg}: no myst.yml in {repo / sub}")
    return Project(repo, sub)


class RealStandIns(StandIns):
    """The tests' stand-ins; the template server answers any site theme with the content-only one."""

    async def template(self, request: Request) -> Response:
        if request.path_params["kind"] != "site":
            return await super().template(request)
        kind, org, name = (request.path_params[k] for k in ("kind", "org", "name"))
        return JSONResponse({"id": f"{kind}/{org}/{name}",
                             "links": {"download": f"{self.api_url}/download/{kind}/{org}/{name}.zip"}})

    async def template_zip(self, request: Request) -> Response:
        if request.path_params["kind"] != "site":
            return await super().template_zip(request)
        name = request.path_params["name"]
        self.template_downloads.append(f"site/{request.path_params['org']}/{name}")
        return Response(github_archive(SITE_THEME, f"{name}-main"), media_type="application/zip")


def repository_archive(repo: Path, top: str) -> bytes:
    """The repository as GitHub zips it: every file under one top folder, symbolic links as links."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr(f"{top}/", "")
        for dirpath, dirs, files in os.walk(repo):
            dirs[:] = sorted(d for d in dirs if d != ".git")
            for name in sorted(files) + [d for d in dirs if (Path(dirpath) / d).is_symlink()]:
                p = Path(dirpath) / name
                arc = f"{top}/{p.relative_to(repo).as_posix()}"
                if p.is_symlink():
                    info = zipfile.ZipInfo(arc)
                    info.external_attr = (stat.S_IFLNK | 0o777) << 16
                    z.writestr(info, os.readlink(p))
                else:
                    z.write(p, arc)
    return buf.getvalue()


def parsed_document(myst_yml: Path) -> dict[str, Any]:
    """What desci-server sends: the parsed myst.yml (dates as strings, as its JSON has them)."""
    data = yaml.safe_load(myst_yml.read_text()) or {}
    doc: dict[str, Any] = json.loads(json.dumps(data, default=str))
    doc.setdefault("project", {})
    if doc["project"] is None:
        doc["project"] = {}
    return doc


@dataclass
class Result:
    project: str
    state: str = ""
    outcome: str = ""
    seconds: float = 0.0
    build_seconds: float | None = None
    archive_mb: float = 0.0
    intake: str = ""
    failed_reason: str = ""
    exports: list[dict[str, Any]] = field(default_factory=list)
    uploaded: list[str] = field(default_factory=list)
    committed_sent: list[str] = field(default_factory=list)
    site_pages: str = ""
    statuses: list[tuple[str, str]] = field(default_factory=list)
    template_downloads: list[str] = field(default_factory=list)
    pdfs: dict[str, str] = field(default_factory=dict)


def _digest(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


OUTPUT_SUFFIXES = (".pdf", ".zip", ".xml", ".typ", ".docx", ".tex")


def committed_copies(project_dir: Path, files: dict[str, bytes]) -> list[str]:
    """Uploaded files with the content of a file the repository holds as an export-like output (a PDF, a zip,
    JATS...), under any name: sent as if built, unless it is a download the site offers as a static file."""
    committed: dict[str, str] = {}
    for p in project_dir.rglob("*"):
        if p.suffix.lower() in OUTPUT_SUFFIXES and p.is_file() and not p.is_symlink() and "_build" not in p.parts:
            committed.setdefault(_digest(p.read_bytes()), p.relative_to(project_dir).as_posix())
    same = []
    for name, data in files.items():
        if (where := committed.get(_digest(data))) is not None:
            note = " (a site download)" if name.startswith("_build/site/public/") else ""
            same.append(f"{name} = the repository's {where}{note}")
    return sorted(same)


def site_pages(files: dict[str, bytes]) -> str:
    """'N of M': the page files sent against the pages the sent config.json lists (its nav plus the index)."""
    config = files.get("_build/site/config.json")
    sent = {n for n in files if n.startswith("_build/site/content/") and n.endswith(".json")}
    if config is None:
        return f"{len(sent)} page files, no config.json"
    listed: set[str] = set()
    for proj in json.loads(config).get("projects", []):
        if proj.get("index"):
            listed.add(proj["index"])
        listed |= {p["slug"] for p in proj.get("pages", []) if p.get("slug")}
    missing = sorted(s for s in listed if f"_build/site/content/{s}.json" not in sent)
    return f"{len(listed) - len(missing)} of {len(listed)}" + (f" (missing: {', '.join(missing[:10])})" if missing
                                                               else "")


async def run_one(base: str, redis_url: str, standins: StandIns, project: Project, job_id: str, wait: float,
                  keep: Path | None) -> Result:
    owner, repo = project.owner_repo
    result = Result(project.label)
    archive = await asyncio.to_thread(repository_archive, project.repo_folder, f"{repo}-{BRANCH}")
    result.archive_mb = round(len(archive) / 1e6, 1)
    standins.archives.clear()
    standins.archives[f"/{owner}/{repo}/archive/refs/heads/{BRANCH}.zip"] = archive
    path = f"{project.subfolder}/myst.yml" if project.subfolder else "myst.yml"
    body = {"url": f"{standins.url}/{owner}/{repo}/blob/{BRANCH}/{path}", "jobId": job_id, "uuid": "node-real",
            "parsedDocument": parsed_document(project.repo_folder / path)}
    before = (len(standins.statuses), len(standins.uploads), len(standins.template_downloads))
    started = time.monotonic()
    async with httpx.AsyncClient(timeout=60) as c:
        r = await c.post(base + INTAKE, json=body, headers={"X-Internal-Secret": SECRET})
        result.intake = f"{r.status_code} {r.json().get('message', r.json().get('data', {}).get('message', ''))}"
        if r.status_code != 202:
            result.state = "refused at intake"
            return result

        async def done() -> dict[str, Any] | None:
            got = await c.get(f"{base}{INTAKE}/{job_id}", headers={"X-Internal-Secret": SECRET})
            data: dict[str, Any] = got.json()["data"]
            return data if data["state"] in ("completed", "failed") else None

        status: dict[str, Any] = await wait_for(done, wait, f"job {job_id}", step=0.5)
    result.seconds = round(time.monotonic() - started, 1)
    result.state = status["state"]
    result.failed_reason = status.get("failedReason") or ""
    value = status.get("returnvalue") or {}
    result.outcome = value.get("outcome", "")
    result.build_seconds = value.get("buildSeconds")
    result.exports = value.get("exports", [])
    result.statuses = [(s["status"], s["message"]) for s in standins.statuses[before[0]:]]
    result.template_downloads = standins.template_downloads[before[2]:]
    uploads = standins.uploads[before[1]:]
    files = {n: d for u in uploads for n, d in u.files.items()}
    result.uploaded = sorted(files)
    project_dir = project.repo_folder / project.subfolder
    result.committed_sent = committed_copies(project_dir, files)
    result.site_pages = site_pages(files) if any(n.startswith("_build/site/") for n in files) else "none sent"
    result.pdfs = {n: f"{len(d)} bytes, {'a PDF' if d.startswith(b'%PDF-') else 'NOT a PDF'}"
                   for n, d in files.items() if n.endswith(".pdf")}
    if keep:
        logs = await asyncio.to_thread(redis.Redis.from_url(redis_url).lrange, f"bull:{QUEUE}:{job_id}:logs", 0, -1)
        await asyncio.to_thread(_keep, keep, job_id, files, logs)
    return result


def _keep(keep: Path, job_id: str, files: dict[str, bytes], logs: list[bytes]) -> None:
    for name, data in files.items():
        target = keep / job_id / name
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(data)
    keep.mkdir(parents=True, exist_ok=True)
    (keep / f"{job_id}.log").write_bytes(b"\n".join(logs) + b"\n")


def report(r: Result, all_files: bool) -> str:
    lines = [f"== {r.project}", f"   intake: {r.intake}; archive {r.archive_mb} MB",
             f"   state: {r.state}; outcome: {r.outcome or '-'}; {r.seconds}s in all (build {r.build_seconds}s)"]
    if r.failed_reason:
        lines.append(f"   failedReason: {r.failed_reason}")
    for e in r.exports:
        reason = f" ({e['reason']})" if e["reason"] else ""
        lines.append(f"   export {e['format']} {e['output']} [{e['source']}]: {e['status']}{reason}")
    groups: dict[str, int] = {}
    for n in r.uploaded:
        key = n.split("/content/")[0] + "/content/" if "/content/" in n else n.rsplit("/", 1)[0] + "/"
        groups[key] = groups.get(key, 0) + 1
    shown = r.uploaded if all_files else [f"{k}* ({v} files)" if v > 1 else k for k, v in sorted(groups.items())]
    lines.append(f"   uploaded: {len(r.uploaded)} files: " + ", ".join(shown))
    lines += [f"   PDF {name}: {what}" for name, what in sorted(r.pdfs.items())]
    lines.append(f"   site pages sent: {r.site_pages}")
    lines.append(f"   uploaded with a committed file's content: {', '.join(r.committed_sent) or 'none'}")
    lines.append(f"   templates fetched from the template server: {', '.join(r.template_downloads) or 'none'}")
    for status, message in r.statuses:
        lines.append(f"   status {status}: {message}")
    return "\n".join(lines)


def settings_file(folder: Path, api_url: str, base: str, overrides: list[str]) -> Path:
    opts: dict[str, Any] = tomllib.loads((ROOT / "config" / "myst.toml").read_text())
    opts.update({"github_base_url": base, "desci_server_url": base, "myst_api_url": api_url,
                 "work_dir": str(folder / "work"), "cache_dir": str(folder / "cache"), "attempts": 1})
    for item in overrides:
        key, _, value = item.partition("=")
        opts[key] = tomllib.loads(f"v = {value}")["v"]
    path = folder / "myst.toml"
    path.write_text("".join(f"{k} = {json.dumps(v)}\n" for k, v in opts.items()))
    return path


async def main(args: argparse.Namespace) -> list[Result]:
    projects = [parse_project(a) for a in args.projects]
    standins = RealStandIns()
    serving = Serving(standins.app())
    standins.url = serving.url
    redis_server = EmbeddedRedis.throwaway()
    redis_server.start()
    results: list[Result] = []
    try:
        with tempfile.TemporaryDirectory(prefix="myst-real-") as tmp:
            api = "" if args.offline else standins.api_url
            os.environ["CORRAL_MYST_CONFIG"] = str(settings_file(Path(tmp), api, standins.url, args.set))
            os.environ["INTERNAL_SERVICE_SECRET"] = SECRET
            for var in ("DESCI_SERVER_URL", "GITHUB_BASE_URL", "CORRAL_MYST_BUILD_COMMAND", "CORRAL_MYST_API_URL"):
                os.environ.pop(var, None)
            from workers.myst.settings import load_settings

            settings = load_settings()
            timeout = settings.build_timeout + settings.download_timeout + 120
            cfg = make_config(redis_server.url, [(QUEUE, "workers.myst.processor:processors", 1)],
                              http={"port": 0}, jobtypes=("myst",), min_workers=1, max_workers=1,
                              start_timeout=60.0)
            async with RunningPool(cfg) as pool:
                await wait_for(lambda: pool.sup.http is not None and pool.sup.http.port, 10, "the HTTP server")
                assert pool.sup.http is not None
                base = f"http://127.0.0.1:{pool.sup.http.port}"
                for i, project in enumerate(projects):
                    r = await run_one(base, redis_server.url, standins, project, f"real-{i + 1}", timeout,
                                      Path(args.keep) if args.keep else None)
                    results.append(r)
                    print(report(r, args.all_files), flush=True)
    finally:
        redis_server.stop()
        serving.stop()
    print("\n| project | state | outcome | exports | site pages | time |\n| --- | --- | --- | --- | --- | --- |")
    for r in results:
        fates = "; ".join(f"{e['format']} {e['status']}" for e in r.exports) or "-"
        print(f"| {r.project} | {r.state} | {r.outcome or '-'} | {fates} | {r.site_pages} | {r.seconds}s |")
    return results


def cli() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("projects", nargs="+", metavar="REPO_FOLDER[:SUBFOLDER]")
    parser.add_argument("--offline", action="store_true",
                        help="mystmd's own template server (unreachable here) instead of the stand-in")
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                        help="override a setting of config/myst.toml (a TOML value)")
    parser.add_argument("--json", help="write every result to this file")
    parser.add_argument("--keep", metavar="DIR",
                        help="write each job's uploaded files to DIR/<jobId>/ and its log to DIR/<jobId>.log")
    parser.add_argument("--all-files", action="store_true", help="list every uploaded file")
    args = parser.parse_args()
    results = asyncio.run(main(args))
    if args.json:
        Path(args.json).write_text(json.dumps([r.__dict__ for r in results], indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(cli())

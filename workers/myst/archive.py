"""Download a repository archive and unpack it, refusing what could harm the machine.

The archive comes from the internet on behalf of whoever can submit a job: the download is streamed with a
timeout and a size limit, and extraction rejects paths that leave the folder (zip slip), absolute paths,
devices, and more files or more bytes than configured — counted on the bytes actually written, since a zip's
declared sizes can lie (zip bombs).

Symbolic links are part of real repositories (GitHub's archives keep them: the SciPy proceedings hold three
in one paper's folder), so one does not refuse the archive: a link whose target stays inside the archive's
folder is made, after every file is written (so no file is ever written through a link); any other (absolute,
out of the folder, or ending outside through other links) is left out and named in the returned list.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import stat
import zipfile
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

import httpx

CHUNK = 1 << 16
MAX_LINK = 4096  # bytes of a link's target: a path, not content


class ArchiveError(Exception):
    """The archive cannot be used; the message says why. Not worth retrying."""


class NotFound(Exception):
    """No archive at that URL (404)."""


@dataclass(frozen=True)
class Limits:
    max_download_bytes: int
    max_extract_bytes: int
    max_entries: int


async def download(client: httpx.AsyncClient, url: str, dest: Path, limits: Limits, time_limit: float) -> int:
    """Stream `url` into `dest` within `time_limit` seconds in all; returns its size.

    httpx errors (network, 5xx) and TimeoutError propagate: they are transient."""
    async with asyncio.timeout(time_limit):
        return await _stream(client, url, dest, limits)


async def _stream(client: httpx.AsyncClient, url: str, dest: Path, limits: Limits) -> int:
    written = 0
    async with client.stream("GET", url, follow_redirects=True) as response:
        if response.status_code == 404:
            raise NotFound(url)
        if 400 <= response.status_code < 500:
            raise ArchiveError(f"GET {url} answered {response.status_code}")
        response.raise_for_status()
        declared = int(response.headers.get("content-length") or 0)
        if declared > limits.max_download_bytes:
            raise ArchiveError(f"archive is {declared} bytes, over the {limits.max_download_bytes} byte limit "
                               "(max_download_mb)")
        with dest.open("wb") as f:
            async for chunk in response.aiter_bytes(CHUNK):
                written += len(chunk)
                if written > limits.max_download_bytes:
                    raise ArchiveError(f"archive is over the {limits.max_download_bytes} byte download limit "
                                       "(max_download_mb)")
                f.write(chunk)
    return written


def _safe_name(info: zipfile.ZipInfo) -> PurePosixPath:
    name = info.filename.replace("\\", "/")
    path = PurePosixPath(name)
    if name.startswith("/") or (len(name) > 1 and name[1] == ":"):
        raise ArchiveError(f"archive entry {info.filename!r} has an absolute path")
    if ".." in path.parts:
        raise ArchiveError(f"archive entry {info.filename!r} points outside the folder (zip slip)")
    mode = info.external_attr >> 16
    # Many zip writers store permission bits only (no file type): those entries are plain files.
    if stat.S_IFMT(mode) not in (0, stat.S_IFREG, stat.S_IFDIR, stat.S_IFLNK):
        raise ArchiveError(f"archive entry {info.filename!r} is not a regular file or folder")
    return path


def _is_link(info: zipfile.ZipInfo) -> bool:
    return stat.S_ISLNK(info.external_attr >> 16)


def extract(archive: Path, dest: Path, limits: Limits, *, links: bool = True) -> list[str]:
    """Unpack `archive` into `dest`, all or nothing: on any refusal `dest` is removed. Returns the symbolic links
    left out (`name -> target`, names as in the archive): every one when `links` is False."""
    try:
        with zipfile.ZipFile(archive) as z:
            infos = z.infolist()
            if len(infos) > limits.max_entries:
                raise ArchiveError(f"archive has {len(infos)} entries, over the limit of {limits.max_entries} "
                                   "(max_entries)")
            names = [_safe_name(i) for i in infos]  # refuse before writing anything
            declared = sum(i.file_size for i in infos)
            if declared > limits.max_extract_bytes:
                raise ArchiveError(f"archive unpacks to {declared} bytes, over the {limits.max_extract_bytes} "
                                   "byte limit (max_extract_mb)")
            dest.mkdir(parents=True, exist_ok=True)
            root = dest.resolve()
            total = 0
            wanted: list[tuple[PurePosixPath, str]] = []
            for info, name in zip(infos, names, strict=True):
                if _is_link(info):
                    if info.file_size > MAX_LINK:
                        raise ArchiveError(f"archive entry {info.filename!r} is a symbolic link of "
                                           f"{info.file_size} bytes")
                    wanted.append((name, z.read(info).decode("utf-8", "replace")))
                    continue
                target = (root / name).resolve()
                if not target.is_relative_to(root):
                    raise ArchiveError(f"archive entry {info.filename!r} points outside the folder (zip slip)")
                if info.is_dir():
                    target.mkdir(parents=True, exist_ok=True)
                    continue
                target.parent.mkdir(parents=True, exist_ok=True)
                with z.open(info) as src, open(target, "xb") as out:
                    while chunk := src.read(CHUNK):
                        total += len(chunk)
                        if total > limits.max_extract_bytes:
                            raise ArchiveError(f"archive unpacks to more than {limits.max_extract_bytes} bytes "
                                               "(max_extract_mb; its declared sizes are wrong: a zip bomb?)")
                        out.write(chunk)
                os.chmod(target, 0o644)
            return _make_links(root, wanted) if links else [f"{n} -> {t}" for n, t in wanted]
    except zipfile.BadZipFile as e:
        shutil.rmtree(dest, ignore_errors=True)
        raise ArchiveError(f"not a valid zip archive: {e}") from None
    except (FileExistsError, NotADirectoryError, IsADirectoryError) as e:
        shutil.rmtree(dest, ignore_errors=True)
        where = os.path.relpath(e.filename, dest.resolve()) if e.filename else "an entry"
        raise ArchiveError(f"archive holds {where} twice, or as both a file and a folder") from None
    except BaseException:
        shutil.rmtree(dest, ignore_errors=True)
        raise


def _make_links(root: Path, wanted: list[tuple[PurePosixPath, str]]) -> list[str]:
    """Make the links that stay inside the archive's top folder (the repository); returns the others. Made
    after every file, so no file was written through one; checked again once all exist, since a link may end
    outside through another."""
    left_out, made = [], []
    for name, target in wanted:
        where = root / name
        top = root / name.parts[0]  # the repository: GitHub's archive holds it in one top folder
        lexical = os.path.normpath(where.parent / target)
        if not target or os.path.isabs(target) or not Path(lexical).is_relative_to(top):
            left_out.append(f"{name} -> {target}")
            continue
        if os.path.lexists(where) or not where.parent.resolve().is_relative_to(root):
            raise ArchiveError(f"archive holds {name} twice, or as both a link and a file or folder")
        where.parent.mkdir(parents=True, exist_ok=True)
        os.symlink(target, where)
        made.append((name, target, where, top))
    for name, target, where, top in made:
        if not Path(os.path.realpath(where)).is_relative_to(top.resolve()):
            where.unlink()
            left_out.append(f"{name} -> {target}")
    return left_out


def project_folder(extracted: Path, folder: str) -> Path:
    """GitHub archives hold one top folder (`{repo}-{ref}`); the project is `folder` inside it."""
    tops = [p for p in extracted.iterdir() if p.is_dir()]
    if len(tops) != 1 or any(p.is_file() for p in extracted.iterdir()):
        raise ArchiveError("archive does not have the single top folder of a GitHub archive")
    project = (tops[0] / folder).resolve() if folder else tops[0].resolve()
    if not project.is_relative_to(tops[0].resolve()):
        raise ArchiveError(f"folder {folder!r} is outside the repository")
    return project

"""Settings of the MYST build job and its intake route, from config/myst.toml (or $CORRAL_MYST_CONFIG).

The shared secret is never read from a file: INTERNAL_SERVICE_SECRET in the environment, as the original
service and desci-server use it.
"""

from __future__ import annotations

import os
import tomllib
from functools import lru_cache
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, ValidationError

ROOT = Path(__file__).resolve().parent.parent.parent
DEFAULT_FILE = ROOT / "config" / "myst.toml"
SECRET_ENV = "INTERNAL_SERVICE_SECRET"


class MystSettings(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    queue: str = "myst-build"
    github_base_url: str = "https://github.com"
    desci_server_url: str = "http://host.docker.internal:5420"  # or $DESCI_SERVER_URL
    # "" (default): the repository's pixi task `pixi_task` when it has one and pixi is installed, else mystmd
    # directly (see docs/myst.md). Anything else: the operator's own command, run by /bin/sh in the project folder.
    build_command: str = ""
    pixi_task: str = Field("build-meca", pattern=r"^[A-Za-z0-9_.:-]{1,100}$")
    myst_command: str = ""  # "" = the `myst` installed beside corral's Python (PyPI mystmd), else `myst` on PATH
    myst_api_url: str = ""  # mystmd's template server (its API_URL); "" = mystmd's default, api.mystmd.org
    cache_dir: str = "data/myst-cache"  # templates and typst packages shared by all builds
    max_cache_mb: float = Field(2000.0, gt=0)
    build_timeout: float = Field(900.0, gt=0)
    download_timeout: float = Field(300.0, gt=0)
    # A paper is submitted from its fork of a whole proceedings repository, whose archive is large (the SciPy
    # 2024 proceedings: 299 MB zipped, 353 MB unpacked): the limits leave room for that (docs/myst.md).
    max_download_mb: float = Field(1000.0, gt=0)
    max_extract_mb: float = Field(2000.0, gt=0)
    max_entries: int = Field(20_000, ge=1)
    max_upload_mb: float = Field(500.0, gt=0)
    work_dir: str = "data/myst-work"
    status_attempts: int = Field(4, ge=1)  # tries of each status update, with backoff, on transient errors
    http_timeout: float = Field(60.0, gt=0)  # each call to desci-server
    # The intake route's BullMQ job options and request limit.
    attempts: int = Field(3, ge=1)
    backoff_ms: int = Field(10_000, ge=0)
    keep_jobs_seconds: int = Field(7 * 24 * 3600, ge=0)  # completed/failed jobs kept: a resubmission is not rebuilt
    max_body_kb: int = Field(1024, ge=1)

    def path(self, value: str) -> Path:
        p = Path(value)
        return p if p.is_absolute() else ROOT / p


class MystConfigError(Exception):
    pass


@lru_cache(maxsize=1)
def load_settings() -> MystSettings:
    path = Path(os.environ.get("CORRAL_MYST_CONFIG") or DEFAULT_FILE)
    try:
        raw = tomllib.loads(path.read_text()) if path.exists() else {}
    except tomllib.TOMLDecodeError as e:
        raise MystConfigError(f"{path}: not valid TOML: {e}") from None
    for env, key in (("DESCI_SERVER_URL", "desci_server_url"), ("GITHUB_BASE_URL", "github_base_url"),
                     ("CORRAL_MYST_BUILD_COMMAND", "build_command"), ("CORRAL_MYST_API_URL", "myst_api_url")):
        if os.environ.get(env):
            raw[key] = os.environ[env]
    try:
        return MystSettings.model_validate(raw)
    except ValidationError as e:
        first = e.errors()[0]
        raise MystConfigError(f"{path}: {'.'.join(map(str, first['loc']))}: {first['msg']}") from None


def secret() -> str:
    return os.environ.get(SECRET_ENV, "")

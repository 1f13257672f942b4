"""Settings of the MYST build job and its intake route: the `[myst]` table of corral.toml (or its own file
`myst.toml` beside it, or `$CORRAL_MYST_CONFIG`), `CORRAL_MYST_*` variables, `DESCI_SERVER_URL` and
`GITHUB_BASE_URL`, through workers.settings.

The shared secret is never read from a file: INTERNAL_SERVICE_SECRET in the environment, as the original
service and desci-server use it.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import ClassVar

from pydantic import Field
from pydantic_settings import SettingsConfigDict

from workers import runtime
from workers.settings import Section

SECRET_ENV = "INTERNAL_SERVICE_SECRET"


class MystSettings(Section):
    model_config = SettingsConfigDict(env_prefix="CORRAL_MYST_")
    section: ClassVar[str] = "myst"
    legacy_env: ClassVar[dict[str, str]] = {"DESCI_SERVER_URL": "desci_server_url",
                                            "GITHUB_BASE_URL": "github_base_url"}

    queue: str = "myst-build"
    github_base_url: str = "https://github.com"
    desci_server_url: str = "http://host.docker.internal:5420"  # or $DESCI_SERVER_URL
    # "" (default): the repository's pixi task `pixi_task` when it has one and pixi is installed, else mystmd
    # directly (see docs/myst.md). Anything else: the operator's own command, run by /bin/sh in the project folder.
    build_command: str = ""
    pixi_task: str = Field("build-meca", pattern=r"^[A-Za-z0-9_.:-]{1,100}$")
    myst_command: str = ""  # "" = the `myst` installed beside corral's Python (PyPI mystmd), else `myst` on PATH
    myst_api_url: str = ""  # mystmd's template server (its API_URL); "" = mystmd's default, api.mystmd.org
    cache_dir: str = "myst-cache"  # relative to the data folder  # templates and typst packages shared by all builds
    max_cache_mb: float = Field(2000.0, gt=0)
    build_timeout: float = Field(900.0, gt=0)
    download_timeout: float = Field(300.0, gt=0)
    # A paper is submitted from its fork of a whole proceedings repository, whose archive is large (the SciPy
    # 2024 proceedings: 299 MB zipped, 353 MB unpacked): the limits leave room for that (docs/myst.md).
    max_download_mb: float = Field(1000.0, gt=0)
    max_extract_mb: float = Field(2000.0, gt=0)
    max_entries: int = Field(20_000, ge=1)
    max_upload_mb: float = Field(500.0, gt=0)
    work_dir: str = "myst-work"  # relative to the data folder
    status_attempts: int = Field(4, ge=1)  # tries of each status update, with backoff, on transient errors
    http_timeout: float = Field(60.0, gt=0)  # each call to desci-server
    # The intake route's BullMQ job options and request limit.
    attempts: int = Field(3, ge=1)
    backoff_ms: int = Field(10_000, ge=0)
    keep_jobs_seconds: int = Field(7 * 24 * 3600, ge=0)  # completed/failed jobs kept: a resubmission is not rebuilt
    max_body_kb: int = Field(1024, ge=1)

    def path(self, value: str) -> Path:
        """A folder of this job type's (work_dir, cache_dir), under the data folder."""
        return runtime.place().data(value)


def load_settings() -> MystSettings:
    return runtime.jobtype_settings("myst", MystSettings)


def secret() -> str:
    return os.environ.get(SECRET_ENV, "")

"""Settings of the email job type: the `[email]` table of corral.toml (or its own file `email.toml` beside it, or
`$CORRAL_EMAIL_CONFIG`), and `CORRAL_EMAIL_*` variables (`OLLAMA_HOST` too), through workers.settings."""

from __future__ import annotations

from importlib import resources
from pathlib import Path
from typing import ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Field
from pydantic_settings import SettingsConfigDict

from workers import runtime
from workers.settings import Section


class OllamaSettings(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    enabled: bool = True
    host: str = "http://127.0.0.1:11434"
    phase2_model: str = "llama3.2:3b"
    phase3_model: str = "phi4:14b"
    phase2_temperature: float = Field(0.1, ge=0, le=2)
    phase3_temperature: float = Field(0.3, ge=0, le=2)
    per_worker_concurrency: int = Field(3, ge=1)
    pool_concurrency: int = Field(4, ge=1)
    request_timeout: float = Field(120.0, gt=0)
    # Ollama's default is unbounded: a model that loops would run until request_timeout. The output schemas are
    # bounded, so a complete answer fits well inside this; a cut-off one is invalid JSON and counts as a bad answer.
    num_predict: int = Field(1536, ge=64)
    phase3_for_critical: bool = True


class EmailSettings(Section):
    model_config = SettingsConfigDict(env_prefix="CORRAL_EMAIL_")
    section: ClassVar[str] = "email"
    legacy_env: ClassVar[dict[str, str]] = {"OLLAMA_HOST": "ollama__host"}  # the variable ollama's client reads

    database: str = "email_analysis.sqlite"  # relative to the data folder
    # The catalogues: "" is the one shipped in workers/email/catalogues/; a path (relative to the configuration's
    # folder) replaces it with your own (start from a copy of the shipped one).
    senders: str = ""  # sender domain lists: key customers, partners, internal
    locales: str = ""  # sender locales: dates, decimal commas, currencies, phone countries
    parts: str = ""    # the part-number catalogue: vendor formats, cue words, other ids
    default_timeout_ms: int = Field(180_000, gt=0)  # a job's options.timeout overrides it
    ollama: OllamaSettings = OllamaSettings()

    @property
    def database_path(self) -> Path:
        return runtime.place().data(self.database)

    def catalogue(self, name: Literal["senders", "locales", "parts"]) -> str:
        """A catalogue's file: the user's (from the configuration's folder), else the shipped one."""
        value: str = getattr(self, name)
        if value:
            return str(runtime.place().config(value))
        return str(resources.files("workers.email").joinpath(f"catalogues/{name}.toml"))


def load_settings() -> EmailSettings:
    return runtime.jobtype_settings("email", EmailSettings)

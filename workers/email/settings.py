"""Settings of the email processor, from config/email.toml (or $CORRAL_EMAIL_CONFIG)."""

from __future__ import annotations

import os
import tomllib
from functools import lru_cache
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field

ROOT = Path(__file__).resolve().parent.parent.parent
DEFAULT_FILE = ROOT / "config" / "email.toml"


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


class EmailSettings(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    database: str = "data/email_analysis.sqlite"
    senders: str = "config/email_senders.toml"
    locales: str = "config/email_locales.toml"  # sender locales: dates, decimal commas, currencies, phone countries
    parts: str = "config/email_parts.toml"      # the part-number catalogue
    default_timeout_ms: int = Field(180_000, gt=0)  # a job's options.timeout overrides it
    ollama: OllamaSettings = OllamaSettings()

    def path(self, value: str) -> Path:
        p = Path(value)
        return p if p.is_absolute() else ROOT / p


@lru_cache(maxsize=1)
def load_settings() -> EmailSettings:
    path = Path(os.environ.get("CORRAL_EMAIL_CONFIG") or DEFAULT_FILE)
    raw = tomllib.loads(path.read_text()) if path.exists() else {}
    if os.environ.get("CORRAL_EMAIL_DATABASE"):
        raw["database"] = os.environ["CORRAL_EMAIL_DATABASE"]
    if os.environ.get("OLLAMA_HOST"):  # the variable the ollama client itself reads
        raw.setdefault("ollama", {})["host"] = os.environ["OLLAMA_HOST"]
    return EmailSettings.model_validate(raw)

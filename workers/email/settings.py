"""Settings of the email processor, from config/email.toml (or $CORRAL_EMAIL_CONFIG)."""

from __future__ import annotations

import os
import tomllib
from functools import lru_cache
from pathlib import Path

from pydantic import BaseModel, ConfigDict

ROOT = Path(__file__).resolve().parent.parent.parent
DEFAULT_FILE = ROOT / "config" / "email.toml"


class EmailSettings(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    database: str = "data/email_analysis.sqlite"
    senders: str = "config/email_senders.toml"

    def path(self, value: str) -> Path:
        p = Path(value)
        return p if p.is_absolute() else ROOT / p


@lru_cache(maxsize=1)
def load_settings() -> EmailSettings:
    path = Path(os.environ.get("CORRAL_EMAIL_CONFIG") or DEFAULT_FILE)
    raw = tomllib.loads(path.read_text()) if path.exists() else {}
    overrides = {"database": os.environ.get("CORRAL_EMAIL_DATABASE")}
    return EmailSettings.model_validate({**raw, **{k: v for k, v in overrides.items() if v}})

"""One settings system for the daemon and every job type: pydantic-settings, a model per section.

Each section of `corral.toml` (`[redis]`, `[pool]`, `[http]`, a job type's `[email]`...) is a `Section`: its values
come from, lowest to highest, the model's defaults < the TOML table < its environment variables (`CORRAL_<KEY>`,
with the section's prefix) < command-line flags. A job type's table may also be its own file (`email.toml` beside
the main file, or `$CORRAL_EMAIL_CONFIG`), loaded the same way. An unknown key, a bad value or an unknown
`CORRAL_*` variable is one line naming it (`SettingsError`).

pydantic-settings reads the environment and validates; what it has no source for (one table of an already-read
file, an environment given as a mapping by tests) comes from the two small sources below.
"""

from __future__ import annotations

import difflib
import os
import tomllib
from collections.abc import Iterable, Mapping
from contextvars import ContextVar
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar, TypeVar

from pydantic import BaseModel, ValidationError
from pydantic.fields import FieldInfo
from pydantic_settings import BaseSettings, EnvSettingsSource, PydanticBaseSettingsSource, SettingsConfigDict

from workers.validation import problems

S = TypeVar("S", bound="Section")

# Variables that start with CORRAL_ and belong to no section: the config file's path, the log format, Phase 1 run
# from its sources (workers/email/native.py).
OTHER_VARIABLES = {"CORRAL_CONFIG", "CORRAL_LOG_FORMAT", "CORRAL_PURE_PYTHON"}


class SettingsError(Exception):
    """One line that names the problem."""


@dataclass(frozen=True)
class Place:
    """Where relative paths point: data (databases, work folders, the embedded Redis) under `data_dir`, user files
    (catalogues, tokens) from the folder of the configuration file."""

    data_dir: Path = field(default_factory=lambda: Path("data"))
    config_dir: Path = field(default_factory=Path)

    def data(self, value: str) -> Path:
        p = Path(value).expanduser()
        return p if p.is_absolute() else self.data_dir / p

    def config(self, value: str) -> Path:
        p = Path(value).expanduser()
        return p if p.is_absolute() else self.config_dir / p


@dataclass(frozen=True)
class _Loading:
    table: dict[str, Any]
    env: Mapping[str, str]


_LOADING: ContextVar[_Loading | None] = ContextVar("corral_settings_loading", default=None)


class _Env(EnvSettingsSource):
    """The environment being loaded (os.environ, or a mapping from a test), with a section's other names."""

    def _load_env_vars(self) -> Mapping[str, str | None]:
        loading = _LOADING.get()
        env = dict(os.environ if loading is None else loading.env)
        cls: Any = self.settings_cls
        prefix = cls.model_config.get("env_prefix", "")
        for other, key in cls.legacy_env.items():
            if env.get(other) and not env.get(f"{prefix}{key}".upper()):
                env[f"{prefix}{key}".upper()] = env[other]
        # Case-insensitive names, empty values ignored: what pydantic-settings itself does with os.environ.
        return {k.lower(): v for k, v in env.items() if v != ""}


class _Table(PydanticBaseSettingsSource):
    """The section's table of the TOML file."""

    def get_field_value(self, field: FieldInfo, field_name: str) -> tuple[Any, str, bool]:
        return None, field_name, False

    def __call__(self) -> dict[str, Any]:
        loading = _LOADING.get()
        return dict(loading.table) if loading is not None else {}


class Section(BaseSettings):
    """A table of the configuration: defaults < TOML < environment (`env_prefix` + key) < flags."""

    model_config = SettingsConfigDict(extra="forbid", frozen=True, env_nested_delimiter="__", case_sensitive=False)
    section: ClassVar[str] = ""  # the TOML table's name ("" = the file's top level)
    legacy_env: ClassVar[dict[str, str]] = {}  # other variable names that set a key, e.g. {"REDIS_URL": "url"}

    @classmethod
    def settings_customise_sources(cls, settings_cls: type[BaseSettings], init_settings: PydanticBaseSettingsSource,
                                   env_settings: PydanticBaseSettingsSource,
                                   dotenv_settings: PydanticBaseSettingsSource,
                                   file_secret_settings: PydanticBaseSettingsSource,
                                   ) -> tuple[PydanticBaseSettingsSource, ...]:
        return init_settings, _Env(settings_cls), _Table(settings_cls)

    @classmethod
    def env_names(cls) -> set[str]:
        """Every variable this section reads."""
        prefix = str(cls.model_config.get("env_prefix", "")).upper()
        names = set(cls.legacy_env)
        for name, info in cls.model_fields.items():
            names |= _nested_names(f"{prefix}{name.upper()}", info.annotation)
        return names


def _nested_names(name: str, annotation: Any) -> set[str]:
    names = {name}
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        for sub, info in annotation.model_fields.items():
            names |= _nested_names(f"{name}__{sub.upper()}", info.annotation)
    return names


def load_section(cls: type[S], table: Mapping[str, Any], *, env: Mapping[str, str] | None = None,
                 flags: Mapping[str, Any] | None = None, source: str = "") -> S:
    """Validate one section from its TOML table, the environment and flags; SettingsError names what is wrong."""
    token = _LOADING.set(_Loading(dict(table), os.environ if env is None else env))
    try:
        return cls(**dict(flags or {}))
    except ValidationError as e:
        raise SettingsError(describe(e, source or "configuration", cls.section)) from None
    finally:
        _LOADING.reset(token)


def describe(err: ValidationError, source: str, section: str = "") -> str:
    """A ValidationError as one line: `source: section.key: what is wrong; ...` (workers.validation's problems)."""
    return f"{source}: " + "; ".join(f"{p.where}: {p.what}" if p.where else p.what
                                     for p in problems(err, within=section))


def check_environment(env: Mapping[str, str], known: Iterable[str]) -> None:
    """An unknown CORRAL_* variable is a typo that would be silently ignored: refuse it, naming it."""
    known = set(known) | OTHER_VARIABLES
    for name in sorted(env):
        if name.upper().startswith("CORRAL_") and name.upper() not in known:
            close = difflib.get_close_matches(name.upper(), known, n=1)
            hint = f" (did you mean {close[0]}?)" if close else ""
            raise SettingsError(f"unknown environment variable {name}{hint}")


def read_toml(path: Path) -> dict[str, Any]:
    try:
        return tomllib.loads(path.read_text())
    except FileNotFoundError:
        raise SettingsError(f"config file {path} does not exist") from None
    except OSError as e:
        raise SettingsError(f"config file {path}: {e.strerror}") from None
    except tomllib.TOMLDecodeError as e:
        raise SettingsError(f"{path}: not valid TOML: {e}") from None

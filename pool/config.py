"""Configuration: defaults < `corral.toml` < environment < command-line flags.

Validated with pydantic at start; every problem becomes one line naming the key, and the daemon
exits non-zero before it touches Redis or starts a worker.
"""

from __future__ import annotations

import ipaddress
import os
import re
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, PrivateAttr, ValidationError, field_validator, model_validator

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_CONFIG = ROOT / "config" / "corral.toml"
DATA_DIR = ROOT / "data"


class ConfigError(Exception):
    """One line that names the problem."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class RedisConfig(_Strict):
    url: str = Field("", description="redis://... ; empty starts an embedded redis-server")
    prefix: str = "bull"
    embedded_port: int = Field(6380, ge=1, le=65535)
    embedded_dir: str = str(DATA_DIR / "redis")


class PoolConfig(_Strict):
    min_workers: int = Field(2, ge=0)
    max_workers: int = Field(10, ge=1)
    autoscale: bool = True
    max_memory_mb: int = Field(512, ge=16)
    hard_memory_mb: int | None = Field(None, ge=16, description="kill at once above this; default 1.5 x max")
    heartbeat_interval: float = Field(1.0, gt=0)
    heartbeat_timeout: float = Field(30.0, gt=0)
    start_timeout: float = Field(30.0, gt=0)
    drain_timeout: float = Field(60.0, gt=0)
    shutdown_timeout: float = Field(30.0, ge=0)
    max_jobs_per_worker: int = Field(1000, ge=0, description="0 = never recycle")
    max_jobs_jitter: float = Field(0.1, ge=0, le=1)
    max_kills: int = Field(3, ge=1)
    scale_down_delay: float = Field(30.0, ge=0)
    poll_interval: float = Field(1.0, gt=0)
    metrics_interval: float = Field(5.0, gt=0)
    lock_duration_ms: int = Field(30_000, ge=1000)
    stalled_interval_ms: int = Field(30_000, ge=1000)
    max_stalled_count: int = Field(1, ge=0)

    @model_validator(mode="after")
    def _check(self) -> PoolConfig:
        if self.min_workers > self.max_workers:
            raise ValueError(f"min_workers ({self.min_workers}) is greater than max_workers ({self.max_workers})")
        if self.hard_memory_mb is not None and self.hard_memory_mb < self.max_memory_mb:
            raise ValueError(f"hard_memory_mb ({self.hard_memory_mb}) is below max_memory_mb ({self.max_memory_mb})")
        if self.heartbeat_timeout <= self.heartbeat_interval:
            raise ValueError("heartbeat_timeout must be longer than heartbeat_interval")
        return self

    @property
    def hard_memory_bytes(self) -> int:
        mb = self.hard_memory_mb if self.hard_memory_mb is not None else int(self.max_memory_mb * 1.5)
        return mb * 1024 * 1024


_QUEUE_NAME = re.compile(r"^[^:\s]+$")
_PROCESSOR = re.compile(r"^[A-Za-z_][\w.]*:[A-Za-z_][\w.]*$")


class LimiterConfig(_Strict):
    """A worker's own rate limit on its queue (Node's Worker `limiter`): at most `max` jobs per `duration` ms,
    counted across every worker of the queue that uses the same limiter."""

    max: int = Field(ge=1)
    duration: int = Field(ge=1, description="milliseconds")


class QueueConfig(_Strict):
    name: str
    processor: str
    concurrency: int = Field(1, ge=1, le=1000)
    metrics_max_data_points: int = Field(10080, ge=0)
    limiter: LimiterConfig | None = None
    max_started_attempts: int | None = Field(None, ge=1, description="fail a job started more often than this")

    @field_validator("name")
    @classmethod
    def _name(cls, v: str) -> str:
        if not _QUEUE_NAME.match(v):
            raise ValueError(f"queue name {v!r} must be non-empty, without ':' or spaces (BullMQ's rule)")
        return v

    @field_validator("processor")
    @classmethod
    def _processor(cls, v: str) -> str:
        if not _PROCESSOR.match(v):
            raise ValueError(f"processor {v!r} must look like 'package.module:function'")
        return v


MIN_TOKEN_LENGTH = 16


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False  # a host name: it may well resolve to a public address


class HttpConfig(_Strict):
    enabled: bool = True
    host: str = Field("127.0.0.1", description="0.0.0.0 to accept other hosts (desci-server, Prometheus)")
    port: int = Field(5454, ge=0, le=65535, description="0: any free port (tests)")
    token: str = Field("", description="access token of the dashboard, API, docs, /metrics and /readyz; "
                                       "required when host is not a loopback address")
    token_file: str = Field("", description="a file holding the token, instead of `token`")
    open_monitoring: bool = Field(False, description="/metrics and /readyz answer without the token")
    max_connections: int = Field(100, ge=1, description="open connections at most; more are refused")
    header_timeout: float = Field(10.0, gt=0, description="seconds for a request's headers to arrive")
    body_timeout: float = Field(30.0, gt=0, description="seconds for a request's body to arrive")
    _token: str = PrivateAttr("")

    @model_validator(mode="after")
    def _access(self) -> HttpConfig:
        if self.token and self.token_file:
            raise ValueError("set one of token and token_file, not both")
        token = self.token.strip()
        if self.token_file:
            try:
                token = Path(self.token_file).read_text().strip()
            except OSError as e:
                raise ValueError(f"token_file {self.token_file}: {e.strerror}") from None
        if token and len(token) < MIN_TOKEN_LENGTH:
            raise ValueError(f"the access token must have at least {MIN_TOKEN_LENGTH} characters "
                             "(python3 -c 'import secrets; print(secrets.token_urlsafe(32))' makes one)")
        if self.enabled and not token and not is_loopback(self.host):
            raise ValueError(f"host {self.host} is not a loopback address: set http.token (or CORRAL_HTTP_TOKEN, or "
                             "http.token_file) so the dashboard and API do not answer anyone")
        self._token = token
        return self

    @property
    def access_token(self) -> str:
        """The token from `token` or `token_file`; empty: no token (loopback only)."""
        return self._token


class CorralConfig(_Strict):
    redis: RedisConfig = RedisConfig()
    pool: PoolConfig = PoolConfig()
    http: HttpConfig = HttpConfig()
    queues: list[QueueConfig] = Field(default_factory=list)
    log_level: str = "INFO"

    @field_validator("log_level")
    @classmethod
    def _level(cls, v: str) -> str:
        if v.upper() not in {"DEBUG", "INFO", "WARNING", "ERROR"}:
            raise ValueError(f"log_level {v!r} is not one of DEBUG, INFO, WARNING, ERROR")
        return v.upper()

    @model_validator(mode="after")
    def _queues(self) -> CorralConfig:
        if not self.queues:
            raise ValueError("no queues configured: add [[queues]] to the file or pass --queue NAME=module:function")
        names = [q.name for q in self.queues]
        dupes = sorted({n for n in names if names.count(n) > 1})
        if dupes:
            raise ValueError(f"queue {dupes[0]!r} is configured twice")
        return self


# Environment variables and the key each sets; REDIS_URL is the conventional name.
ENV_KEYS: dict[str, tuple[str, str]] = {
    "REDIS_URL": ("redis", "url"),
    "CORRAL_REDIS_URL": ("redis", "url"),
    "CORRAL_REDIS_PREFIX": ("redis", "prefix"),
    "CORRAL_LOG_LEVEL": ("", "log_level"),
    "CORRAL_HTTP_HOST": ("http", "host"),
    "CORRAL_HTTP_PORT": ("http", "port"),
    "CORRAL_HTTP_TOKEN": ("http", "token"),
    "CORRAL_HTTP_TOKEN_FILE": ("http", "token_file"),
    "CORRAL_HTTP_OPEN_MONITORING": ("http", "open_monitoring"),
    **{f"CORRAL_{name.upper()}": ("pool", name) for name in PoolConfig.model_fields},
}


def _format_error(err: ValidationError, source: str) -> str:
    parts = []
    for e in err.errors():
        loc = ".".join(str(p) for p in e["loc"])
        msg = e["msg"].removeprefix("Value error, ")
        if e["type"] == "extra_forbidden":
            msg = "unknown key"
        parts.append(f"{loc}: {msg}" if loc else msg)
    return f"{source}: " + "; ".join(parts)


def _merge(base: dict[str, Any], over: Mapping[str, Any]) -> dict[str, Any]:
    out = dict(base)
    for k, v in over.items():
        if isinstance(v, Mapping) and isinstance(out.get(k), dict):
            out[k] = _merge(out[k], v)
        else:
            out[k] = v
    return out


def parse_queue_flag(flag: str) -> dict[str, Any]:
    """`NAME=module:function[@CONCURRENCY]` -> a [[queues]] entry."""
    name, sep, target = flag.partition("=")
    if not sep or not name or not target:
        raise ConfigError(f"--queue {flag!r}: expected NAME=module:function[@CONCURRENCY]")
    entry: dict[str, Any] = {"name": name}
    processor, at, conc = target.partition("@")
    entry["processor"] = processor
    if at:
        if not conc.isdigit():
            raise ConfigError(f"--queue {flag!r}: concurrency after '@' must be a whole number")
        entry["concurrency"] = int(conc)
    return entry


def load_config(
    path: str | Path | None = None,
    *,
    env: Mapping[str, str] | None = None,
    overrides: Mapping[str, Any] | None = None,
) -> CorralConfig:
    """Build the configuration. `overrides` are the CLI's, shaped like the file."""
    env = os.environ if env is None else env
    file_path = Path(path) if path else Path(env.get("CORRAL_CONFIG") or DEFAULT_CONFIG)
    data: dict[str, Any] = {}
    if path or env.get("CORRAL_CONFIG") or file_path.exists():
        try:
            data = tomllib.loads(file_path.read_text())
        except FileNotFoundError:
            raise ConfigError(f"config file {file_path} does not exist") from None
        except tomllib.TOMLDecodeError as e:
            raise ConfigError(f"{file_path}: not valid TOML: {e}") from None
    source = str(file_path)

    env_layer: dict[str, Any] = {}
    for var, (section, key) in ENV_KEYS.items():
        if var in env and env[var] != "":
            target = env_layer.setdefault(section, {}) if section else env_layer
            target[key] = env[var]
    if env_layer:
        data = _merge(data, env_layer)
        source += " + environment"
    if overrides:
        data = _merge(data, overrides)
        source += " + flags"
    try:
        return CorralConfig.model_validate(data)
    except ValidationError as e:
        raise ConfigError(_format_error(e, source)) from None

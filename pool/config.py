"""Configuration: defaults < `corral.toml` < environment < command-line flags, through workers.settings.

The file is `--config FILE`, else `$CORRAL_CONFIG`, else `corral.toml` or `config/corral.toml` in the working folder,
else none: the built-in defaults (documented in the sample config/corral.toml) serve. Each table is a Section
(pydantic-settings); job types add theirs. Validated at start; every problem becomes one line naming the key or
variable, and the daemon exits 2 before it touches Redis or starts a worker.
"""

from __future__ import annotations

import ipaddress
import os
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any, ClassVar

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    InstanceOf,
    PrivateAttr,
    ValidationError,
    field_validator,
    model_validator,
)
from pydantic_settings import SettingsConfigDict

from pool import plugins
from workers.jobtype import JobType
from workers.settings import Place, Section, SettingsError, check_environment, describe, load_section, read_toml
from workers.tracing import TracingSettings

ConfigError = SettingsError  # one line that names the problem
CONFIG_NAMES = ("corral.toml", "config/corral.toml")  # looked for in the working folder, in this order


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class GeneralConfig(Section):
    model_config = SettingsConfigDict(env_prefix="CORRAL_")
    section: ClassVar[str] = ""

    log_level: str = "INFO"
    jobtypes: list[str] = Field(default_factory=lambda: ["email", "myst"],
                                description="job types served: entry points of group corral.jobtypes, or module:attr")
    data_dir: str = Field("data", description="databases, work folders, the embedded Redis; relative to the "
                                              "working folder")

    @field_validator("log_level")
    @classmethod
    def _level(cls, v: str) -> str:
        if v.upper() not in {"DEBUG", "INFO", "WARNING", "ERROR"}:
            raise ValueError(f"log_level {v!r} is not one of DEBUG, INFO, WARNING, ERROR")
        return v.upper()


class RedisConfig(Section):
    model_config = SettingsConfigDict(env_prefix="CORRAL_REDIS_")
    section: ClassVar[str] = "redis"
    legacy_env: ClassVar[dict[str, str]] = {"REDIS_URL": "url"}

    url: str = Field("", description="redis://... ; empty starts an embedded redis-server")
    prefix: str = "bull"
    embedded_port: int = Field(6380, ge=1, le=65535)
    embedded_dir: str = Field("", description="the embedded server's files; default <data_dir>/redis")


class PoolConfig(Section):
    model_config = SettingsConfigDict(env_prefix="CORRAL_")
    section: ClassVar[str] = "pool"

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
    # Recycling: off by default. The memory limit already replaces a worker whose RSS grows past max_memory_mb (a
    # leak), and a job count suits no throughput: 1000 jobs is 40 ms of a busy worker. Either limit replaces a worker
    # with an overlap (the new one ready before the old one drains), so recycling costs no capacity.
    max_jobs_per_worker: int = Field(0, ge=0, description="recycle a worker after this many jobs; 0 = never")
    max_worker_age: float = Field(0, ge=0, description="recycle a worker after this many seconds; 0 = never")
    recycle_jitter: float = Field(0.1, ge=0, le=1, description="up to this fraction more, so workers do not "
                                                                "recycle together")
    max_kills: int = Field(3, ge=1)
    scale_down_delay: float = Field(30.0, ge=0)
    poll_interval: float = Field(1.0, gt=0)
    metrics_interval: float = Field(5.0, gt=0)
    check_interval: float = Field(15.0, gt=0, description="seconds between runs of the job types' dependency checks")
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
    # A queue with its own worker counts is served by workers of its own (e.g. builds that need 2 GB each), with
    # its own memory limit; the others share the pool's workers and limits.
    min_workers: int | None = Field(None, ge=0)
    max_workers: int | None = Field(None, ge=1)
    max_memory_mb: int | None = Field(None, ge=16)

    @model_validator(mode="after")
    def _own_workers(self) -> QueueConfig:
        if (self.min_workers is None) != (self.max_workers is None):
            raise ValueError(f"queue {self.name!r}: set both min_workers and max_workers, or neither")
        if self.min_workers is not None and self.max_workers is not None and self.min_workers > self.max_workers:
            raise ValueError(f"queue {self.name!r}: min_workers ({self.min_workers}) is greater than max_workers "
                             f"({self.max_workers})")
        if self.max_memory_mb is not None and self.min_workers is None:
            raise ValueError(f"queue {self.name!r}: max_memory_mb needs workers of its own (min_workers and "
                             "max_workers): the pool's shared workers keep [pool] max_memory_mb")
        return self

    @property
    def own_workers(self) -> bool:
        return self.min_workers is not None

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


class HttpConfig(Section):
    model_config = SettingsConfigDict(env_prefix="CORRAL_HTTP_")
    section: ClassVar[str] = "http"

    enabled: bool = True
    host: str = Field("127.0.0.1", description="0.0.0.0 to accept other hosts (desci-server, Prometheus)")
    port: int = Field(5454, ge=0, le=65535, description="0: any free port (tests)")
    token: str = Field("", description="access token of the dashboard, API, docs, /metrics and /readyz; "
                                       "required when host is not a loopback address")
    token_file: str = Field("", description="a file holding the token, instead of `token`")
    open_monitoring: bool = Field(False, description="/metrics and /readyz answer without the token")
    readiness_needs_dependencies: bool = Field(False, description="/readyz fails while a job type's dependency "
                                                                  "check (Ollama, desci-server) fails")
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


def _defaults(cls: type[Section]) -> Any:
    return Field(default_factory=lambda: cls.model_validate({}))  # the model's defaults, no environment read


class CorralConfig(_Strict):
    """The whole configuration, validated: what load_config returns and what tests build directly."""

    model_config = ConfigDict(extra="forbid", frozen=True, arbitrary_types_allowed=True)

    redis: RedisConfig = _defaults(RedisConfig)
    pool: PoolConfig = _defaults(PoolConfig)
    http: HttpConfig = _defaults(HttpConfig)
    tracing: TracingSettings = _defaults(TracingSettings)
    queues: list[QueueConfig] = Field(default_factory=list)
    log_level: str = "INFO"
    data_dir: str = "data"
    jobtypes: dict[str, InstanceOf[JobType]] = Field(default_factory=dict)  # enabled job types by name
    jobtype_settings: dict[str, Section] = Field(default_factory=dict)  # their validated tables
    source: str = ""  # the configuration file, "" for the built-in defaults

    @field_validator("log_level")
    @classmethod
    def _level(cls, v: str) -> str:
        return GeneralConfig._level(v)

    @model_validator(mode="after")
    def _queues(self) -> CorralConfig:
        if not self.queues:
            raise ValueError("no queues configured: add [[queues]] to the file, enable a job type or pass "
                             "--queue NAME=module:function")
        names = [q.name for q in self.queues]
        dupes = sorted({n for n in names if names.count(n) > 1})
        if dupes:
            raise ValueError(f"queue {dupes[0]!r} is configured twice")
        return self

    def served_jobtypes(self) -> dict[str, JobType]:
        """The enabled job types with at least one queue served here (by its queue name or its processor): a
        daemon started with `--queue` for other work does not check Ollama or desci-server."""
        served = {(q.name, q.processor) for q in self.queues}
        return {name: jt for name, jt in self.jobtypes.items()
                if any(d.name == n or d.processor == p for d in jt.queues for n, p in served)}

    @property
    def place(self) -> Place:
        config_dir = Path(self.source).parent if self.source else Path.cwd()
        return Place(data_dir=Path(self.data_dir).expanduser(), config_dir=config_dir)

    @property
    def embedded_dir(self) -> Path:
        return self.place.data(self.redis.embedded_dir or "redis")


SECTIONS: tuple[type[Section], ...] = (GeneralConfig, RedisConfig, PoolConfig, HttpConfig, TracingSettings)
TABLES = {"redis", "pool", "http", "tracing", "queues"}


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


def find_config(path: str | Path | None, env: Mapping[str, str]) -> Path | None:
    if path:
        return Path(path)
    if env.get("CORRAL_CONFIG"):
        return Path(env["CORRAL_CONFIG"])
    return next((Path(n) for n in CONFIG_NAMES if Path(n).is_file()), None)


def load_config(
    path: str | Path | None = None,
    *,
    env: Mapping[str, str] | None = None,
    overrides: Mapping[str, Any] | None = None,
) -> CorralConfig:
    """Build the configuration. `overrides` are the CLI's, shaped like the file."""
    env = os.environ if env is None else env
    over = dict(overrides or {})
    file = find_config(path, env)
    data = read_toml(file) if file else {}
    source = str(file) if file else "built-in defaults"
    top = {k: v for k, v in data.items() if not isinstance(v, dict | list) or k == "jobtypes"}
    tables = {k: v for k, v in data.items() if k not in top}

    general = load_section(GeneralConfig, top, env=env, source=source,
                           flags={k: over[k] for k in ("log_level", "data_dir", "jobtypes") if k in over})
    installed = plugins.all_installed()
    jobtypes = plugins.load_all(general.jobtypes)
    known = {**installed, **jobtypes}
    for name in tables:
        if name not in TABLES and name not in known:
            raise ConfigError(f"{source}: [{name}]: unknown table (job types: {', '.join(sorted(known)) or 'none'})")
    check_environment(env, _variables(known.values()))

    redis = load_section(RedisConfig, tables.get("redis", {}), env=env, flags=over.get("redis"), source=source)
    pool = load_section(PoolConfig, tables.get("pool", {}), env=env, flags=over.get("pool"), source=source)
    http = load_section(HttpConfig, tables.get("http", {}), env=env, flags=over.get("http"), source=source)
    tracing = load_section(TracingSettings, tables.get("tracing", {}), env=env, source=source)
    settings = {name: _jobtype_settings(jt, tables, file, env, source) for name, jt in jobtypes.items()
                if jt.settings is not None}
    try:
        return CorralConfig.model_validate({
            "redis": redis, "pool": pool, "http": http, "tracing": tracing, "log_level": general.log_level,
            "data_dir": general.data_dir,
            "queues": over.get("queues") or _queues(tables.get("queues", []), jobtypes.values()),
            "jobtypes": jobtypes, "jobtype_settings": settings, "source": str(file or ""),
        })
    except ValidationError as e:
        raise ConfigError(describe(e, source)) from None


def _variables(jobtypes: Any) -> set[str]:
    names: set[str] = set()
    for cls in SECTIONS:
        names |= cls.env_names()
    for jt in jobtypes:
        names.add(f"CORRAL_{jt.name.upper()}_CONFIG")
        if jt.settings is not None:
            names |= jt.settings.env_names()
    return names


def _jobtype_settings(jt: JobType, tables: dict[str, Any], file: Path | None, env: Mapping[str, str],
                      source: str) -> Section:
    """A job type's table of the main file, else its own file (`$CORRAL_<NAME>_CONFIG`, or `<name>.toml` beside
    the main file), loaded the same way."""
    assert jt.settings is not None
    own_var = f"CORRAL_{jt.name.upper()}_CONFIG"
    own = Path(env[own_var]) if env.get(own_var) else (file.parent / f"{jt.name}.toml" if file else None)
    if jt.name in tables:
        table, where = tables[jt.name], source
    elif own is not None and (own.is_file() or env.get(own_var)):
        table, where = read_toml(own), str(own)
    else:
        table, where = {}, source
    return load_section(jt.settings, table, env=env, source=where)


def _queues(configured: list[Any], jobtypes: Any) -> list[Any]:
    """The file's [[queues]], then each job type's default queues that the file does not configure itself."""
    queues = list(configured)
    names = {q.get("name") for q in queues if isinstance(q, dict)}
    for jt in jobtypes:
        for q in jt.queues:
            if q.name not in names:
                entry: dict[str, Any] = {"name": q.name, "processor": q.processor, "concurrency": q.concurrency}
                if q.workers is not None:
                    entry.update(min_workers=q.workers[0], max_workers=q.workers[1])
                if q.max_memory_mb is not None:
                    entry["max_memory_mb"] = q.max_memory_mb
                queues.append(entry)
    return queues

"""The configuration model: `config.yaml` validated with pydantic; errors name file, line and key."""

from __future__ import annotations

from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationError, field_validator

from hub.errors import ConfigError
from hub.integration import IntegrationConfig
from hub.times import parse_duration_us
from hub.yamlfile import LineMap, format_loc, load_yaml, locate


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class HttpConfig(_Strict):
    host: str = "127.0.0.1"
    port: int = Field(8765, ge=0, le=65535)
    enabled: bool = True


class RetentionConfig(_Strict):
    default: str = "365d"
    rules: dict[str, str] = Field(default_factory=dict)
    interval: str = "1h"

    @field_validator("default", "interval")
    @classmethod
    def _duration(cls, v: str) -> str:
        parse_duration_us(v)
        return v

    @field_validator("rules")
    @classmethod
    def _rules(cls, v: dict[str, str]) -> dict[str, str]:
        for value in v.values():
            parse_duration_us(value)
        return v


class HubSection(_Strict):
    name: str = "Home"
    timezone: str = "UTC"
    latitude: float = Field(0.0, ge=-90, le=90)
    longitude: float = Field(0.0, ge=-180, le=180)
    elevation: float = 0.0
    database: str = "data/hub.db"
    http: HttpConfig = Field(default_factory=HttpConfig)
    retention: RetentionConfig = Field(default_factory=RetentionConfig)
    command_timeout: str = "10s"
    synchronous: str = Field("full", pattern="^(full|normal)$")
    # PRAGMA quick_check before starting: catches a damaged file, costs ~20 s per GB of log.
    startup_check: str = Field("quick", pattern="^(quick|none)$")

    @field_validator("timezone")
    @classmethod
    def _tz(cls, v: str) -> str:
        try:
            ZoneInfo(v)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"unknown time zone {v!r} (use an IANA name like Europe/Berlin)") from None
        return v

    @property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)


class McpConfig(_Strict):
    token: SecretStr | None = None
    allow: list[str] = Field(default_factory=lambda: ["light.*", "switch.*", "fan.*", "cover.*"])
    confirm: list[str] = Field(default_factory=lambda: ["lock.*", "alarm_control_panel.*"])
    max_tokens: int = Field(8000, ge=500, le=200_000)
    allowed_hosts: list[str] = Field(default_factory=list)
    allowed_origins: list[str] = Field(default_factory=list)


class Config(_Strict):
    hub: HubSection = Field(default_factory=HubSection)
    mcp: McpConfig = Field(default_factory=McpConfig)
    integrations: list[dict[str, Any]] = Field(default_factory=list)
    automations: list[Any] = Field(default_factory=list)
    scripts: dict[str, Any] = Field(default_factory=dict)
    notify: list[Any] = Field(default_factory=list)
    schedules: list[Any] = Field(default_factory=list)
    # Set by load_config, not by the file.
    path: Path = Path("config.yaml")
    integration_configs: list[IntegrationConfig] = Field(default_factory=list, exclude=True)
    raw: Any = Field(default=None, exclude=True)

    @property
    def base_dir(self) -> Path:
        return self.path.parent

    @property
    def database_url(self) -> str:
        """The database: a PostgreSQL URL as written, or an SQLite path relative to the config's folder."""
        db = self.hub.database
        if db.startswith(("postgresql://", "postgres://")):
            return db
        if db.startswith("sqlite:///"):
            db = db[len("sqlite:///"):]
        path = Path(db)
        return str(path if path.is_absolute() else (self.base_dir / path).resolve())


def _problems(exc: ValidationError, raw: Any, prefix: tuple[Any, ...] = ()) -> list[str]:
    out = []
    for err in exc.errors():
        loc = prefix + tuple(err["loc"])
        msg = err["msg"]
        if err["type"] == "extra_forbidden":
            msg = "unknown key"
        out.append(f"{locate(raw, loc)}: {format_loc(loc)}: {msg}")
    return out


def validate_integrations(cfg: Config, raw: Any) -> list[str]:
    """Validate each integration entry with its own model; returns the problems found."""
    from integrations import config_model_for

    problems: list[str] = []
    seen: set[str] = set()
    cfg.integration_configs = []
    for index, entry in enumerate(cfg.integrations):
        where = ("integrations", index)
        if not isinstance(entry, dict) or "type" not in entry:
            problems.append(f"{locate(raw, where)}: {format_loc(where)}: needs a `type`")
            continue
        model = config_model_for(str(entry["type"]))
        if model is None:
            from integrations import KNOWN_TYPES

            problems.append(f"{locate(raw, where + ('type',))}: {format_loc(where + ('type',))}: unknown "
                            f"integration type {entry['type']!r} (known: {', '.join(sorted(KNOWN_TYPES))})")
            continue
        entry = dict(entry)
        entry.setdefault("id", entry["type"])
        if entry["id"] in seen:
            problems.append(f"{locate(raw, where + ('id',))}: {format_loc(where + ('id',))}: "
                            f"duplicate integration id {entry['id']!r}")
        seen.add(entry["id"])
        try:
            parsed = model.model_validate(entry)
        except ValidationError as exc:
            problems.extend(_problems(exc, raw, where))
            continue
        cfg.integration_configs.append(parsed)
    return problems


def load_config(path: str | Path, *, check_rules: bool = True) -> Config:
    """Load and validate `config.yaml`; raises ConfigError listing every problem found."""
    path = Path(path)
    if not path.exists():
        raise ConfigError(f"{path}: no such configuration file (pass -c PATH)")
    raw = load_yaml(path)
    if raw is None:
        raw = LineMap()
        raw.file = str(path)
    if not isinstance(raw, dict):
        raise ConfigError(f"{path}:1: the configuration must be a mapping of sections")
    problems: list[str] = []
    try:
        cfg = Config.model_validate({**raw, "path": path.resolve()})
    except ValidationError as exc:
        problems = _problems(exc, raw)
        # Go on with what can be read, so that every problem is reported at once.
        sections = {k: raw.get(k) for k in ("integrations", "automations", "scripts", "notify", "schedules")}
        cfg = Config.model_construct(
            path=path.resolve(), hub=HubSection.model_construct(), mcp=McpConfig.model_construct(),
            integrations=sections["integrations"] if isinstance(sections["integrations"], list) else [],
            automations=sections["automations"] if isinstance(sections["automations"], list) else [],
            scripts=sections["scripts"] if isinstance(sections["scripts"], dict) else {},
            notify=sections["notify"] if isinstance(sections["notify"], list) else [],
            schedules=sections["schedules"] if isinstance(sections["schedules"], list) else [],
            integration_configs=[])
    cfg.raw = raw
    problems += validate_integrations(cfg, raw)
    if check_rules:
        try:
            from automations.config import validate_rules
        except ImportError:
            validate_rules = None  # the automation engine is not installed in this build
        if validate_rules is not None:
            problems.extend(validate_rules(cfg, raw))
    if problems:
        raise ConfigError(problems[0], problems)
    return cfg

"""The `type: ring` configuration entry."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

from pydantic import Field, field_validator

from hub.errors import UserError
from hub.integration import IntegrationConfig
from hub.times import parse_duration_us

DEFAULT_USER_AGENT = "hub-ring"


class RingConfig(IntegrationConfig):
    """Ring doorbells, cameras, chimes and intercoms through ring-doorbell."""

    type: Literal["ring"] = "ring"
    token_file: str = "data/ring-token.json"
    poll_interval: float = Field(60.0, gt=0, description="seconds between device-state polls")
    health_interval: float = Field(900.0, gt=0, description="seconds between health (Wi-Fi) polls")
    history_limit: int = Field(30, ge=0, le=200, description="history entries per device backfilled on start")
    max_backoff: float = Field(900.0, gt=0, description="longest wait after HTTP 429/5xx")
    push: bool = True
    user_agent: str = Field(DEFAULT_USER_AGENT, min_length=1, max_length=100)

    @field_validator("poll_interval", "health_interval", "max_backoff", mode="before")
    @classmethod
    def _duration(cls, value: Any) -> Any:
        if isinstance(value, str):
            try:
                return parse_duration_us(value) / 1_000_000
            except UserError as exc:
                raise ValueError(str(exc)) from None
        return value

    def token_path(self, base_dir: Path | None) -> Path:
        """The token file; a relative path is relative to the configuration file's folder."""
        path = Path(self.token_file).expanduser()
        if path.is_absolute() or base_dir is None:
            return path
        return base_dir / path

"""The `type: mqtt` entry of config.yaml."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator, model_validator

from hub.integration import IntegrationConfig
from integrations.mqtt.abbreviations import expand
from integrations.mqtt.entities import MqttEntity, parse_entity
from integrations.mqtt.topics import valid_filter


class StatestreamConfig(BaseModel):
    """Publish the hub's state changes to `<prefix>/<entity_id>/state` (retained)."""

    model_config = ConfigDict(extra="forbid")
    prefix: str = "hub"
    include: list[str] = Field(default_factory=lambda: ["*"])
    exclude: list[str] = Field(default_factory=list)
    attributes: bool = False
    qos: int = Field(0, ge=0, le=2)
    retain: bool = True


class MqttConfig(IntegrationConfig):
    """Broker connection, discovery, capture and configured entities."""

    type: str = "mqtt"
    url: str = "mqtt://127.0.0.1:1883"
    username: str | None = None
    password: SecretStr | None = None
    ca_file: str | None = None            # mqtts:// only; default: the system's CA store
    client_id: str | None = None          # default: hub-<id>
    clean_session: bool = False           # persistent session: the broker keeps QoS 1/2 messages for us
    keepalive: int = Field(60, ge=5, le=3600)
    qos: int = Field(1, ge=0, le=2)       # subscription QoS for entity, discovery and capture topics
    discovery: bool = True
    discovery_prefix: str = "homeassistant"
    capture: list[str] = Field(default_factory=list)
    observe: list[str] = Field(default_factory=list)   # topics only counted for mqtt_topics, not logged
    entities: list[dict[str, Any]] = Field(default_factory=list)
    status_topic: str | None = "hub/status"            # birth `online` / last will `offline`, retained
    payload_online: str = "online"
    payload_offline: str = "offline"
    max_payload: int = Field(256 * 1024, ge=1, le=16 * 1024 * 1024)
    max_topics: int = Field(10_000, ge=10, le=1_000_000)
    reconnect_max: float = Field(60.0, ge=1.0, le=3600.0)
    statestream: StatestreamConfig | None = None

    @field_validator("url")
    @classmethod
    def _url(cls, v: str) -> str:
        parts = urlsplit(v)
        if parts.scheme not in ("mqtt", "mqtts") or not parts.hostname:
            raise ValueError(f"url must be mqtt://host[:port] or mqtts://host[:port], not {v!r}")
        if parts.username or parts.password:
            raise ValueError("put credentials in `username`/`password` (with !secret or !env), not in the url")
        try:
            _ = parts.port  # raises on a port that is not a number
        except ValueError:
            raise ValueError(f"url {v!r} has an invalid port") from None
        return v

    @field_validator("capture", "observe")
    @classmethod
    def _filters(cls, v: list[str]) -> list[str]:
        for pattern in v:
            if not valid_filter(pattern):
                raise ValueError(f"{pattern!r} is not a valid MQTT topic filter")
        return v

    @field_validator("entities")
    @classmethod
    def _entities(cls, v: list[dict[str, Any]]) -> list[dict[str, Any]]:
        for index, raw in enumerate(v):
            entity_from_config(raw, index)
        return v

    @model_validator(mode="after")
    def _tls(self) -> MqttConfig:
        if self.ca_file and not self.url.startswith("mqtts://"):
            raise ValueError("ca_file is only used with an mqtts:// url")
        return self

    @property
    def host(self) -> str:
        return urlsplit(self.url).hostname or "127.0.0.1"

    @property
    def port(self) -> int:
        parts = urlsplit(self.url)
        return parts.port or (8883 if parts.scheme == "mqtts" else 1883)

    @property
    def tls(self) -> bool:
        return self.url.startswith("mqtts://")


def entity_from_config(raw: Any, index: int) -> MqttEntity:
    """A configured entity; ValueError names the entry and the problem."""
    if not isinstance(raw, dict):
        raise ValueError(f"entities[{index}] must be a mapping of Home Assistant MQTT keys")
    platform = raw.get("platform")
    if not isinstance(platform, str):
        raise ValueError(f"entities[{index}] needs `platform` (sensor, binary_sensor, switch, light, ...)")
    if not isinstance(raw.get("name"), str) and not isinstance(raw.get("object_id"), str):
        raise ValueError(f"entities[{index}] needs a `name` or an `object_id`")
    try:
        return parse_entity(platform, expand(raw), "config")
    except ValueError as exc:
        raise ValueError(f"entities[{index}] ({raw.get('name') or raw.get('object_id')}): {exc}") from None

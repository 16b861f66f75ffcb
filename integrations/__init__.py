"""The integrations the hub knows, by config `type`. Listed here explicitly (no discovery
by folder), imported lazily so that one integration's missing dependency or import
error is reported for that integration alone."""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from hub.integration import Integration, IntegrationConfig

KNOWN_TYPES: dict[str, str] = {
    "demo": "integrations.demo:DemoIntegration",
    "mqtt": "integrations.mqtt:MqttIntegration",
    "ring": "integrations.ring:RingIntegration",
    "unifi": "integrations.unifi:UnifiIntegration",
    "routeros": "integrations.routeros:RouterOSIntegration",
}


def integration_class(type_: str) -> type[Integration] | None:
    """The Integration subclass for a config `type`, or None if unknown or not built yet."""
    target = KNOWN_TYPES.get(type_)
    if target is None:
        return None
    module_name, _, attr = target.partition(":")
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as exc:
        if exc.name == module_name:
            return None
        raise
    cls: type[Integration] = getattr(module, attr)
    return cls


def config_model_for(type_: str) -> type[IntegrationConfig] | None:
    cls = integration_class(type_)
    return None if cls is None else cls.config_model

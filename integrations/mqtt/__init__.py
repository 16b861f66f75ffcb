"""MQTT: a broker connection with Home Assistant MQTT discovery, configured entities, capture,
commands, statestream, and the topics projection behind the MCP tool `mqtt_topics`."""

from __future__ import annotations

from integrations.mqtt.config import MqttConfig
from integrations.mqtt.integration import MqttIntegration

__all__ = ["MqttConfig", "MqttIntegration"]

"""Ring doorbells, cameras, chimes and intercoms (ring-doorbell). Ring Alarm comes through
ring-mqtt and the MQTT integration's discovery instead."""

from __future__ import annotations

from integrations.ring.config import RingConfig
from integrations.ring.integration import RingIntegration
from integrations.ring.login import login_from_config, ring_login

__all__ = ["RingConfig", "RingIntegration", "login_from_config", "ring_login"]

"""MikroTik RouterOS: REST (RouterOS 7) with SSH fallback, presence, and approved changes."""

from __future__ import annotations

from integrations.routeros.config import RouterOSConfig
from integrations.routeros.integration import RouterOSIntegration

__all__ = ["RouterOSConfig", "RouterOSIntegration"]

"""UniFi Network: clients (presence, blocking), devices and site health from a UniFi controller."""

from __future__ import annotations

from .config import UnifiConfig
from .integration import UnifiIntegration

__all__ = ["UnifiConfig", "UnifiIntegration"]

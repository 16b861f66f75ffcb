"""A lean stand-in for paho's MQTT v5 `Properties` when decoding received packets.

paho (2.2) builds every `Properties` object from scratch: three tables of names, types and
packet kinds per object, and `unpack` first clears it by trying every one of 27 property names.
Every PUBLISH we receive over MQTT v5 gets one, and at 20,000 messages/s that was the largest
single cost of ingest (about half of paho's share, bench/mqtt_ingest.py under cProfile). This
subclass shares those tables, read-only, across objects and clears only what was set; reading
and writing properties behaves as paho's class does. It is installed into paho's packet decoder
only; what we send is built by paho's own class.
"""

from __future__ import annotations

from typing import Any

from paho.mqtt import _packet
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

_TEMPLATE = Properties(PacketTypes.PUBLISH)


class LeanProperties(Properties):
    """paho's Properties with its lookup tables shared by the class."""

    types = _TEMPLATE.types
    names = _TEMPLATE.names
    properties = _TEMPLATE.properties

    def __init__(self, packetType: int) -> None:  # noqa: N803 (paho's name)
        object.__setattr__(self, "packetType", packetType)

    def clear(self) -> None:
        for name in [key for key in self.__dict__ if key != "packetType"]:
            delattr(self, name)


def install() -> bool:
    """Use LeanProperties in paho's packet decoder; False (paho's own kept) if its layout differs."""
    if getattr(_packet, "Properties", None) is not Properties:
        return getattr(_packet, "Properties", None) is LeanProperties
    _packet.Properties = LeanProperties  # type: ignore[attr-defined]
    return True


def same(a: Any, b: Any) -> bool:
    """Whether two property objects carry the same values (for the tests)."""
    return bool(a.json() == b.json())

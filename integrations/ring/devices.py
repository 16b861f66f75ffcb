"""Ring devices as the hub sees them: the raw JSON of `ring_devices`, validated, plus the
ring-doorbell object that knows the kind's capabilities (None for kinds it does not model)."""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass, field
from typing import Any

from ring_doorbell import RingChime, RingDoorBell, RingError, RingGeneric, RingOther, RingStickUpCam
from ring_doorbell.const import INTERCOM_KINDS, RingCapability

log = logging.getLogger(__name__)

KNOWN_FAMILIES = ("doorbots", "authorized_doorbots", "stickup_cams", "chimes", "other")

# Volume ranges per family (ring-doorbell's own limits).
VOLUME_RANGE = {"doorbots": (0, 11), "authorized_doorbots": (0, 11), "chimes": (0, 11), "other": (0, 8)}


def slugify(text: str) -> str:
    """`Front Door` -> `front_door` (entity object ids are [a-z0-9_])."""
    slug = re.sub(r"[^a-z0-9]+", "_", text.lower()).strip("_")
    return slug or "device"


@dataclass(slots=True)
class Problem:
    """A device entry that was rejected, with the reason and the entry itself."""

    family: str
    reason: str
    entry: object


def validate_devices(payload: object) -> tuple[dict[str, dict[int, dict[str, Any]]], list[Problem]]:
    """Index `ring_devices` by family and id, keeping every valid entry and listing the rest.

    ring-doorbell's own `async_update_devices` raises KeyError on the first entry without an
    id, which would hide every device; this keeps the good ones.
    """
    problems: list[Problem] = []
    if not isinstance(payload, dict):
        return {}, [Problem("*", f"the device list must be a JSON object, not {type(payload).__name__}", payload)]
    out: dict[str, dict[int, dict[str, Any]]] = {}
    for family, entries in payload.items():
        if not isinstance(entries, list):
            problems.append(Problem(str(family), "a device family must be a list", entries))
            continue
        indexed: dict[int, dict[str, Any]] = {}
        for entry in entries:
            if not isinstance(entry, dict):
                problems.append(Problem(family, "a device must be a JSON object", entry))
                continue
            dev_id = entry.get("id")
            if not isinstance(dev_id, int) or isinstance(dev_id, bool):
                problems.append(Problem(family, f"device without an integer id ({dev_id!r})", entry))
                continue
            if not isinstance(entry.get("kind"), str):
                entry = {**entry, "kind": "unknown"}
            if not isinstance(entry.get("description"), str) or not entry["description"].strip():
                entry = {**entry, "description": f"Ring {entry['kind']} {dev_id}"}
            for key in ("settings", "alerts", "features"):
                if key in entry and not isinstance(entry[key], dict):
                    problems.append(Problem(family, f"device {dev_id}: `{key}` is not an object; ignored", entry))
                    entry = {k: v for k, v in entry.items() if k != key}
            indexed[dev_id] = entry
        out[family] = indexed
    return out, problems


def library_device(ring: Any, family: str, api_id: int, kind: str) -> RingGeneric | None:
    """The ring-doorbell object for a device, or None where the library has no model for it."""
    if family == "doorbots":
        return RingDoorBell(ring, api_id)
    if family == "authorized_doorbots":
        return RingDoorBell(ring, api_id, shared=True)
    if family == "stickup_cams":
        return RingStickUpCam(ring, api_id)
    if family == "chimes":
        return RingChime(ring, api_id)
    if family == "other" and kind in INTERCOM_KINDS:
        return RingOther(ring, api_id, shared=True)
    return None


@dataclass(slots=True)
class RingDevice:
    """One Ring device: raw attributes (shared with ring-doorbell), health, and its entity slug."""

    api_id: int
    family: str
    attrs: dict[str, Any]
    lib: RingGeneric | None
    slug: str
    health: dict[str, Any] = field(default_factory=dict)
    model: str = ""

    def __post_init__(self) -> None:
        # Read once: ring-doorbell logs an error on every read of an unknown kind's model.
        self.model = self._library_model()

    @property
    def name(self) -> str:
        return str(self.attrs.get("description") or f"Ring {self.kind} {self.api_id}")

    @property
    def kind(self) -> str:
        return str(self.attrs.get("kind") or "unknown")

    @property
    def generic(self) -> bool:
        """True for kinds ring-doorbell does not model: they get only the generic sensors."""
        return self.lib is None

    def _library_model(self) -> str:
        if self.lib is not None:
            try:
                return str(self.lib.model)
            except (KeyError, RingError, NotImplementedError):
                pass
        return f"Unknown ({self.kind})"

    def has(self, capability: RingCapability) -> bool:
        if self.lib is None:
            return False
        try:
            return bool(self.lib.has_capability(capability))
        except (KeyError, RingError):
            return False

    @property
    def is_chime(self) -> bool:
        return self.family == "chimes"

    @property
    def is_intercom(self) -> bool:
        return self.family == "other" and self.kind in INTERCOM_KINDS

    @property
    def firmware(self) -> str | None:
        value = self.attrs.get("firmware_version")
        return str(value) if value is not None else None

    @property
    def connection(self) -> str | None:
        alerts = self.attrs.get("alerts")
        value = alerts.get("connection") if isinstance(alerts, dict) else None
        return str(value) if value is not None else None

    @property
    def battery(self) -> int | None:
        """Battery percentage (two bays added, as ring-doorbell does), capped at 100."""
        total: int | None = None
        for key in ("battery_life", "battery_life_2"):
            raw = self.attrs.get(key)
            if raw is None or raw == "":
                continue
            try:
                total = (total or 0) + int(float(raw))
            except (TypeError, ValueError):
                continue
        return None if total is None else max(0, min(total, 100))

    @property
    def settings(self) -> dict[str, Any]:
        settings = self.attrs.get("settings")
        return settings if isinstance(settings, dict) else {}

    @property
    def has_volume(self) -> bool:
        return (self.is_intercom or self.has(RingCapability.VOLUME)) and self.volume is not None

    @property
    def volume_key(self) -> str:
        return "volume" if self.is_chime else "doorbell_volume"

    @property
    def volume(self) -> int | None:
        value = self.settings.get(self.volume_key)
        return value if isinstance(value, int) and not isinstance(value, bool) else None

    @property
    def volume_range(self) -> tuple[int, int]:
        return VOLUME_RANGE.get(self.family, (0, 11))

    @property
    def motion_detection(self) -> bool | None:
        value = self.settings.get("motion_detection_enabled")
        return value if isinstance(value, bool) else None

    @property
    def light_on(self) -> bool:
        return self.attrs.get("led_status") == "on"

    @property
    def siren_seconds(self) -> int:
        status = self.attrs.get("siren_status")
        value = status.get("seconds_remaining", 0) if isinstance(status, dict) else 0
        return value if isinstance(value, int) else 0

    @property
    def has_subscription(self) -> bool:
        features = self.attrs.get("features")
        return bool(features.get("show_recordings")) if isinstance(features, dict) else False

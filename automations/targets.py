"""How an `action:` call becomes command requests: targets resolved, scripts and notifiers named."""

from __future__ import annotations

from typing import Any

from automations.models import entity_list
from automations.runner import RunError
from hub.events import is_entity_id

_GENERIC = ("homeassistant", "hub")


def _as_list(value: Any) -> list[str]:
    if value is None:
        return []
    if isinstance(value, str):
        return [v.strip() for v in value.split(",") if v.strip()]
    if isinstance(value, list):
        return [str(v) for v in value]
    raise RunError(f"target {value!r} must be an id or a list of ids")


def resolve(host: Any, domain: str, target: dict[str, Any]) -> list[str]:
    """Entity ids named by a target: entity_id (`all` = every entity of the domain), area_id, device_id."""
    out: list[str] = []
    try:
        ids = entity_list(target.get("entity_id"))
    except ValueError as exc:
        raise RunError(f"target entity_id: {exc}") from None
    for eid in ids:
        if eid == "all":
            prefix = f"{domain}."
            out.extend(sorted(s.entity_id for s in host.reader.all() if s.entity_id.startswith(prefix)))
        else:
            out.append(eid)
    areas, devices = set(_as_list(target.get("area_id"))), set(_as_list(target.get("device_id")))
    if areas or devices:
        for eid, row in sorted(host.registry().items()):
            info = row.get("info", row) if isinstance(row, dict) else {}
            device = info.get("device") or {}
            area = info.get("area") or (device.get("area") if isinstance(device, dict) else None)
            dev_id = device.get("id") if isinstance(device, dict) else None
            if domain not in _GENERIC and not eid.startswith(domain + "."):
                continue
            if (area in areas) or (dev_id in devices):
                out.append(eid)
    seen: set[str] = set()
    return [e for e in out if not (e in seen or seen.add(e))]  # type: ignore[func-returns-value]


def plan(host: Any, action: str, target: dict[str, Any], data: dict[str, Any]) -> list[
        tuple[str, list[str], dict[str, Any]]]:
    domain, _, service = action.partition(".")
    data = dict(data)
    if domain == "notify":
        return [("send_message", [action], data)]
    if domain == "script" and service not in ("turn_on", "turn_off", "toggle", "reload"):
        return [("turn_on", [action], data)]
    entities = resolve(host, domain, target)
    if domain == "script":
        if not entities:
            raise RunError(f"{action} needs a target script")
        return [(service, entities, dict(data.get("variables") or {}))]
    if domain in _GENERIC:
        by_domain: dict[str, list[str]] = {}
        for eid in entities:
            by_domain.setdefault(eid.split(".", 1)[0], []).append(eid)
        if not by_domain:
            raise RunError(f"{action} needs a target entity")
        return [(f"{d}.{service}", ids, data) for d, ids in by_domain.items()]
    if not entities:
        integration = data.pop("integration", None)
        if isinstance(integration, str) and integration:
            return [(action, [integration], data)]
        if "entity_id" in target and target.get("entity_id") in ("all", ["all"]):
            return []  # `all` of a domain that has no entities yet: nothing to do
        raise RunError(f"{action} needs a target (target: entity_id/area_id/device_id, "
                       f"or `integration:` in data for instance commands)")
    bad = [e for e in entities if not is_entity_id(e)]
    if bad:
        raise RunError(f"{action}: {', '.join(bad)} is not an entity id")
    return [(action, entities, data)]

"""Resources (entity://, automation://, events://recent) and prompts (briefing, security review, troubleshooting)."""

from __future__ import annotations

import json
from typing import Any

from fastmcp import FastMCP

from hub.mcp.rows import event_row, resource_errors
from hub.mcp.tools_house import automations
from hub.mcp.view import HubView
from hub.store import EventFilter

RECENT = 50


def _json(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, default=str, indent=1)


def register(mcp: FastMCP[Any], hub: HubView) -> None:
    @mcp.resource("entity://{entity_id}", mime_type="application/json", title="Entity",
                  description="An entity's current state, attributes and registry entry.")
    @resource_errors
    async def entity(entity_id: str) -> str:
        await hub.check_entities([entity_id])
        st = (await hub.states()).get(entity_id)
        reg = (await hub.registry()).get(entity_id) or {}
        return _json({"entity_id": entity_id, "state": st.to_dict(hub.tz) if st else None,
                      "integration": reg.get("integration"), "name": reg.get("name"), "area": reg.get("area"),
                      "info": reg.get("info") or {}})

    @mcp.resource("automation://{automation_id}", mime_type="application/json", title="Automation",
                  description="An automation's configuration and its recent runs with traces.")
    @resource_errors
    async def automation(automation_id: str) -> str:
        listing = await automations(hub, automation_id, "30d", 5)
        config = next((a for a in hub.config.automations
                       if isinstance(a, dict) and str(a.get("id")) == automation_id), None)
        return _json({"config": config, **listing.model_dump(mode="json", exclude_none=True)})

    @mcp.resource("events://recent", mime_type="application/json", title="Recent events",
                  description=f"The latest {RECENT} events of the log, newest first.")
    async def recent_events() -> str:
        found = await hub.log.read(EventFilter(descending=True, limit=RECENT))
        return _json([event_row(e, hub.tz).model_dump(mode="json", exclude_none=True) for e in found])

    @mcp.prompt(name="daily_briefing", title="Daily briefing",
                description="A short briefing on the house over the last day.")
    def daily_briefing(since: str = "24h") -> str:
        return (f"Give me a short briefing on my house for the last {since}. Use hub_status for the hub's health "
                "and errors, security_overview for locks, doors, alarms and doorbell dings, list_automations "
                "for what ran, query_events for failed commands (types command_failed) and get_history for "
                "notable sensors (temperature, power). Keep it to a few lines per topic; say what needs my "
                "attention first.")

    @mcp.prompt(name="security_review", title="Security review",
                description="Review locks, doors, alarm, cameras, doorbell dings and presence.")
    def security_review() -> str:
        return ("Review the security of my house. Call security_overview, then network_clients to see who is "
                "home and which unknown devices are on the network, and query_events with types device_event "
                "for dings and motion. Report anything unlocked, open, unavailable or low on battery, and any "
                "activity while nobody was home. Do not send commands; suggest them and I will decide.")

    @mcp.prompt(name="troubleshoot_device", title="Troubleshoot a device",
                description="Find out why a device misbehaves.")
    def troubleshoot_device(entity_id: str) -> str:
        return (f"Help me find out why {entity_id} misbehaves. Use get_state for its state and attributes, "
                f"get_history over the last day, explain with entity_id={entity_id} for what caused its last "
                "change, query_events for its commands and failures (types command_requested, command_failed) "
                "and hub_status for its integration's connection and rejected input. Tell me the likely cause "
                "and what to check.")

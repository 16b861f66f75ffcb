"""Tools: list_automations, network_clients and security_overview."""

from __future__ import annotations

import difflib
from typing import Annotated, Any, Literal

from fastmcp import FastMCP
from pydantic import Field

from hub import events as ev
from hub.errors import UserError
from hub.mcp.models import (
    Automation,
    AutomationList,
    AutomationRun,
    NetworkClient,
    NetworkList,
    SecurityDevice,
    SecurityOverview,
)
from hub.mcp.paging import fit
from hub.mcp.rows import answers_errors, bounded_data, event_row
from hub.mcp.tools_state import READ
from hub.mcp.view import HubView
from hub.states import as_number
from hub.store import EventFilter
from hub.times import to_iso

RUN_SAMPLE = 2000
OPENINGS = {"door", "garage_door", "window", "opening"}
HAZARDS = {"smoke", "gas", "carbon_monoxide", "moisture", "safety", "tamper"}
MOTION = {"motion", "occupancy", "presence"}


def _first(attrs: dict[str, Any], *keys: str) -> str | None:
    for key in keys:
        value = attrs.get(key)
        if value not in (None, ""):
            return str(value)
    return None


def _trace(trace: Any) -> Any:
    bounded = bounded_data({"trace": trace}, 1500)
    return bounded.get("trace", bounded)


def security_kind(entity_id: str, device_class: str | None) -> str | None:
    domain = entity_id.split(".", 1)[0]
    if domain == "lock":
        return "lock"
    if domain == "alarm_control_panel":
        return "alarm"
    if domain == "camera":
        return "camera"
    if domain == "siren":
        return "siren"
    if device_class == "doorbell" or (domain == "event" and "doorbell" in entity_id):
        return "doorbell"
    if domain == "binary_sensor":
        if device_class in HAZARDS or "smoke" in entity_id:
            return device_class if device_class in HAZARDS else "smoke"
        if device_class in OPENINGS:
            return "opening"
        if device_class in MOTION:
            return "motion"
    return None


async def automations(hub: HubView, automation_id: str | None, since: str | None, runs: int) -> AutomationList:
    configured: dict[str, str | None] = {}
    for item in hub.config.automations:
        if isinstance(item, dict) and item.get("id"):
            configured[str(item["id"])] = item.get("alias")
    start, end = hub.window(since, None, "7d")
    # The window is applied here, not in SQL: "latest N of these types" follows the (type, seq) order.
    flt = EventFilter(types=(ev.AUTOMATION_TRIGGERED, ev.AUTOMATION_FINISHED),
                      source=f"automation:{automation_id}" if automation_id else None, descending=True,
                      limit=RUN_SAMPLE)
    sample = await hub.log.read(flt)
    found = [e for e in sample if start <= e.time < end]
    finished: dict[str, Any] = {}
    by_id: dict[str, list[Any]] = {}
    for e in found:
        aid = str(e.data.get("automation") or e.source.partition(":")[2] or e.source)
        if e.type == ev.AUTOMATION_FINISHED:
            finished[str(e.causation) if e.causation else (e.correlation or "")] = e
            if e.correlation:
                finished.setdefault(e.correlation, e)
        else:
            by_id.setdefault(aid, []).append(e)
    if automation_id and automation_id not in configured and automation_id not in by_id:
        close = difflib.get_close_matches(automation_id, sorted(set(configured) | set(by_id)), n=5, cutoff=0.5)
        hint = f"; did you mean {', '.join(close)}?" if close else ""
        raise UserError(f"no automation {automation_id!r} configured or run since {to_iso(start, hub.tz)}{hint}")
    out = []
    for aid in dict.fromkeys(list(by_id) + list(configured)):
        if automation_id and aid != automation_id:
            continue
        triggered = by_id.get(aid, [])
        items = []
        for e in triggered[:runs]:
            done = finished.get(str(e.seq)) or (finished.get(e.correlation) if e.correlation else None)
            trig = e.data.get("trigger")
            trig_text = (trig.get("description") or trig.get("platform") or trig.get("trigger")) \
                if isinstance(trig, dict) else (str(trig) if trig is not None else None)
            items.append(AutomationRun(
                seq=e.seq or 0, time=to_iso(e.time, hub.tz) or "", trigger=trig_text,
                result=str(done.data.get("result", "finished")) if done else "running or unfinished",
                finished=to_iso(done.time, hub.tz) if done else None,
                trace=_trace(done.data.get("trace")) if done else None))
        alias = configured.get(aid) or (triggered[0].data.get("alias") if triggered else None)
        out.append(Automation(id=aid, alias=alias, configured=aid in configured,
                              last_run=items[0].time if items else None, runs=items))
    kept, cut = fit(out, hub.budget - 300)
    answer = AutomationList(automations=kept, omitted=len(out) - len(kept))
    notes = []
    if len(sample) >= RUN_SAMPLE:
        notes.append(f"runs read from the latest {RUN_SAMPLE} automation events")
    if cut:
        notes.append("ask one automation_id for the rest")
    answer.note = "; ".join(notes) or None
    return answer


def register(mcp: FastMCP[Any], hub: HubView) -> None:
    @mcp.tool(annotations=READ, title="List automations")
    @answers_errors
    async def list_automations(
        automation_id: Annotated[str | None, Field(description="Only this automation (its id).",
                                                   max_length=128)] = None,
        since: Annotated[str | None, Field(description="Runs since (default 7d).")] = None,
        runs: Annotated[int, Field(ge=0, le=50, description="Recent runs (with traces) per automation.")] = 3,
    ) -> AutomationList:
        """Automations: configured and recently run, most recently run first, with their last runs: trigger,
        result and trace. Use to check whether and why an automation ran."""
        return await automations(hub, automation_id.strip() if automation_id else None, since, runs)

    @mcp.tool(annotations=READ, title="Network clients")
    @answers_errors
    async def network_clients(
        presence: Annotated[Literal["all", "home", "away"], Field(description="Filter by presence.")] = "all",
        text: Annotated[str | None, Field(description="Plain text in the name, id, IP or MAC.",
                                          max_length=100)] = None,
        limit: Annotated[int, Field(ge=1, le=1000)] = 200,
    ) -> NetworkList:
        """Who and what is on the network: device trackers from UniFi and RouterOS (and any other tracker) with
        presence (home/not_home), IP, MAC, host name and connection; present ones first."""
        states = await hub.states()
        registry = await hub.registry()
        needle = (text or "").strip().lower()
        rows = []
        for entity_id in set(states) | set(registry):
            if not entity_id.startswith("device_tracker."):
                continue
            st = states.get(entity_id)
            reg = registry.get(entity_id) or {}
            info = reg.get("info") or {}
            attrs = st.attributes if st else {}
            device = info.get("device") if isinstance(info.get("device"), dict) else {}
            mac = _first(attrs, "mac", "mac_address")
            if mac is None:
                for conn in device.get("connections") or []:
                    if isinstance(conn, list) and len(conn) == 2 and conn[0] == "mac":
                        mac = str(conn[1])
            client = NetworkClient(
                entity_id=entity_id, name=reg.get("name") or info.get("name") or _first(attrs, "friendly_name"),
                presence=st.state if st else None, integration=reg.get("integration"),
                ip=_first(attrs, "ip", "ip_address", "address"), mac=mac,
                hostname=_first(attrs, "hostname", "host_name", "host-name"),
                connection=_first(attrs, "essid", "ssid", "connection", "interface", "network"),
                last_changed=to_iso(st.last_changed, hub.tz) if st else None)
            home = client.presence not in (None, "not_home", "away", "unavailable", "unknown")
            if presence == "home" and not home or presence == "away" and home:
                continue
            if needle and not any(needle in (v or "").lower() for v in (entity_id, client.name, client.ip, client.mac,
                                                                         client.hostname)):
                continue
            rows.append((0 if home else 1, -(st.last_changed if st else 0), entity_id, client))
        rows.sort(key=lambda r: r[:3])
        clients = [r[3] for r in rows]
        kept, cut = fit(clients, hub.budget - 300, limit=limit)
        home_count = sum(1 for r in rows if r[0] == 0)
        answer = NetworkList(clients=kept, home=home_count, away=len(rows) - home_count,
                             omitted=len(clients) - len(kept))
        if not rows:
            answer.note = "no device trackers: configure the unifi or routeros integration"
        elif cut:
            answer.note = "narrow with presence or text to see the rest"
        return answer

    @mcp.tool(annotations=READ, title="Security overview")
    @answers_errors
    async def security_overview(
        since: Annotated[str | None, Field(description="Window for recent dings and motion (default 24h).")]
        = None,
    ) -> SecurityOverview:
        """The house's security at a glance: doorbells, cameras, locks, alarm panels, smoke and other hazard
        sensors, doors and windows, with state and battery; recent dings and motion alerts; and a list of what
        needs attention (unlocked, open, smoke, low battery, unavailable)."""
        states = await hub.states()
        registry = await hub.registry()
        batteries: dict[str, str] = {}
        for entity_id, reg in registry.items():
            info = reg.get("info") or {}
            st = states.get(entity_id)
            if info.get("device_class") == "battery" and reg.get("device_id") and st is not None:
                batteries[str(reg["device_id"])] = st.state
        devices, attention = [], []
        for entity_id in sorted(set(states) | set(registry)):
            reg = registry.get(entity_id) or {}
            info = reg.get("info") or {}
            kind = security_kind(entity_id, info.get("device_class"))
            if kind is None:
                continue
            st = states.get(entity_id)
            attrs = st.attributes if st else {}
            battery = _first(attrs, "battery_level", "battery") or batteries.get(str(reg.get("device_id")))
            state = st.state if st else None
            devices.append(SecurityDevice(entity_id=entity_id, kind=kind, name=reg.get("name") or info.get("name"),
                                          state=state, battery=battery,
                                          last_changed=to_iso(st.last_changed, hub.tz) if st else None))
            if state in ("unavailable", "unknown") and kind not in ("doorbell",):
                attention.append(f"{entity_id} is {state}")
            elif kind == "lock" and state in ("unlocked", "open", "jammed", "opening"):
                attention.append(f"{entity_id} is {state}")
            elif kind == "alarm" and state in ("triggered", "pending"):
                attention.append(f"{entity_id} is {state}")
            elif kind in HAZARDS and state == "on":
                attention.append(f"{entity_id} detects {kind}")
            elif kind == "opening" and state == "on":
                attention.append(f"{entity_id} is open")
            level = as_number(battery or "")
            if level is not None and level < 20:
                attention.append(f"{entity_id} battery at {battery}%")
        start, end = hub.window(since, None, "24h")
        recent = await hub.log.read(EventFilter(types=(ev.DEVICE_EVENT,), since=start, until=end, descending=True,
                                                limit=50))
        rows = [event_row(e, hub.tz) for e in recent]
        kept_recent, cut_recent = fit(rows, hub.budget // 3)
        kept_devices, cut_devices = fit(devices, hub.budget - 400 - sum(len(a) // 4 for a in attention)
                                        - len(kept_recent) * 60)
        answer = SecurityOverview(devices=kept_devices, recent=kept_recent, attention=attention[:50],
                                  omitted=len(devices) - len(kept_devices) + len(rows) - len(kept_recent))
        if cut_devices or cut_recent:
            answer.note = "bounded: use get_state or query_events(types=[\"device_event\"]) for the rest"
        if not devices:
            answer.note = "no locks, alarm panels, cameras, doorbells or hazard sensors are known"
        return answer

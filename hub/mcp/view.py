"""What the MCP tools read: states, the registry and the log, from a daemon's memory or the database.

In the daemon the log projects, so states and the registry come from memory. In
`hub mcp` (stdio) the log does not project, and they come from the projections
the daemon keeps in the database.
"""

from __future__ import annotations

import difflib
import fnmatch
from collections.abc import Mapping
from typing import Any

from hub.config import Config
from hub.errors import UserError
from hub.events import is_entity_id
from hub.integration import Integration
from hub.log import EventLog
from hub.mcp.paging import Cursors
from hub.states import State
from hub.times import parse_time_us


class HubView:
    """The hub as the MCP server sees it: one log, the configuration, and (in the daemon) the integrations."""

    def __init__(self, log: EventLog, config: Config,
                 integrations: Mapping[str, Integration] | None = None) -> None:
        self.log = log
        self.config = config
        self.integrations: Mapping[str, Integration] = integrations or {}
        self.tz = config.hub.tz
        self.budget = config.mcp.max_tokens
        self.cursors = Cursors()

    # --- states and registry -------------------------------------------------

    async def states(self) -> dict[str, State]:
        if self.log.project:
            return dict(self.log.fold.states)
        return {s.entity_id: s for s in await self.log.backend.load_states()}

    async def registry(self) -> dict[str, dict[str, Any]]:
        """entity_id -> {integration, name, area, device_id, domain, info} (same shape in both modes)."""
        if not self.log.project:
            return await self.log.backend.load_registry()
        out: dict[str, dict[str, Any]] = {}
        for entity_id, row in self.log.registry().items():
            info = row.get("info") or {}
            device = info.get("device") if isinstance(info.get("device"), dict) else {}
            out[entity_id] = {"entity_id": entity_id, "integration": row.get("integration"),
                              "name": info.get("name"), "area": info.get("area") or device.get("area"),
                              "device_id": device.get("id"), "domain": entity_id.split(".", 1)[0], "info": info}
        for entity_id in self.log.fold.states:
            out.setdefault(entity_id, {"entity_id": entity_id, "integration": None, "name": None, "area": None,
                                       "device_id": None, "domain": entity_id.split(".", 1)[0], "info": {}})
        return out

    async def known_ids(self) -> list[str]:
        return sorted(set(await self.states()) | set(await self.registry()))

    async def check_entities(self, entity_ids: list[str]) -> None:
        """UserError naming each unknown entity id with its closest known ids."""
        known = await self.known_ids()
        known_set = set(known)
        problems = []
        for entity_id in entity_ids:
            if entity_id in known_set:
                continue
            problems.append(unknown_entity(entity_id, known))
        if problems:
            raise UserError("; ".join(problems))

    def integration_type(self, integration_id: str | None) -> str | None:
        """The configured `type` of an integration instance id."""
        if integration_id is None:
            return None
        if integration_id in self.integrations:
            return getattr(self.integrations[integration_id], "type", None)
        for entry in self.config.integrations:
            if isinstance(entry, dict) and entry.get("id", entry.get("type")) == integration_id:
                return str(entry.get("type"))
        return None

    # --- times ---------------------------------------------------------------

    def time(self, value: str | None, default: str, what: str) -> int:
        text = default if value is None or not str(value).strip() else value
        try:
            return parse_time_us(text)
        except UserError as exc:
            raise UserError(f"{what}: {exc}") from None

    def window(self, since: str | None, until: str | None, default_since: str = "24h") -> tuple[int, int]:
        start = self.time(since, default_since, "since")
        end = self.time(until, "now", "until")
        if end <= start:
            raise UserError(f"the window is empty: since ({since or default_since}) is not before until "
                            f"({until or 'now'})")
        return start, end


def unknown_entity(entity_id: str, known: list[str]) -> str:
    """`no entity x; did you mean a, b?` with difflib's close matches (and same-domain hints)."""
    if not is_entity_id(entity_id):
        head = f"{entity_id!r} is not an entity id (domain.object_id, lowercase letters, digits and _)"
    else:
        head = f"no entity {entity_id}"
    lowered = entity_id.lower().strip()
    close = difflib.get_close_matches(lowered, known, n=5, cutoff=0.6)
    if not close:
        obj = lowered.split(".", 1)[-1]
        close = [k for k in known if obj and obj in k][:5]
    if close:
        return f"{head}; did you mean {', '.join(close)}?"
    return f"{head} (list_entities shows the entities there are)"


def matches_any(entity_id: str, patterns: list[str]) -> bool:
    return any(fnmatch.fnmatchcase(entity_id, p) for p in patterns)

"""The entities of one MQTT integration instance: ids, which topic feeds which entity, discovery keys."""

from __future__ import annotations

from typing import Any

from integrations.mqtt.entities import MqttEntity
from integrations.mqtt.topics import matches


class EntityTable:
    """Entities by id, by state topic and by discovery key; assigns ids with Home Assistant's naming."""

    def __init__(self, instance_id: str) -> None:
        self.instance_id = instance_id
        self.entities: dict[str, MqttEntity] = {}
        self.by_key: dict[str, str] = {}            # discovery key (topic[#component]) -> entity_id
        self.by_unique_id: dict[str, str] = {}
        self._exact: dict[str, list[tuple[MqttEntity, str]]] = {}
        self._wild: list[tuple[str, MqttEntity, str]] = []
        # Ids this instance gave out before (from the registry), so a restart keeps them.
        self.previous: dict[str, str] = {}

    def remember(self, registry: dict[str, dict[str, Any]]) -> None:
        """Learn the ids this instance registered in an earlier run (unique_id/origin -> entity_id)."""
        for entity_id, entry in registry.items():
            info = entry.get("info") or {}
            if entry.get("integration", info.get("integration")) != self.instance_id:
                continue
            mqtt = (info.get("capabilities") or {}).get("mqtt") or {}
            for key in ("unique_id", "origin"):
                if isinstance(mqtt.get(key), str) and mqtt[key] != "config":
                    self.previous[f"{key}:{mqtt[key]}"] = entity_id

    def find(self, key: str, unique_id: str | None) -> MqttEntity | None:
        entity_id = self.by_key.get(key) or (self.by_unique_id.get(unique_id) if unique_id else None)
        return self.entities.get(entity_id) if entity_id else None

    def assign_id(self, entity: MqttEntity, fallback: str, taken: set[str]) -> str:
        """`<platform>.<object_id>`; an id already used by another entity gets `_2`, `_3`, ..."""
        for key in (f"unique_id:{entity.unique_id}", f"origin:{entity.origin}"):
            earlier = self.previous.get(key)
            if earlier and earlier not in self.entities and earlier.startswith(entity.platform + "."):
                return earlier
        base = f"{entity.platform}.{entity.suggested_object_id(fallback)}"
        reserved = set(self.previous.values())  # ids earlier entities will come back for
        candidate, n = base, 2
        while candidate in self.entities or candidate in taken or candidate in reserved:
            candidate = f"{base}_{n}"
            n += 1
        return candidate

    def add(self, entity: MqttEntity, key: str | None = None) -> None:
        self.entities[entity.entity_id] = entity
        if key is not None:
            self.by_key[key] = entity.entity_id
        if entity.unique_id:
            self.by_unique_id[entity.unique_id] = entity.entity_id
        self._index(entity)

    def replace(self, old: MqttEntity, new: MqttEntity, key: str | None = None) -> None:
        """Swap in an updated config under the same id, keeping what the broker last said."""
        new.entity_id = old.entity_id
        new.value, new.attributes, new.available = old.value, old.attributes, old.available
        self.remove(old.entity_id)
        self.add(new, key)

    def remove(self, entity_id: str) -> MqttEntity | None:
        entity = self.entities.pop(entity_id, None)
        if entity is None:
            return None
        self.by_key = {k: v for k, v in self.by_key.items() if v != entity_id}
        if entity.unique_id and self.by_unique_id.get(entity.unique_id) == entity_id:
            del self.by_unique_id[entity.unique_id]
        for topic in list(self._exact):
            self._exact[topic] = [(e, r) for e, r in self._exact[topic] if e is not entity]
            if not self._exact[topic]:
                del self._exact[topic]
        self._wild = [(p, e, r) for p, e, r in self._wild if e is not entity]
        return entity

    def _index(self, entity: MqttEntity) -> None:
        for topic, roles in entity.state_topics().items():
            for role in roles:
                if "+" in topic or "#" in topic:
                    self._wild.append((topic, entity, role))
                else:
                    self._exact.setdefault(topic, []).append((entity, role))

    def handlers(self, topic: str) -> list[tuple[MqttEntity, str]]:
        """(entity, role) pairs that a message on `topic` feeds."""
        found = self._exact.get(topic, [])
        if self._wild:
            found = found + [(e, r) for p, e, r in self._wild if matches(p, topic)]
        return found

    def filters(self) -> set[str]:
        """Every topic filter the entities need subscribed."""
        return set(self._exact) | {p for p, _e, _r in self._wild}

    def keys_with_prefix(self, prefix: str) -> list[str]:
        return [k for k in self.by_key if k == prefix or k.startswith(prefix + "#")]

"""Statestream: the hub's state changes published to `<prefix>/<entity_id>/state` for other consumers."""

from __future__ import annotations

import fnmatch
import json
import logging
from typing import TYPE_CHECKING

import aiomqtt

from hub import events as ev

if TYPE_CHECKING:
    from integrations.mqtt.config import StatestreamConfig
    from integrations.mqtt.integration import MqttIntegration

log = logging.getLogger(__name__)


def wanted(cfg: StatestreamConfig, entity_id: str) -> bool:
    return any(fnmatch.fnmatchcase(entity_id, p) for p in cfg.include) and not any(
        fnmatch.fnmatchcase(entity_id, p) for p in cfg.exclude)


async def statestream(integration: MqttIntegration, client: aiomqtt.Client, cfg: StatestreamConfig) -> None:
    """Publish current states once (retained), then every state change, until cancelled."""
    sub = integration.ctx.log.follow(types=(ev.STATE_CHANGED,))
    try:
        for state in integration.ctx.log.current_states():
            if wanted(cfg, state.entity_id):
                await _publish(client, cfg, state.entity_id, state.state, state.attributes)
        async for event in sub:
            entity_id = event.entity_id
            new = event.data.get("new_state")
            if entity_id is None or not wanted(cfg, entity_id):
                continue
            if new is None:
                await client.publish(f"{cfg.prefix}/{entity_id}/state", b"", qos=cfg.qos, retain=cfg.retain)
                continue
            await _publish(client, cfg, entity_id, str(new.get("state")), new.get("attributes") or {})
    finally:
        sub.close()


async def _publish(client: aiomqtt.Client, cfg: StatestreamConfig, entity_id: str, state: str,
                   attributes: dict[str, object]) -> None:
    base = f"{cfg.prefix}/{entity_id}"
    await client.publish(f"{base}/state", state, qos=cfg.qos, retain=cfg.retain)
    if cfg.attributes:
        for name, value in attributes.items():
            await client.publish(f"{base}/{name}", json.dumps(value, default=str), qos=cfg.qos, retain=cfg.retain)

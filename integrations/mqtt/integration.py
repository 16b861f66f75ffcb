"""The MQTT integration: one broker connection, entities (configured and discovered), capture, commands.

Every message becomes facts in the log before it is acknowledged: QoS 1/2 messages
are acknowledged (manual ack) only once the facts they caused are durable, in the
order they arrived, so a crash loses nothing the broker delivered.
"""

from __future__ import annotations

import asyncio
import logging
import socket
import ssl
from collections import deque
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any, ClassVar

import aiomqtt
from aiomqtt.exceptions import MqttCodeError, MqttConnectError
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

from hub import events as ev
from hub.errors import CommandError, InputRejected, StoreError
from hub.events import Event
from hub.integration import Command, Integration, IntegrationContext
from hub.times import now_us, to_iso
from integrations.mqtt import commands, discovery, paho_speed
from integrations.mqtt.config import MqttConfig, entity_from_config
from integrations.mqtt.entities import MqttEntity
from integrations.mqtt.platforms import apply_message, static_attributes
from integrations.mqtt.table import EntityTable
from integrations.mqtt.templates import render_value
from integrations.mqtt.topics import TopicTable, matches

log = logging.getLogger(__name__)

ClientFactory = Callable[..., aiomqtt.Client]
MAX_UNACKED = 5_000            # messages read but not yet durable; the reader waits beyond this
AUTH_CODES = {4, 5, 134, 135}  # CONNACK: bad user name or password, not authorised (v3.1.1 and v5)
SESSION_EXPIRY = 7 * 24 * 3600
RECEIVE_MAXIMUM = 5_000
READ_HIGH, READ_LOW = 2_000, 500  # messages read and not yet taken: reading pauses at HIGH (ReadGate)

paho_speed.install()


class MqttIntegration(Integration):
    """Home Assistant-compatible MQTT: discovery, configured entities, capture, statestream."""

    type: ClassVar[str] = "mqtt"
    config_model: ClassVar[type[MqttConfig]] = MqttConfig  # type: ignore[assignment]

    def __init__(self, config: MqttConfig, ctx: IntegrationContext, *,
                 client_factory: ClientFactory | None = None) -> None:
        super().__init__(config, ctx)
        self.cfg = config
        self.client_factory = client_factory or aiomqtt.Client
        self.table = EntityTable(config.id)
        self.topic_table = TopicTable(config.max_topics)
        self.client: aiomqtt.Client | None = None
        self._subscribed: set[str] = set()
        self._unacked: deque[tuple[asyncio.Future[Any] | None, int, int]] = deque()
        self._unacked_changed = asyncio.Event()
        self._inbox: deque[paho_speed.Publish] = deque()  # read from the broker, not yet taken
        self._inbox_filled = asyncio.Event()
        self._gate: paho_speed.ReadGate | None = None
        self._loaded = False
        self._removed: list[str] = []

    # --- public: the topics projection (MCP `mqtt_topics`) -------------------------

    def topics(self, limit: int = 100, pattern: str | None = None) -> list[dict[str, Any]]:
        """Topics seen since start: count, rate, last payload excerpt, inferred JSON schema."""
        return self.topic_table.query(limit, pattern)

    @property
    def connected(self) -> bool:
        return self.client is not None

    # --- lifecycle -------------------------------------------------------------------

    async def run(self) -> None:
        """Connect, subscribe, ingest until cancelled; reconnect with capped backoff."""
        await self._load_configured()
        delay = 1.0
        while True:
            client = self._make_client()
            try:
                async with client:
                    delay = 1.0
                    await self._session(client)
            except MqttConnectError as exc:
                auth = _code(exc) in AUTH_CODES
                await self._lost(f"{self._where()}: {exc}", "auth_failed" if auth else "unavailable")
                if auth:
                    delay = self.cfg.reconnect_max
            except aiomqtt.MqttError as exc:
                await self._lost(f"{self._where()}: {exc}", "unavailable")
            except ssl.SSLError as exc:
                await self._lost(f"{self._where()}: TLS failed: {exc}", "unavailable")
            log.debug("%s: reconnecting in %.1fs", self.id, delay)
            await asyncio.sleep(delay)
            delay = min(delay * 2, self.cfg.reconnect_max)

    def _where(self) -> str:
        return f"mqtt broker {self.cfg.host}:{self.cfg.port}"

    def _make_client(self) -> aiomqtt.Client:
        cfg = self.cfg
        will = aiomqtt.Will(cfg.status_topic, cfg.payload_offline, qos=1, retain=True) if cfg.status_topic else None
        tls = aiomqtt.TLSParameters(ca_certs=cfg.ca_file) if cfg.tls else None
        props = Properties(PacketTypes.CONNECT)
        props.SessionExpiryInterval = 0 if cfg.clean_session else SESSION_EXPIRY
        # Unacknowledged QoS 1/2 messages the broker may have in flight to us: bounds our memory.
        props.ReceiveMaximum = RECEIVE_MAXIMUM
        client = self.client_factory(
            cfg.host, cfg.port, username=cfg.username,
            password=cfg.password.get_secret_value() if cfg.password else None,
            identifier=cfg.client_id or f"hub-{cfg.id}", protocol=aiomqtt.ProtocolVersion.V5,
            clean_start=cfg.clean_session, properties=props, keepalive=cfg.keepalive, will=will,
            tls_params=tls, timeout=10,
        )
        # aiomqtt 2.5 has no manual-ack option of its own; paho's is what lets us ack once durable.
        client._client.manual_ack_set(True)
        return client

    async def _session(self, client: aiomqtt.Client) -> None:
        self.client = client
        _no_delay(client)
        paho_speed.buffer_reads(client._client)
        paho_speed.write_at_once(client._client)
        self._inbox.clear()
        while not client._queue.empty():  # read by aiomqtt before the gate takes over (a backlog after CONNACK)
            m = client._queue.get_nowait()
            payload = m.payload if isinstance(m.payload, bytes) else str(m.payload or "").encode()
            self._inbox.append((m.topic.value.encode(), payload, m.qos, m.retain, m.mid))
        self._gate = paho_speed.ReadGate(client, self._inbox, self._received, READ_HIGH, READ_LOW)
        failure: BaseException | None = None
        try:
            await self.ctx.status("connected", f"{self.cfg.host}:{self.cfg.port}")
            if self.cfg.status_topic:
                await client.publish(self.cfg.status_topic, self.cfg.payload_online, qos=1, retain=True)
            self._subscribed = set()
            await self._sync_subscriptions()
            await self._restore_states()
            try:
                async with asyncio.TaskGroup() as tg:
                    tg.create_task(self._acknowledge(client))
                    if self.cfg.statestream is not None:
                        from integrations.mqtt.statestream import statestream

                        tg.create_task(statestream(self, client, self.cfg.statestream))
                    await self._read(client, self._gate)
            except* aiomqtt.MqttError as group:
                failure = group.exceptions[0]
            except* StoreError as group:
                failure = aiomqtt.MqttError(f"the event log failed: {group.exceptions[0]}")
        except asyncio.CancelledError:
            if self.cfg.status_topic:
                # A clean disconnect does not fire the will, so say offline ourselves.
                client._client.publish(self.cfg.status_topic, self.cfg.payload_offline, qos=0, retain=True)
            raise
        finally:
            self.client = None
            await self._drop_unacked()
        if failure is not None:
            raise failure

    async def _lost(self, reason: str, status: str) -> None:
        await self.ctx.status(status, reason)
        for entity in list(self.table.entities.values()):
            current = self.ctx.state(entity.entity_id)
            if current is not None and current.state != "unavailable":
                await self.ctx.set_state(entity.entity_id, "unavailable", current.attributes)

    # --- entities --------------------------------------------------------------------

    async def _load_configured(self) -> None:
        if self._loaded:
            return
        self._loaded = True
        self.table.remember(self.ctx.log.registry())
        for index, raw in enumerate(self.cfg.entities):
            entity = entity_from_config(raw, index)
            entity.entity_id = self.table.assign_id(entity, entity.name or "", self._taken())
            self.table.add(entity)
            await self.ctx.register_entity(entity.info())

    def _taken(self) -> set[str]:
        """Entity ids that other integrations own (ours are in the table)."""
        return {eid for eid, entry in self.ctx.log.registry().items()
                if entry.get("integration") != self.id}

    async def _restore_states(self) -> None:
        """After (re)connecting: entities come back with their last values; retained messages follow."""
        for entity in list(self.table.entities.values()):
            current = self.ctx.state(entity.entity_id)
            if entity.value is not None or current is None or current.state == "unavailable":
                state, attrs = self._state_of(entity)
                if current is None or current.state == "unavailable" or entity.value is not None:
                    await self.ctx.set_state(entity.entity_id, state, attrs)

    def _state_of(self, entity: MqttEntity) -> tuple[str, dict[str, Any]]:
        static = entity.static
        if static is None:
            static = entity.static = static_attributes(entity)
        attrs = {**static, **entity.attributes}
        if self.client is None or not entity.is_available():
            return "unavailable", attrs
        return entity.value if entity.value is not None else "unknown", attrs

    async def _sync_subscriptions(self) -> None:
        client = self.client
        if client is None:
            return
        wanted = self.table.filters() | set(self.cfg.capture) | set(self.cfg.observe)
        if self.cfg.discovery:
            wanted.add(f"{self.cfg.discovery_prefix}/#")
        new = sorted(wanted - self._subscribed)
        gone = sorted(self._subscribed - wanted)
        if new:
            qos = {f: (0 if f in self.cfg.observe and f not in self.cfg.capture else self.cfg.qos) for f in new}
            for start in range(0, len(new), 100):
                chunk = new[start:start + 100]
                await client.subscribe([(f, qos[f]) for f in chunk])
            self._subscribed |= set(new)
        if gone:
            await client.unsubscribe(gone)
            self._subscribed -= set(gone)

    # --- ingest ----------------------------------------------------------------------

    def _received(self, topic: bytes, payload: bytes, qos: int, retain: bool, mid: int) -> None:
        self._inbox.append((topic, payload, qos, retain, mid))
        self._inbox_filled.set()

    async def _read(self, client: aiomqtt.Client, gate: paho_speed.ReadGate) -> None:
        """Turn each message read into facts, in order, until the connection is lost."""
        prefix = self.cfg.discovery_prefix + "/"
        inbox, filled = self._inbox, self._inbox_filled
        disconnected = client._disconnected
        disconnected.add_done_callback(lambda _f: filled.set())
        while True:
            while not inbox:
                if disconnected.done():  # what was read before is taken first, as aiomqtt's iterator does
                    raise aiomqtt.MqttError("Disconnected during message iteration") from disconnected.exception()
                filled.clear()
                await filled.wait()
            raw, payload, qos, retain, mid = inbox.popleft()
            gate.taken()
            try:
                topic = raw.decode()
            except UnicodeDecodeError:  # a broker should refuse it; it makes no fact but the rejection
                self._queue_ack(asyncio.ensure_future(self.ctx.reject(
                    f"mqtt:{raw!r}", "topic is not UTF-8", payload)), mid, qos)
                continue
            self.topic_table.seen(topic, payload, retain)
            task: asyncio.Future[Any] | None = None
            if self.cfg.discovery and topic.startswith(prefix):
                where = discovery.parse_topic(self.cfg.discovery_prefix, topic)
                if where is not None:
                    await self._discovered(topic, where, payload)
                    self._queue_ack(None, mid, qos)
                    continue
            work = self._ingest(topic, payload, qos, retain)
            if len(work) == 1 and isinstance(work[0], asyncio.Future):
                task = work[0]
            elif work:
                task = asyncio.ensure_future(_run_all(work))
            self._queue_ack(task, mid, qos)
            if len(self._unacked) >= MAX_UNACKED:
                while len(self._unacked) >= MAX_UNACKED // 2:
                    self._unacked_changed.clear()
                    await self._unacked_changed.wait()

    def _queue_ack(self, task: asyncio.Future[Any] | None, mid: int, qos: int) -> None:
        if task is None and qos == 0:
            return
        self._unacked.append((task, mid, qos))
        self._unacked_changed.set()

    async def _acknowledge(self, client: aiomqtt.Client) -> None:
        """Acknowledge messages in arrival order, each once its facts are durable."""
        paho = client._client
        queue = self._unacked
        durable: list[tuple[int, int]] = []
        while True:
            while not queue:
                self._unacked_changed.clear()
                await self._unacked_changed.wait()
            task = queue[0][0]
            if task is not None and not task.done():
                await task
            # Everything durable at the head of the queue (one commit's worth, under load) in one write.
            try:
                while queue and ((task := queue[0][0]) is None or task.done()):
                    if task is not None:
                        task.result()  # its failure, as awaiting it raises it
                    _task, mid, qos = queue.popleft()
                    if qos:
                        durable.append((mid, qos))
            finally:
                if durable:
                    paho_speed.ack_in_order(paho, durable)
                    durable.clear()
            if len(queue) < MAX_UNACKED // 2:
                self._unacked_changed.set()

    async def _drop_unacked(self) -> None:
        """Wait out facts already on their way to the log; their messages stay unacknowledged."""
        tasks = [t for t, _m, _q in self._unacked if t is not None and not t.done()]
        self._unacked.clear()
        for task in tasks:
            task.cancel()
        if tasks:
            await asyncio.gather(*tasks, return_exceptions=True)

    def _ingest(self, topic: str, payload: bytes, qos: int, retain: bool) -> list[Awaitable[Any]]:
        """The facts one message causes, as coroutines to run in order (nothing if none)."""
        handlers = self.table.handlers(topic)
        capture = any(matches(p, topic) for p in self.cfg.capture) if self.cfg.capture else False
        if not handlers and not capture:
            return []
        origin = f"mqtt:{topic}"
        if len(payload) > self.cfg.max_payload:
            return [self.ctx.reject(origin, f"payload of {len(payload)} bytes exceeds max_payload "
                                            f"({self.cfg.max_payload} bytes)", payload)]
        try:
            text = payload.decode("utf-8")
        except UnicodeDecodeError as exc:
            return [self.ctx.reject(origin, f"payload is not UTF-8 ({exc.reason} at byte {exc.start})", payload)]
        work: list[Awaitable[Any]] = []
        for entity, role in handlers:
            try:
                if role.startswith("availability:"):
                    self._availability(entity, int(role.split(":", 1)[1]), text)
                    fired = None
                else:
                    fired = apply_message(entity, role, text)
            except InputRejected as exc:
                work.append(self.ctx.reject(origin, str(exc), payload))
                continue
            if fired is not None:
                event_type, data = fired
                work.append(self.ctx.device_event(entity.entity_id, event_type, data))
                entity.value = to_iso(now_us())
                entity.attributes["event_type"] = event_type
            state, attrs = self._state_of(entity)
            force = bool(entity.config.get("force_update"))
            # The usual message, one state and nothing before it, is queued at once and costs no task;
            # after other facts it waits its turn, so the log keeps the order of a message's facts.
            soon = None if work else self.ctx.set_state_soon(entity.entity_id, state, attrs, force_update=force)
            work.append(soon if soon is not None else
                        self.ctx.set_state(entity.entity_id, state, attrs, force_update=force))
        if capture:
            work.append(self.ctx.append(Event(ev.MQTT_MESSAGE, self.id, None, {
                "topic": topic, "payload": text, "qos": qos, "retain": retain})))
        return work

    def _availability(self, entity: MqttEntity, index: int, text: str) -> None:
        spec = entity.availability[index]
        value = render_value(spec.value_template, None, text)
        if value == spec.payload_available:
            up = True
        elif value == spec.payload_not_available:
            up = False
        else:
            raise InputRejected(f"{entity.entity_id}: availability payload {value!r} is neither "
                                f"{spec.payload_available!r} nor {spec.payload_not_available!r}")
        entity.available[spec.topic] = up
        entity.available["__latest__"] = up

    # --- discovery -------------------------------------------------------------------

    async def _discovered(self, topic: str, where: discovery.DiscoveryTopic, payload: bytes) -> None:
        origin = f"mqtt:{topic}"
        if not payload:
            for key in self.table.keys_with_prefix(topic):
                await self._remove(self.table.by_key[key])
            return
        if len(payload) > self.cfg.max_payload:
            await self.ctx.reject(origin, f"discovery payload of {len(payload)} bytes exceeds max_payload", payload)
            return
        try:
            found = discovery.parse_message(topic, where, payload)
        except InputRejected as exc:
            await self.ctx.reject(origin, str(exc), payload)
            return
        keys = {key for key, _e in found}
        for stale in self.table.keys_with_prefix(topic):
            if stale not in keys:
                await self._remove(self.table.by_key[stale])
        self._removed = []
        changed = [(entity, existed) for key, entity in found
                   if (existed := self._upsert(key, entity, where)) is not None]
        # Subscribe before registering, so an entity in the registry already hears its topics.
        await self._sync_subscriptions()
        for entity_id in self._removed:
            await self.ctx.remove_entity(entity_id)
        for entity, existed in changed:
            await self.ctx.register_entity(entity.info())
            current = self.ctx.state(entity.entity_id)
            if current is None or entity.value is not None or existed:
                state, attrs = self._state_of(entity)
                await self.ctx.set_state(entity.entity_id, state, attrs)

    def _upsert(self, key: str, entity: MqttEntity, where: discovery.DiscoveryTopic) -> bool | None:
        """Put a discovered entity in the table; None if nothing changed, else whether it existed."""
        existing = self.table.find(key, entity.unique_id)
        if existing is not None and existing.platform == entity.platform:
            if existing.config == entity.config and existing.device == entity.device \
                    and existing.availability == entity.availability:
                return None  # the same retained config again (a reconnect): nothing changes
            self.table.replace(existing, entity, key)
            return True
        if existing is not None:
            self.table.remove(existing.entity_id)
            self._removed.append(existing.entity_id)
        entity.entity_id = self.table.assign_id(entity, where.fallback_name, self._taken())
        self.table.add(entity, key)
        return False

    async def _remove(self, entity_id: str) -> None:
        if self.table.remove(entity_id) is not None:
            await self.ctx.remove_entity(entity_id)
            await self._sync_subscriptions()

    # --- commands --------------------------------------------------------------------

    async def handle_command(self, command: Command) -> dict[str, Any] | None:
        if command.command in ("mqtt.publish", "publish") and (command.entity_id is None
                                                               or command.command == "mqtt.publish"):
            return await self._raw_publish(command.data)
        entity = self.table.entities.get(command.entity_id or "")
        if entity is None:
            raise CommandError(f"{command.entity_id or self.id}: not an entity of mqtt integration {self.id}")
        current = self.ctx.state(entity.entity_id)
        plan = commands.plan(entity, command.command, command.data, current.state if current else None)
        client = self._connected_client()
        for topic, payload in plan.publishes:
            await self._publish(client, topic, payload, entity.qos, entity.retain)
        if entity.optimistic and (plan.state is not None or plan.attributes):
            if plan.state is not None:
                entity.value = plan.state
            entity.attributes.update(plan.attributes)
            state, attrs = self._state_of(entity)
            await self.ctx.set_state(entity.entity_id, state, attrs)
        return {"published": [{"topic": t, "payload": p} for t, p in plan.publishes]}

    async def _raw_publish(self, data: dict[str, Any]) -> dict[str, Any]:
        topic = data.get("topic")
        if not isinstance(topic, str) or not topic or "+" in topic or "#" in topic:
            raise CommandError(f"mqtt.publish needs `topic`, a topic without wildcards (got {topic!r})")
        payload = data.get("payload", "")
        if isinstance(payload, (dict, list)):
            import json

            payload = json.dumps(payload, separators=(",", ":"))
        elif isinstance(payload, bool) or not isinstance(payload, (str, int, float)):
            payload = "" if payload is None else str(payload)
        payload = str(payload)
        try:
            qos = int(data.get("qos", 0))
        except (TypeError, ValueError):
            raise CommandError(f"mqtt.publish: qos must be 0, 1 or 2, not {data.get('qos')!r}") from None
        if qos not in (0, 1, 2):
            raise CommandError(f"mqtt.publish: qos must be 0, 1 or 2, not {qos}")
        retain = data.get("retain", False)
        if isinstance(retain, str):
            retain = retain.lower() in ("1", "true", "yes", "on")
        if len(payload.encode()) > self.cfg.max_payload:
            raise CommandError(f"mqtt.publish: payload exceeds max_payload ({self.cfg.max_payload} bytes)")
        await self._publish(self._connected_client(), topic, payload, qos, bool(retain))
        return {"topic": topic, "qos": qos, "retain": bool(retain)}

    def _connected_client(self) -> aiomqtt.Client:
        if self.client is None:
            raise CommandError(f"mqtt: not connected to {self._where()}")
        return self.client

    async def _publish(self, client: aiomqtt.Client, topic: str, payload: str, qos: int, retain: bool) -> None:
        try:
            await client.publish(topic, payload, qos=qos, retain=retain)
        except aiomqtt.MqttError as exc:
            raise CommandError(f"mqtt: publish to {topic!r} on {self._where()} failed: {exc}") from None


async def _run_all(work: list[Awaitable[Any]]) -> None:
    index = 0
    try:
        for index, step in enumerate(work):  # noqa: B007 (index is read in finally)
            await step
    finally:
        for step in work[index + 1:]:
            if isinstance(step, Coroutine):
                step.close()  # cancelled part-way: the rest never starts


def _code(exc: MqttCodeError) -> int | None:
    rc = exc.rc
    if rc is None:
        return None
    return int(rc.value) if hasattr(rc, "value") else int(rc)



def _no_delay(client: aiomqtt.Client) -> None:
    """Send small packets at once. With Nagle's algorithm on, a publish that follows our PUBACK
    waits for the broker's delayed TCP ack: 40 ms added to every motion-to-light round trip."""
    sock = client._client.socket()
    if sock is not None and getattr(sock, "family", None) in (socket.AF_INET, socket.AF_INET6):
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

"""RingIntegration: Ring doorbells, cameras, chimes and intercoms through ring-doorbell.

Start: sign in with the stored token, read the devices (registering their entities),
their health, and backfill recent history; then push (RingEventListener) and polling
run side by side. Polling backs off on HTTP 429/5xx; a refused token ends the run with
`auth_failed` and the advice to run `hub ring login`.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import aiohttp
from ring_doorbell import Auth, Ring, RingError
from ring_doorbell.const import DEVICES_ENDPOINT, RingCapability

from hub.errors import AuthFailed, CommandError, HubError, InputRejected, UserError
from hub.integration import Command, Integration, IntegrationContext
from hub.times import now_us, parse_time_us, to_iso
from integrations.ring.activity import (
    IGNORED_KINDS,
    Activity,
    from_active,
    from_history,
    from_push,
    parse_time,
    safe_excerpt,
)
from integrations.ring.commands import DEVICE_COMMANDS, accepted, entity_action
from integrations.ring.config import RingConfig
from integrations.ring.devices import KNOWN_FAMILIES, RingDevice, library_device, slugify, validate_devices
from integrations.ring.entities import EVENT_ROLES, POLLED, entity_specs, polled_state
from integrations.ring.errors import LOGIN_ADVICE, RingHttpError, RingUnavailable, translate
from integrations.ring.push import ListenerFactory, PushFeed, default_listener
from integrations.ring.token import StoredToken, TokenFile

log = logging.getLogger(__name__)

T = TypeVar("T")
# What ring-doorbell raises when a response has an unexpected shape (it indexes JSON directly).
SHAPE_ERRORS = (KeyError, TypeError, AttributeError, ValueError, IndexError)


class RingIntegration(Integration):
    """One Ring account."""

    type = "ring"
    config_model = RingConfig
    config: RingConfig

    def __init__(self, config: RingConfig, ctx: IntegrationContext, *,
                 session: aiohttp.ClientSession | None = None,
                 listener_factory: ListenerFactory = default_listener,
                 sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
                 clock: Callable[[], int] = now_us) -> None:
        super().__init__(config, ctx)
        self.tokens = TokenFile(config.token_path(getattr(ctx.hub_config, "base_dir", None)))
        self._session = session
        self._listener_factory = listener_factory
        self._sleep = sleep
        self._clock = clock
        self.ring: Ring | None = None
        self.stored: StoredToken | None = None
        self.push: PushFeed | None = None
        self.devices: dict[int, RingDevice] = {}
        self.entities: dict[str, tuple[int, str]] = {}
        self._secrets: set[str] = set()
        self._rejected_once: set[str] = set()
        self._camera_stale: set[int] = set()
        self._devices_stale = False
        # A device-list poll in flight while a command runs would report the state from before
        # the command; polls of the device list and commands take turns.
        self._device_lock = asyncio.Lock()

    # --- lifecycle ---------------------------------------------------------------

    async def run(self) -> None:
        try:
            self.stored = stored = self.tokens.load()
        except AuthFailed as exc:
            await self.ctx.status("auth_failed", str(exc))
            raise
        self._secrets.update(stored.secrets)
        async with contextlib.AsyncExitStack() as stack:
            session = self._session
            if session is None:
                session = await stack.enter_async_context(aiohttp.ClientSession())
            auth = Auth(self.config.user_agent, stored.token, self._token_updated,
                        hardware_id=stored.hardware_id, http_client_session=session)
            self.ring = ring = Ring(auth)
            for dev in self.devices.values():  # a restart: bind known devices to the new client
                dev.lib = library_device(ring, dev.family, dev.api_id, dev.kind)
            await self._call("signing in", ring.async_create_session)
            await self._refresh_devices()
            await self._refresh_health()
            await self._backfill()
            if self.config.push:
                self.push = PushFeed(ring, stored.push_credentials, self._push_credentials_updated,
                                     self._listener_factory)
                stack.push_async_callback(self.push.stop)
                await self._start_push()
            await self.ctx.status("connected", self._summary())
            try:
                async with asyncio.TaskGroup() as tg:
                    tg.create_task(self._poll_loop())
                    if self.push is not None:
                        tg.create_task(self._drain_push(self.push))
            except ExceptionGroup as group:
                # The supervisor retries by error type: hand it the hub error, not the group.
                hub_errors = [e for e in group.exceptions if isinstance(e, HubError)]
                if len(hub_errors) != len(group.exceptions):
                    raise
                raise next((e for e in hub_errors if isinstance(e, AuthFailed)), hub_errors[0]) from None

    def _summary(self) -> str:
        push = "off" if self.push is None else ("on" if self.push.running else f"unavailable ({self.push.error})")
        return f"{len(self.devices)} devices, push {push}"

    async def _start_push(self) -> None:
        assert self.push is not None
        if await self.push.start():
            log.info("%s: push listener started", self.id)
        else:
            log.warning("%s: push unavailable (%s); dings and motion come from polling every %gs",
                        self.id, self.push.error, self.config.poll_interval)

    # --- tokens ------------------------------------------------------------------

    def _token_updated(self, token: dict[str, Any]) -> None:
        """ring-doorbell's token_updater: store every refreshed token at once (0600)."""
        if self.stored is None:
            return
        self.stored.token = token
        self._secrets.update(self.stored.secrets)
        try:
            self.tokens.save(self.stored)
        except AuthFailed as exc:
            log.error("%s: the refreshed token could not be stored: %s", self.id, exc)
        else:
            log.info("%s: token refreshed and stored in %s", self.id, self.tokens.path)

    def _push_credentials_updated(self, credentials: dict[str, Any]) -> None:
        if self.stored is None:
            return
        self.stored.push_credentials = credentials
        try:
            self.tokens.save(self.stored)
        except AuthFailed as exc:
            log.error("%s: the push credentials could not be stored: %s", self.id, exc)

    # --- calling ring-doorbell ---------------------------------------------------

    async def _call(self, what: str, fn: Callable[[], Awaitable[T]]) -> T:
        """Run one ring-doorbell call; errors become the hub's. A 401 is retried once, because
        ring-doorbell refreshes the token on a 401 but still fails that request."""
        for attempt in (1, 2):
            try:
                return await fn()
            except RingError as exc:
                err = translate(exc, what, self._secrets)
            if isinstance(err, RingHttpError) and err.status == 401 and attempt == 1:
                continue
            if isinstance(err, RingHttpError) and err.status == 401:
                err = AuthFailed(f"ring: {what}: Ring refused the token even after refreshing it (HTTP 401); "
                                 f"{LOGIN_ADVICE}")
            if isinstance(err, AuthFailed):
                await self.ctx.status("auth_failed", str(err))
            raise err from None
        raise AssertionError("unreachable")

    async def _reject_once(self, origin: str, reason: str, payload: object) -> None:
        """Record bad input once per run (the same bad entry comes back on every poll)."""
        if reason in self._rejected_once:
            return
        self._rejected_once.add(reason)
        await self.ctx.reject(origin, reason, safe_excerpt(payload))

    # --- devices -----------------------------------------------------------------

    async def _refresh_devices(self) -> None:
        async with self._device_lock:
            await self._refresh_devices_locked()

    async def _refresh_devices_locked(self) -> None:
        ring = self.ring
        assert ring is not None
        resp = await self._call("reading the device list", lambda: ring.async_query(DEVICES_ENDPOINT))
        try:
            payload = resp.json()
        except ValueError:
            await self._reject_once("ring_devices", "the device list is not JSON", resp.content[:1024])
            raise RingUnavailable("ring: the device list from the Ring cloud is not JSON") from None
        data, problems = validate_devices(payload)
        for problem in problems:
            await self._reject_once(f"ring_devices/{problem.family}", problem.reason, problem.entry)
        ring.devices_data = data
        seen: set[int] = set()
        for family in sorted(data, key=lambda f: (KNOWN_FAMILIES.index(f) if f in KNOWN_FAMILIES else 99, f)):
            for api_id in sorted(data[family]):
                if api_id in seen:
                    continue  # the same id in two families: the first one wins
                seen.add(api_id)
                await self._update_device(family, api_id, data[family][api_id])
        for api_id, dev in list(self.devices.items()):
            if api_id not in seen:
                log.warning("%s: %s is no longer in the Ring account", self.id, dev.name)
                for entity_id, (owner, _role) in self.entities.items():
                    if owner == api_id:
                        await self.ctx.set_state(entity_id, "unavailable", {"friendly_name": dev.name})
                del self.devices[api_id]
        self._devices_stale = False

    async def _update_device(self, family: str, api_id: int, attrs: dict[str, Any]) -> None:
        assert self.ring is not None
        dev = self.devices.get(api_id)
        if dev is None or dev.family != family or dev.kind != attrs.get("kind"):
            lib = library_device(self.ring, family, api_id, str(attrs.get("kind")))
            dev = RingDevice(api_id, family, attrs, lib, self._slug_for(api_id, str(attrs["description"])))
            self.devices[api_id] = dev
            if lib is None:
                log.info("%s: %s is a %s/%s, which ring-doorbell does not model; it gets generic sensors",
                         self.id, dev.name, family, dev.kind)
        else:
            dev.attrs = attrs
        for spec in entity_specs(dev, self.id):
            self.entities[spec.entity_id] = (api_id, spec.role)
            await self.ctx.register_entity(spec.info)
            await self._report(dev, spec.entity_id, spec.role)

    def _slug_for(self, api_id: int, name: str) -> str:
        existing = self.devices.get(api_id)
        if existing is not None:
            return existing.slug
        slug = slugify(name)
        taken = {d.slug for d in self.devices.values() if d.api_id != api_id}
        return f"{slug}_{api_id}" if slug in taken else slug

    async def _report(self, dev: RingDevice, entity_id: str, role: str) -> None:
        if role in POLLED:
            state, attrs = polled_state(dev, role)
            await self.ctx.set_state(entity_id, state, attrs)
        else:
            current = self.ctx.state(entity_id)
            if current is None or current.state == "unavailable":
                first = "idle" if role == "camera" else "unknown"
                await self.ctx.set_state(entity_id, first, {"friendly_name": dev.name})

    async def _report_device(self, dev: RingDevice) -> None:
        for entity_id, (api_id, role) in self.entities.items():
            if api_id == dev.api_id and role in POLLED:
                await self._report(dev, entity_id, role)

    def _entity(self, api_id: int, role: str) -> str | None:
        for entity_id, (owner, r) in self.entities.items():
            if owner == api_id and r == role:
                return entity_id
        return None

    async def _refresh_health(self) -> None:
        for dev in list(self.devices.values()):
            lib = dev.lib
            if lib is None:
                continue
            try:
                await self._call(f"reading the health of {dev.name}", lib.async_update_health_data)
            except RingHttpError as exc:
                if exc.throttled_or_down:
                    raise
                log.info("%s: no health data for %s: %s", self.id, dev.name, exc)
                continue
            except SHAPE_ERRORS as exc:
                await self._reject_once(f"health/{dev.api_id}", f"health of {dev.name} has an unexpected "
                                        f"shape ({type(exc).__name__}: {exc})", None)
                continue
            dev.health = {"wifi_name": lib.wifi_name, "latest_signal_strength": lib.wifi_signal_strength,
                          "latest_signal_category": lib.wifi_signal_category}
            await self._report_device(dev)

    # --- dings, motion, history ----------------------------------------------------

    async def _history(self, dev: RingDevice, limit: int) -> list[Any]:
        lib = dev.lib
        if lib is None or limit <= 0 or not dev.has(RingCapability.HISTORY):
            return []
        try:
            entries = await self._call(f"reading the history of {dev.name}",
                                       lambda: lib.async_history(limit=limit, convert_timezone=False))
        except SHAPE_ERRORS as exc:
            await self._reject_once(f"history/{dev.api_id}", f"history of {dev.name} has an unexpected shape "
                                    f"({type(exc).__name__})", None)
            return []
        if not isinstance(entries, list):
            await self._reject_once(f"history/{dev.api_id}", f"history of {dev.name} is not a list", entries)
            return []
        return entries

    async def _backfill(self) -> None:
        """Append every recent ding and motion not in the log yet (idempotent by Ring's event id)."""
        for dev in list(self.devices.values()):
            entries = await self._history(dev, self.config.history_limit)
            for entry in reversed(entries):  # oldest first, so the event entity ends on the latest
                if isinstance(entry, dict) and entry.get("kind") in IGNORED_KINDS:
                    continue
                try:
                    activity = from_history(entry, dev.api_id)
                except InputRejected as exc:
                    await self._reject_once(f"history/{dev.api_id}", str(exc), entry)
                    continue
                await self.record(activity)
            await self._update_camera(dev, entries)

    async def record(self, activity: Activity) -> None:
        """Append a ding, motion or unlock as a device_event (once per Ring event id)."""
        dev = self.devices.get(activity.device_api_id)
        entity = self._entity(activity.device_api_id, EVENT_ROLES[activity.kind]) if dev else None
        if dev is None:
            self._devices_stale = True
        at, timing = activity.timing(self._clock())
        data: dict[str, Any] = {"device": dev.name if dev else None, "ring_device_id": activity.device_api_id,
                                "ring_event_id": activity.ring_id, "via": activity.via, **timing}
        if activity.subtype:
            data["state"] = activity.subtype
        if activity.answered is not None:
            data["answered"] = activity.answered
        await self.ctx.device_event(entity, activity.kind, data, event_id=activity.event_id, time=at)
        if entity is None or dev is None:
            return
        current = self.ctx.state(entity)
        try:
            shown = parse_time_us(current.state) if current and current.state not in ("unknown", "unavailable") \
                else None
        except UserError:
            shown = None
        if shown is None or at > shown:
            await self.ctx.set_state(entity, to_iso(at), {"friendly_name": dev.name, "event_type": activity.kind,
                                                          "ring_event_id": activity.ring_id})
        if activity.kind in ("ding", "motion") and dev.has(RingCapability.VIDEO):
            self._camera_stale.add(dev.api_id)

    async def _update_camera(self, dev: RingDevice, entries: list[Any]) -> None:
        """The camera entity carries the latest recording (its URL is signed and expires)."""
        entity = self._entity(dev.api_id, "camera")
        latest = next((e for e in entries if isinstance(e, dict) and e.get("id") is not None), None)
        if entity is None or latest is None:
            return
        recording = latest.get("recording") if isinstance(latest.get("recording"), dict) else {}
        created = parse_time(latest.get("created_at"))
        attrs: dict[str, Any] = {"friendly_name": dev.name, "last_recording_id": latest.get("id"),
                                 "last_event_kind": latest.get("kind"), "recording_status": recording.get("status"),
                                 "last_event_at": to_iso(created) if created is not None else None}
        lib = dev.lib
        if dev.has_subscription and recording.get("status") == "ready" and lib is not None \
                and hasattr(lib, "async_recording_url"):
            try:
                attrs["last_recording_url"] = await self._call(
                    f"reading the recording URL of {dev.name}", lambda: lib.async_recording_url(latest["id"]))
            except RingHttpError as exc:
                if exc.throttled_or_down:
                    raise
                log.info("%s: no recording URL for %s: %s", self.id, dev.name, exc)
            except SHAPE_ERRORS:
                await self._reject_once(f"recording/{dev.api_id}", "recording URL answer without a url", None)
        await self.ctx.set_state(entity, "idle", attrs)

    # --- polling -------------------------------------------------------------------

    async def _poll_loop(self) -> None:
        failures = 0
        health_due = time.monotonic() + self.config.health_interval
        while True:
            delay = self.config.poll_interval
            try:
                await self._poll_once(health=time.monotonic() >= health_due)
                if time.monotonic() >= health_due:
                    health_due = time.monotonic() + self.config.health_interval
                if failures:
                    log.info("%s: the Ring cloud answers again after %d failed polls", self.id, failures)
                    failures = 0
                    await self.ctx.status("connected", self._summary())
            except RingUnavailable as exc:
                failures += 1
                delay = self._backoff(failures, exc)
                if failures == 1:
                    log.warning("%s: %s; backing off", self.id, exc)
                await self.ctx.status("unavailable", str(exc))
            await self._sleep(delay)

    def _backoff(self, failures: int, exc: RingUnavailable) -> float:
        """Capped exponential backoff from the poll interval; honours Retry-After."""
        delay = min(self.config.poll_interval * 2 ** failures, self.config.max_backoff)
        if isinstance(exc, RingHttpError) and exc.retry_after is not None:
            delay = min(max(delay, exc.retry_after), self.config.max_backoff)
        return delay

    async def _poll_once(self, *, health: bool) -> None:
        ring = self.ring
        assert ring is not None
        await self._refresh_devices()
        await self._call("reading active dings", ring.async_update_dings)
        active = ring.dings_data
        if not isinstance(active, list):
            await self._reject_once("dings/active", "active dings are not a list", active)
            active = []
        for entry in active:
            if isinstance(entry, dict) and entry.get("kind") in IGNORED_KINDS:
                continue
            try:
                activity = from_active(entry)
            except InputRejected as exc:
                await self._reject_once("dings/active", str(exc), entry)
                continue
            await self.record(activity)
        if health:
            await self._refresh_health()
            self._camera_stale.update(d.api_id for d in self.devices.values() if d.has(RingCapability.VIDEO))
            if self.push is not None and not self.push.running:
                await self._start_push()
        for api_id in sorted(self._camera_stale):
            dev = self.devices.get(api_id)
            if dev is not None:
                await self._update_camera(dev, await self._history(dev, 1))
            self._camera_stale.discard(api_id)

    # --- push ----------------------------------------------------------------------

    async def _drain_push(self, feed: PushFeed) -> None:
        async for event in feed.events():
            if event.kind in IGNORED_KINDS:
                log.debug("%s: ignoring push of kind %s", self.id, event.kind)
                continue
            try:
                activity = from_push(event)
            except InputRejected as exc:
                await self.ctx.reject("push", str(exc), safe_excerpt(event))
                continue
            await self.record(activity)

    # --- commands ------------------------------------------------------------------

    async def handle_command(self, command: Command) -> dict[str, Any] | None:
        if self.ring is None:
            raise CommandError("ring: not signed in yet")
        name = command.command
        if name not in DEVICE_COMMANDS and f"ring.{name}" in DEVICE_COMMANDS:
            # The core strips `ring.` when the instance id is `ring` (`hub send ring ring.siren_on`).
            name = f"ring.{name}"
        if command.entity_id is None:
            action = DEVICE_COMMANDS.get(name)
            if action is None:
                raise CommandError(f"ring: unknown command {command.command!r} for the integration "
                                   f"(known: {', '.join(sorted(DEVICE_COMMANDS))})")
            dev = self._find_device(command.data.get("device"))
        else:
            owner = self.entities.get(command.entity_id)
            if owner is None or owner[0] not in self.devices:
                raise CommandError(f"ring: {command.entity_id} is not a current Ring entity")
            dev = self.devices[owner[0]]
            found = entity_action(dev, owner[1], name)
            if found is None:
                raise CommandError(f"{command.entity_id} does not accept {command.command!r} "
                                   f"(it accepts {', '.join(accepted(owner[1]))})")
            action = found
        async with self._device_lock:
            try:
                result = await action(dev, command.data)
            except RingError as exc:
                raise translate(exc, f"{command.command} on {dev.name}", self._secrets) from None
            await self._report_device(dev)
        return result

    def _find_device(self, ref: object) -> RingDevice:
        if ref is None or ref == "":
            raise CommandError("ring: a command sent to the integration needs `device` (its name or Ring id)")
        text = str(ref).strip()
        for dev in self.devices.values():
            if text in (str(dev.api_id), dev.name, dev.slug) or slugify(text) == dev.slug:
                return dev
        names = ", ".join(sorted(d.name for d in self.devices.values()))
        raise CommandError(f"ring: no device {text!r} (devices: {names})")


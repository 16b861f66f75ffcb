"""A fake Ring cloud on loopback: TLS with a test CA, Ring's hostnames and endpoints, and
Ring's JSON shapes (fixtures/), so ring-doorbell runs unchanged above aiohttp.

The client side is an aiohttp session whose resolver maps Ring's hostnames to the fake
server's port and whose TLS context trusts the test CA: nothing in ring-doorbell is patched.
"""

from __future__ import annotations

import copy
import datetime as dt
import ipaddress
import json
import secrets
import socket
import ssl
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
from aiohttp import web
from aiohttp.abc import AbstractResolver, ResolveResult
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

FIXTURES = Path(__file__).parent / "fixtures"
RING_HOSTS = ("oauth.ring.com", "api.ring.com", "app.ring.com", "prd-api-us.prd.rings.solutions")


def load_fixture(name: str) -> Any:
    return json.loads((FIXTURES / name).read_text())


@dataclass
class Certs:
    ca_pem: bytes
    cert_pem: bytes
    key_pem: bytes

    def server_context(self) -> ssl.SSLContext:
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        with tempfile.TemporaryDirectory() as tmp:
            cert, key = Path(tmp) / "cert.pem", Path(tmp) / "key.pem"
            cert.write_bytes(self.cert_pem + self.ca_pem)
            key.write_bytes(self.key_pem)
            ctx.load_cert_chain(cert, key)
        return ctx

    def client_context(self) -> ssl.SSLContext:
        ctx = ssl.create_default_context(cadata=self.ca_pem.decode())
        return ctx


def make_certs() -> Certs:
    """A test CA and a leaf certificate for Ring's hostnames."""
    now = dt.datetime.now(dt.timezone.utc)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "hub test CA")])
    ca = (x509.CertificateBuilder().subject_name(ca_name).issuer_name(ca_name).public_key(ca_key.public_key())
          .serial_number(x509.random_serial_number()).not_valid_before(now - dt.timedelta(days=1))
          .not_valid_after(now + dt.timedelta(days=2))
          .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
          .add_extension(x509.KeyUsage(digital_signature=True, key_cert_sign=True, crl_sign=True,
                                       content_commitment=False, key_encipherment=False, data_encipherment=False,
                                       key_agreement=False, encipher_only=False, decipher_only=False), critical=True)
          .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), critical=False)
          .sign(ca_key, hashes.SHA256()))
    key = ec.generate_private_key(ec.SECP256R1())
    leaf = (x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "api.ring.com")]))
            .issuer_name(ca_name).public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(days=1)).not_valid_after(now + dt.timedelta(days=2))
            .add_extension(x509.SubjectAlternativeName(
                [x509.DNSName(h) for h in RING_HOSTS] + [x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
                critical=False)
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(x509.ExtendedKeyUsage([x509.oid.ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
            .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False)
            .sign(ca_key, hashes.SHA256()))
    pem = serialization.Encoding.PEM
    return Certs(ca.public_bytes(pem), leaf.public_bytes(pem),
                 key.private_bytes(pem, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()))


class LoopbackResolver(AbstractResolver):
    """Resolves Ring's hostnames to the fake cloud; refuses every other name (no real network)."""

    def __init__(self, port: int) -> None:
        self.port = port

    async def resolve(self, host: str, port: int = 0,
                      family: socket.AddressFamily = socket.AF_INET) -> list[ResolveResult]:
        if host not in RING_HOSTS:
            raise OSError(f"the fake Ring cloud does not serve {host}")
        return [ResolveResult(hostname=host, host="127.0.0.1", port=self.port, family=socket.AF_INET,
                              proto=0, flags=socket.AI_NUMERICHOST)]

    async def close(self) -> None:
        return None


@dataclass
class Fault:
    method: str
    path_prefix: str
    status: int
    times: int
    headers: dict[str, str] = field(default_factory=dict)


@dataclass
class Seen:
    method: str
    host: str
    path: str
    query: dict[str, str]
    authorization: str | None
    body: str
    hardware_id: str | None = None


class FakeRingCloud:
    """Ring's OAuth and clients_api endpoints with mutable device state and injectable faults."""

    def __init__(self) -> None:
        self.certs = make_certs()
        self.accounts: dict[str, dict[str, Any]] = {
            "ann@example.com": {"password": "correct horse", "otp": None},
            "bob@example.com": {"password": "battery staple", "otp": "123456"},
        }
        self.devices: Any = load_fixture("ring_devices.json")
        self.health: dict[str, Any] = load_fixture("health.json")
        self.history: dict[str, list[Any]] = load_fixture("history.json")
        self.active_dings: Any = []
        self.access_tokens: set[str] = set()
        self.refresh_tokens: dict[str, str] = {}
        self.refresh_refused = False
        self.faults: list[Fault] = []
        self.seen: list[Seen] = []
        self.devices_text: str | None = None  # raw body for ring_devices (bad-input tests)
        self.port = 0
        self._runner: web.AppRunner | None = None

    # --- control -----------------------------------------------------------------

    def issue_token(self, account: str = "ann@example.com", *, expires_in: int = 3600) -> dict[str, Any]:
        access, refresh = "AT-" + secrets.token_urlsafe(24), "RT-" + secrets.token_urlsafe(24)
        self.access_tokens.add(access)
        self.refresh_tokens[refresh] = account
        return {"access_token": access, "token_type": "bearer", "expires_in": expires_in,
                "refresh_token": refresh, "scope": "client", "created_at": int(dt.datetime.now().timestamp())}

    def revoke_all(self) -> None:
        self.access_tokens.clear()
        self.refresh_tokens.clear()

    def fail(self, method: str, path_prefix: str, status: int, times: int = 1, **headers: str) -> None:
        self.faults.append(Fault(method, path_prefix, status, times, dict(headers)))

    def requests(self, method: str, path_prefix: str) -> list[Seen]:
        return [s for s in self.seen if s.method == method and s.path.startswith(path_prefix)]

    def device(self, api_id: int) -> dict[str, Any]:
        for entries in self.devices.values():
            for entry in entries:
                if isinstance(entry, dict) and entry.get("id") == api_id:
                    return entry  # type: ignore[no-any-return]
        raise KeyError(api_id)

    # --- server ----------------------------------------------------------------------

    async def start(self) -> None:
        app = web.Application(middlewares=[self._middleware])
        r = app.router
        r.add_post("/oauth/token", self._oauth)
        r.add_post("/clients_api/session", self._session)
        r.add_get("/clients_api/ring_devices", self._ring_devices)
        r.add_get("/clients_api/dings/active", self._active)
        r.add_get("/clients_api/doorbots/{id}/health", self._health)
        r.add_get("/clients_api/chimes/{id}/health", self._health)
        r.add_get("/clients_api/doorbots/{id}/history", self._history)
        r.add_get("/clients_api/dings/{id}/share/play", self._share_play)
        r.add_put("/clients_api/doorbots/{id}/floodlight_light_{state}", self._light)
        r.add_put("/clients_api/doorbots/{id}/siren_{state}", self._siren)
        r.add_put("/clients_api/doorbots/{id}", self._doorbot_put)
        r.add_put("/clients_api/chimes/{id}", self._chime_put)
        r.add_post("/clients_api/chimes/{id}/play_sound", self._play_sound)
        r.add_patch("/devices/v1/devices/{id}/settings", self._settings)
        r.add_patch("/clients_api/device", self._subscribe)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0, ssl_context=self.certs.server_context())
        await site.start()
        self.port = self._runner.addresses[0][1]

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()

    def client_session(self) -> aiohttp.ClientSession:
        """An aiohttp session that reaches this fake for Ring's hostnames, over verified TLS."""
        connector = aiohttp.TCPConnector(resolver=LoopbackResolver(self.port), ssl=self.certs.client_context())
        return aiohttp.ClientSession(connector=connector)

    @web.middleware
    async def _middleware(self, request: web.Request, handler: Any) -> web.StreamResponse:
        body = await request.text()
        self.seen.append(Seen(request.method, request.host.split(":")[0], request.path, dict(request.query),
                              request.headers.get("Authorization"), body, request.headers.get("hardware_id")))
        for fault in self.faults:
            if fault.times > 0 and fault.method == request.method and request.path.startswith(fault.path_prefix):
                fault.times -= 1
                return web.json_response({"error": f"injected {fault.status}"}, status=fault.status,
                                         headers=fault.headers)
        if request.path != "/oauth/token":
            if request.host.split(":")[0] not in ("api.ring.com", "app.ring.com"):
                return web.json_response({"error": "wrong host"}, status=421)
            auth = request.headers.get("Authorization", "")
            if not auth.startswith("Bearer ") or auth[7:] not in self.access_tokens:
                return web.json_response({"error": "unauthorized"}, status=401)
        elif request.host.split(":")[0] != "oauth.ring.com":
            return web.json_response({"error": "wrong host"}, status=421)
        return await handler(request)  # type: ignore[no-any-return]

    # --- OAuth -----------------------------------------------------------------------

    async def _oauth(self, request: web.Request) -> web.Response:
        form = await request.post()
        grant = form.get("grant_type")
        if grant == "refresh_token":
            account = self.refresh_tokens.pop(str(form.get("refresh_token")), None)
            if account is None or self.refresh_refused:
                return web.json_response({"error": "invalid_grant", "error_description": "token is invalid"},
                                         status=401)
            return web.json_response(self.issue_token(account))
        if grant != "password":
            return web.json_response({"error": "unsupported_grant_type"}, status=400)
        account = self.accounts.get(str(form.get("username")))
        if account is None or account["password"] != form.get("password"):
            return web.json_response({"error": "invalid_grant", "error_description": "invalid user credentials"},
                                     status=401)
        if account["otp"] is not None:
            code = request.headers.get("2fa-code")
            if code is None:
                return web.json_response({"next_time_in_secs": 60, "phone": "+xxxxxxx89", "tsv_state": "sms"},
                                         status=412)
            if code != account["otp"]:
                return web.json_response({"error": "invalid_grant", "err_msg": "Verification Code is invalid"},
                                         status=400)
        return web.json_response(self.issue_token(str(form.get("username"))))

    # --- clients_api -----------------------------------------------------------------

    async def _session(self, request: web.Request) -> web.Response:
        return web.json_response({"profile": {"id": 555, "email": "ann@example.com", "first_name": "Ann",
                                              "features": {}}}, status=201)

    async def _ring_devices(self, request: web.Request) -> web.Response:
        if self.devices_text is not None:
            return web.Response(text=self.devices_text, content_type="application/json")
        return web.json_response(self.devices)

    async def _active(self, request: web.Request) -> web.Response:
        return web.json_response(self.active_dings)

    async def _health(self, request: web.Request) -> web.Response:
        data = self.health.get(request.match_info["id"])
        if data is None:
            return web.json_response({"error": "not found"}, status=404)
        return web.json_response(data)

    async def _history(self, request: web.Request) -> web.Response:
        limit = int(request.query.get("limit", "30"))
        return web.json_response(self.history.get(request.match_info["id"], [])[:limit])

    async def _share_play(self, request: web.Request) -> web.Response:
        ding = request.match_info["id"]
        return web.json_response({"url": f"https://download.ring.com/recordings/{ding}.mp4?X-Amz-Expires=3600"
                                         f"&X-Amz-Signature=sig{ding[-4:]}", "ttl": 3600})

    async def _light(self, request: web.Request) -> web.Response:
        self.device(int(request.match_info["id"]))["led_status"] = request.match_info["state"]
        return web.json_response({})

    async def _siren(self, request: web.Request) -> web.Response:
        seconds = int(request.query.get("duration", "0")) if request.match_info["state"] == "on" else 0
        self.device(int(request.match_info["id"]))["siren_status"] = {"seconds_remaining": seconds}
        return web.json_response({})

    async def _doorbot_put(self, request: web.Request) -> web.Response:
        volume = request.query.get("doorbot[settings][doorbell_volume]")
        if volume is not None:
            self.device(int(request.match_info["id"])).setdefault("settings", {})["doorbell_volume"] = int(volume)
        return web.Response(status=204)

    async def _chime_put(self, request: web.Request) -> web.Response:
        volume = request.query.get("chime[settings][volume]")
        if volume is not None:
            self.device(int(request.match_info["id"])).setdefault("settings", {})["volume"] = int(volume)
        return web.Response(status=204)

    async def _play_sound(self, request: web.Request) -> web.Response:
        return web.Response(status=204)

    async def _settings(self, request: web.Request) -> web.Response:
        body = await request.json()
        enabled = body.get("motion_settings", {}).get("motion_detection_enabled")
        if isinstance(enabled, bool):
            self.device(int(request.match_info["id"])).setdefault("settings", {})["motion_detection_enabled"] = enabled
        return web.Response(status=204)

    async def _subscribe(self, request: web.Request) -> web.Response:
        return web.Response(status=204)


def copy_devices() -> Any:
    return copy.deepcopy(load_fixture("ring_devices.json"))

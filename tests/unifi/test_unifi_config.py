"""The config model and the record parsers: pure, no sockets."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from hub.errors import InputRejected
from integrations.unifi import UnifiConfig
from integrations.unifi.records import parse_client, parse_device, parse_health, parse_speedtest

BASE = {"type": "unifi", "id": "unifi", "url": "https://192.168.1.1", "username": "u", "password": "pw-xyzzy"}


def test_defaults_follow_the_spec() -> None:
    cfg = UnifiConfig.model_validate(BASE)
    assert cfg.site == "default" and cfg.verify_ssl is True and cfg.fingerprint is None
    assert cfg.poll_interval == 30.0 and cfg.consider_home == 300.0
    assert "pw-xyzzy" not in repr(cfg)  # SecretStr


@pytest.mark.parametrize(("extra", "message"), [
    ({"verify_ssl": False}, "cannot turn certificate verification off"),
    ({"fingerprint": "md5:abcd"}, "SHA-256"),
    ({"url": "ftp://x"}, "http(s)://host"),
    ({"url": "https://x/network"}, "no path"),
    ({"poll_interval": "soon"}, "not a duration"),
    ({"poll_interval": "0s"}, "greater than 0"),
    ({"password": None}, "needs `username` and `password`"),
    ({"api_key": "k"}, "not both"),
    ({"verify": True}, "Extra inputs"),
])
def test_invalid(extra: dict[str, object], message: str) -> None:
    with pytest.raises(ValidationError, match=message.replace("(", r"\(").replace(")", r"\)")):
        UnifiConfig.model_validate({**BASE, **extra})


def test_fingerprint_forms() -> None:
    hexed = "ab" * 32
    colons = ":".join(["AB"] * 32)
    for form in (hexed, f"sha256:{hexed}", f"SHA256:{colons}"):
        assert UnifiConfig.model_validate({**BASE, "fingerprint": form}).fingerprint == hexed


def test_api_key_alone() -> None:
    cfg = UnifiConfig.model_validate({"type": "unifi", "id": "u", "url": "http://h:8080", "api_key": "k",
                                      "poll_interval": "PT1M"})
    assert cfg.poll_interval == 60.0 and cfg.host == "h:8080"


def test_client_records() -> None:
    c = parse_client({"mac": "AA:BB:CC:DD:EE:FF", "hostname": "x", "is_wired": True, "last_seen": 5,
                      "unknown": [1]}, connected=True)
    assert c.mac == "aa:bb:cc:dd:ee:ff" and c.is_wired and c.label == "x" and c.last_seen == 5.0
    with pytest.raises(InputRejected, match="not a MAC"):
        parse_client({"mac": 12}, connected=True)
    with pytest.raises(InputRejected, match="`last_seen`"):
        parse_client({"mac": "aa:bb:cc:dd:ee:ff", "last_seen": "yesterday"}, connected=False)
    with pytest.raises(InputRejected, match="`blocked` is str"):
        parse_client({"mac": "aa:bb:cc:dd:ee:ff", "blocked": "true"}, connected=False)


def test_device_health_speedtest_records() -> None:
    d = parse_device({"mac": "aa:bb:cc:dd:ee:ff", "type": "uap", "state": 6, "system-stats": {"cpu": "3.5"}})
    assert d.state == "heartbeat_missed" and d.cpu == 3.5 and d.memory is None and d.kind == "access_point"
    with pytest.raises(InputRejected, match="system-stats"):
        parse_device({"mac": "aa:bb:cc:dd:ee:ff", "type": "usw", "system-stats": "busy"})
    h = parse_health([{"subsystem": "wan", "status": "error", "rx_bytes-r": 100}])
    assert h.wan_status == "error" and h.rx_rate == 100.0
    with pytest.raises(InputRejected, match="subsystem"):
        parse_health([{"status": "ok"}])
    assert parse_speedtest([{"status_summary": 1, "rundate": 7}]).running is True
    assert parse_speedtest([{"status_summary": 2, "rundate": 7, "xput_download": 9}]).download == 9.0

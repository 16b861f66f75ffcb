"""Tokens: refresh stored at once (0600), refused tokens -> auth_failed, bad token files refused,
and no token ever in events or logs."""

from __future__ import annotations

import json
import logging
import os
import stat
from pathlib import Path

import pytest
from ring_fake_cloud import FakeRingCloud
from ring_helpers import Harness, wait_until

from hub.errors import AuthFailed
from integrations.ring.token import StoredToken, TokenFile


async def _run_to_failure(harness: Harness) -> tuple[BaseException, list[dict]]:
    ring = harness.build()
    with pytest.raises(AuthFailed) as info:
        await ring.run()
    return info.value, await harness.status_events()


@pytest.mark.parametrize("damage, expected", [
    ("missing", "no token file at"),
    ("corrupt", "is not valid JSON (line 1, column 28)"),
    ("world", "is readable by other users (mode 0644)"),
    ("group", "is readable by other users (mode 0640)"),
    ("no_token", "has no access and refresh token"),
    ("binary", "is not UTF-8 text"),
])
async def test_bad_token_files_are_refused_with_a_clear_reason(harness: Harness, damage: str,
                                                               expected: str) -> None:
    path = harness.token_path
    if damage == "missing":
        path.unlink()
    elif damage == "corrupt":
        path.write_text('{"token": {"access_token": "AT-half')
    elif damage == "world":
        path.chmod(0o644)
    elif damage == "group":
        path.chmod(0o640)
    elif damage == "no_token":
        path.write_text(json.dumps({"hardware_id": "x", "token": {"access_token": "a"}}))
    elif damage == "binary":
        path.write_bytes(b"\xff\xfe\x00garbage")
    error, statuses = await _run_to_failure(harness)
    assert expected in str(error) and str(path) in str(error)
    assert statuses[-1]["status"] == "auth_failed" and expected in statuses[-1]["reason"]
    if damage != "world" and damage != "group":
        assert "hub ring login" in str(error)
    else:
        assert f"chmod 600 {path}" in str(error)
    assert "AT-half" not in json.dumps(statuses)


async def test_unreadable_token_file(harness: Harness) -> None:
    harness.token_path.unlink()
    harness.token_path.mkdir(mode=0o700)  # unreadable as a file, even for root
    error, _ = await _run_to_failure(harness)
    assert "cannot read the token file" in str(error) and "Is a directory" in str(error)


async def test_expired_token_is_refreshed_and_stored_at_once(harness: Harness, cloud: FakeRingCloud,
                                                             caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    token = cloud.issue_token(expires_in=-60)
    token["expires_at"] = token["created_at"] - 60  # what oauthlib stored when it parsed the token
    TokenFile(harness.token_path).save(StoredToken(token=token, hardware_id="hw-kept"))
    ring = harness.build()
    async with harness.running(ring):
        await wait_until(lambda: ring.ctx.last_status == "connected", "connected")
    stored = json.loads(harness.token_path.read_text())
    assert stored["token"]["access_token"] != token["access_token"]
    assert stored["token"]["access_token"] in cloud.access_tokens
    assert stored["hardware_id"] == "hw-kept"
    assert stat.S_IMODE(harness.token_path.stat().st_mode) == 0o600
    assert all(s.hardware_id == "hw-kept" for s in cloud.seen if s.host == "api.ring.com")
    _assert_no_secrets(await harness.events(), caplog.text, [token, stored["token"]])


async def test_a_401_refreshes_the_token_and_goes_on(harness: Harness, cloud: FakeRingCloud) -> None:
    ring = harness.build()
    async with harness.running(ring):
        await wait_until(lambda: ring.ctx.last_status == "connected", "connected")
        before = json.loads(harness.token_path.read_text())["token"]["access_token"]
        cloud.access_tokens.discard(before)  # Ring invalidated the access token; the refresh token still works
        polls = len(cloud.requests("GET", "/clients_api/ring_devices"))
        await wait_until(lambda: len(cloud.requests("GET", "/clients_api/ring_devices")) > polls + 2, "polls")
    after = json.loads(harness.token_path.read_text())["token"]["access_token"]
    assert after != before and after in cloud.access_tokens
    assert [s["status"] for s in await harness.status_events()] == ["connected"]


async def test_refused_refresh_means_auth_failed_and_login_advice(harness: Harness, cloud: FakeRingCloud,
                                                                  caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    ring = harness.build()
    async with harness.running(ring, ends=True) as task:
        await wait_until(lambda: ring.ctx.last_status == "connected", "connected")
        secret = json.loads(harness.token_path.read_text())["token"]
        cloud.revoke_all()
        await wait_until(task.done, "the run to end")
        with pytest.raises(AuthFailed) as info:
            task.result()
    assert "run `hub ring login`" in str(info.value)
    statuses = await harness.status_events()
    assert statuses[-1]["status"] == "auth_failed" and "hub ring login" in statuses[-1]["reason"]
    _assert_no_secrets(await harness.events(), caplog.text + str(info.value), [secret])


def _assert_no_secrets(events: list, logs: str, tokens: list[dict]) -> None:
    text = json.dumps([e.to_dict() for e in events]) + logs
    for token in tokens:
        for key in ("access_token", "refresh_token"):
            assert token[key] not in text, f"{key} leaked"


def test_save_is_atomic_and_owner_only(tmp_path: Path) -> None:
    path = tmp_path / "sub" / "ring-token.json"
    old_umask = os.umask(0o000)  # even with a permissive umask
    try:
        TokenFile(path).save(StoredToken(token={"access_token": "a1234", "refresh_token": "r1234"}))
    finally:
        os.umask(old_umask)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert [p.name for p in path.parent.iterdir()] == ["ring-token.json"]
    loaded = TokenFile(path).load()
    assert loaded.token["refresh_token"] == "r1234" and loaded.hardware_id

"""`hub ring login` against the fake Ring OAuth endpoint: with and without two-factor."""

from __future__ import annotations

import json
import stat
from collections.abc import Callable
from pathlib import Path

import aiohttp
import pytest
from ring_fake_cloud import FakeRingCloud
from ring_helpers import Harness, wait_until

from hub.errors import AuthFailed, UserError
from integrations.ring import ring_login
from integrations.ring.token import StoredToken, TokenFile


def answers(*lines: str) -> Callable[[str], str]:
    queue = list(lines)

    def ask(prompt: str) -> str:
        return queue.pop(0)
    return ask


async def test_login_without_two_factor_stores_an_owner_only_token(tmp_path: Path, cloud: FakeRingCloud,
                                                                   session: aiohttp.ClientSession) -> None:
    path = tmp_path / "ring-token.json"
    printed: list[str] = []
    await ring_login(path, input=answers("ann@example.com"), getpass=answers("correct horse"),
                     print=lambda *a: printed.append(" ".join(map(str, a))), session=session)
    stored = json.loads(path.read_text())
    assert stored["token"]["access_token"] in cloud.access_tokens
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert "token stored in" in printed[-1]
    assert stored["token"]["access_token"] not in " ".join(printed)
    sign_in = cloud.requests("POST", "/oauth/token")[-1]
    assert sign_in.host == "oauth.ring.com" and sign_in.hardware_id == stored["hardware_id"]


async def test_login_with_two_factor_asks_for_the_code_and_keeps_the_hardware_id(
        tmp_path: Path, cloud: FakeRingCloud, session: aiohttp.ClientSession) -> None:
    path = tmp_path / "ring-token.json"
    TokenFile(path).save(StoredToken(token={"access_token": "old-a", "refresh_token": "old-r"},
                                     hardware_id="hw-stable", push_credentials={"fcm": {"x": 1}}))
    prompts: list[str] = []

    def ask(prompt: str) -> str:
        prompts.append(prompt)
        return {"Ring username (e-mail): ": "bob@example.com"}.get(prompt, "000000" if len(prompts) == 2 else "123456")

    await ring_login(path, input=ask, getpass=answers("battery staple"), print=lambda *a: None, session=session)
    assert prompts == ["Ring username (e-mail): ", "Two-factor code: ", "Two-factor code: "]
    stored = json.loads(path.read_text())
    assert stored["hardware_id"] == "hw-stable" and stored["push_credentials"] == {"fcm": {"x": 1}}
    assert stored["token"]["access_token"] in cloud.access_tokens
    statuses = [s.hardware_id for s in cloud.requests("POST", "/oauth/token")]
    assert statuses == ["hw-stable"] * 3  # 412, wrong code, right code


async def test_refused_password_and_codes(tmp_path: Path, session: aiohttp.ClientSession) -> None:
    path = tmp_path / "ring-token.json"
    with pytest.raises(AuthFailed, match="refused the username or password for ann@example.com"):
        await ring_login(path, input=answers("ann@example.com"), getpass=answers("wrong"),
                         print=lambda *a: None, session=session)
    with pytest.raises(AuthFailed, match="refused the two-factor code 3 times"):
        await ring_login(path, input=answers("bob@example.com", "1", "2", "3"), getpass=answers("battery staple"),
                         print=lambda *a: None, session=session)
    with pytest.raises(UserError, match="a username is needed"):
        await ring_login(path, input=answers(""), getpass=answers("x"), print=lambda *a: None, session=session)
    assert not path.exists()


async def test_the_daemon_runs_on_the_token_login_stored(harness: Harness, session: aiohttp.ClientSession) -> None:
    harness.token_path.unlink()
    await ring_login(harness.token_path, input=answers("ann@example.com"), getpass=answers("correct horse"),
                     print=lambda *a: None, session=session)
    ring = harness.build(history_limit=0)
    async with harness.running(ring):
        await wait_until(lambda: ring.ctx.last_status == "connected", "connected")

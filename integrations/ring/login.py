"""`hub ring login`: interactive sign-in with the two-factor code; stores the token (0600).

The daemon never asks for a password; this is the only place that does. The hardware id
of an existing token file is kept, so Ring sees the same "device" after a new login.
"""

from __future__ import annotations

import builtins
import getpass as getpass_module
from collections.abc import Callable
from pathlib import Path
from typing import Any

import aiohttp
from ring_doorbell import Auth, AuthenticationError, Requires2FAError, RingError

from hub.errors import AuthFailed, UserError
from integrations.ring.config import DEFAULT_USER_AGENT, RingConfig
from integrations.ring.errors import translate
from integrations.ring.token import StoredToken, TokenFile

CODE_ATTEMPTS = 3


async def ring_login(token_file: Path | str, *, user_agent: str = DEFAULT_USER_AGENT,
                     input: Callable[[str], str] = builtins.input,  # noqa: A002 (the injected prompt)
                     getpass: Callable[[str], str] = getpass_module.getpass,
                     print: Callable[..., Any] = builtins.print,  # noqa: A002
                     session: aiohttp.ClientSession | None = None) -> Path:
    """Ask for username, password and (when Ring asks) the two-factor code; store the token.

    Raises AuthFailed when Ring refuses the credentials or the code, UserError on empty input.
    """
    tokens = TokenFile(Path(token_file))
    old: StoredToken | None
    try:
        old = tokens.load() if tokens.exists() else None
    except AuthFailed:
        old = None  # a corrupt or world-readable file is replaced by the new one
    stored = StoredToken(token={}) if old is None else StoredToken(token={}, hardware_id=old.hardware_id,
                                                                     push_credentials=old.push_credentials)
    username = input("Ring username (e-mail): ").strip()
    if not username:
        raise UserError("ring login: a username is needed")
    password = getpass("Ring password: ")
    if not password:
        raise UserError("ring login: a password is needed")
    own_session = session is None
    http = session or aiohttp.ClientSession()
    try:
        auth = Auth(user_agent, None, None, hardware_id=stored.hardware_id, http_client_session=http)
        token = await _fetch(auth, username, password, input, print)
    finally:
        if own_session:
            await http.close()
    stored.token = token
    tokens.save(stored)
    print(f"Signed in to Ring as {username}; token stored in {tokens.path} (readable only by you).")
    return tokens.path


async def _fetch(auth: Auth, username: str, password: str, input: Callable[[str], str],  # noqa: A002
                 print: Callable[..., Any]) -> dict[str, Any]:  # noqa: A002
    try:
        return await auth.async_fetch_token(username, password)
    except Requires2FAError:
        pass
    except AuthenticationError:
        raise AuthFailed(f"ring login: Ring refused the username or password for {username}") from None
    except RingError as exc:
        raise translate(exc, "signing in") from None
    print("Ring sent a verification code (by SMS, e-mail or the authenticator app).")
    for attempt in range(1, CODE_ATTEMPTS + 1):
        code = input("Two-factor code: ").strip()
        if not code:
            raise UserError("ring login: the two-factor code is needed")
        try:
            return await auth.async_fetch_token(username, password, code)
        except (AuthenticationError, Requires2FAError):
            if attempt == CODE_ATTEMPTS:
                break
            print("Ring refused that code; try again.")
        except RingError as exc:
            raise translate(exc, "signing in") from None
    raise AuthFailed(f"ring login: Ring refused the two-factor code {CODE_ATTEMPTS} times")


def _ring_entry(cfg: Any, instance_id: str | None) -> RingConfig:
    entries = [c for c in getattr(cfg, "integration_configs", []) if isinstance(c, RingConfig)]
    if instance_id is not None:
        entries = [c for c in entries if c.id == instance_id]
    if not entries:
        which = f" with id {instance_id!r}" if instance_id else ""
        raise UserError(f"ring login: the configuration has no ring integration{which}")
    if len(entries) > 1:
        raise UserError("ring login: the configuration has several ring integrations; name one with its id")
    return entries[0]


async def login_from_config(cfg: Any, instance_id: str | None = None, **io: Any) -> Path:
    """`hub ring login` for the ring entry of a loaded Config (its token_file and user_agent)."""
    entry = _ring_entry(cfg, instance_id)
    return await ring_login(entry.token_path(getattr(cfg, "base_dir", None)), user_agent=entry.user_agent, **io)

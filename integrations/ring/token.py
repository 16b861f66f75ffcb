"""The Ring token file: OAuth token, push credentials and a stable hardware id, owner-only (0600).

Written atomically (temporary file, fsync, rename) on every token refresh, so a crash
mid-write leaves the previous token intact. A file that group or others can read is
refused: it holds a refresh token that signs in to the whole Ring account.
"""

from __future__ import annotations

import json
import logging
import os
import stat
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from integrations.ring.errors import LOGIN_ADVICE, TokenFileError

log = logging.getLogger(__name__)

FORMAT_VERSION = 1


@dataclass(slots=True)
class StoredToken:
    """What `hub ring login` stores and the daemon keeps up to date."""

    token: dict[str, Any]
    hardware_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    push_credentials: dict[str, Any] | None = None

    def as_data(self) -> dict[str, Any]:
        return {"version": FORMAT_VERSION, "hardware_id": self.hardware_id, "token": self.token,
                "push_credentials": self.push_credentials}

    @property
    def secrets(self) -> list[str]:
        """The strings that must never appear in logs or events."""
        return [str(self.token.get(k)) for k in ("access_token", "refresh_token") if self.token.get(k)]


class TokenFile:
    """Reads and writes one token file; every problem is a TokenFileError naming the file."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def exists(self) -> bool:
        return self.path.exists()

    def load(self) -> StoredToken:
        """The stored token; refuses a missing, unreadable, corrupt or group/world-readable file."""
        path = self.path
        try:
            st = path.stat()
        except FileNotFoundError:
            raise TokenFileError(f"ring: no token file at {path}; {LOGIN_ADVICE}") from None
        except OSError as exc:
            raise TokenFileError(f"ring: cannot read the token file {path}: {exc.strerror}") from None
        mode = stat.S_IMODE(st.st_mode)
        if mode & 0o077:
            raise TokenFileError(
                f"ring: refusing the token file {path}: it is readable by other users (mode {mode:04o}); "
                f"run `chmod 600 {path}`, and `hub ring login` if others may have read it"
            )
        try:
            text = path.read_text(encoding="utf-8")
        except OSError as exc:
            raise TokenFileError(f"ring: cannot read the token file {path}: {exc.strerror}") from None
        except UnicodeDecodeError:
            raise TokenFileError(f"ring: the token file {path} is not UTF-8 text; {LOGIN_ADVICE}") from None
        return self._parse(text)

    def _parse(self, text: str) -> StoredToken:
        path = self.path
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            # Never quote the content: it may hold a partial token.
            raise TokenFileError(f"ring: the token file {path} is not valid JSON (line {exc.lineno}, column "
                                 f"{exc.colno}); {LOGIN_ADVICE}") from None
        if not isinstance(data, dict):
            raise TokenFileError(f"ring: the token file {path} must hold a JSON object; {LOGIN_ADVICE}")
        token = data.get("token")
        if not isinstance(token, dict) or not all(
            isinstance(token.get(k), str) and token.get(k) for k in ("access_token", "refresh_token")
        ):
            raise TokenFileError(f"ring: the token file {path} has no access and refresh token; {LOGIN_ADVICE}")
        hardware_id = data.get("hardware_id")
        if not isinstance(hardware_id, str) or not hardware_id:
            raise TokenFileError(f"ring: the token file {path} has no hardware_id; {LOGIN_ADVICE}")
        push = data.get("push_credentials")
        if push is not None and not isinstance(push, dict):
            log.warning("ring: ignoring malformed push credentials in %s; new ones will be registered", path)
            push = None
        return StoredToken(token=token, hardware_id=hardware_id, push_credentials=push)

    def hardware_id(self) -> str | None:
        """The hardware id of an existing, readable file (kept across logins), else None."""
        try:
            return self.load().hardware_id
        except TokenFileError:
            return None

    def save(self, stored: StoredToken) -> None:
        """Write atomically with mode 0600 (created so: never readable by others, not even briefly)."""
        path = self.path
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
        payload = json.dumps(stored.as_data(), indent=2, sort_keys=True).encode()
        try:
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            try:
                os.fchmod(fd, 0o600)
                view = memoryview(payload)
                while view:
                    view = view[os.write(fd, view):]
                os.fsync(fd)
            finally:
                os.close(fd)
            os.replace(tmp, path)
        except OSError as exc:
            tmp.unlink(missing_ok=True)
            raise TokenFileError(f"ring: cannot write the token file {path}: {exc.strerror}") from None

"""PostgreSQL chores around the backend: URLs without their password, the server's admin URL, pg_dump."""

from __future__ import annotations

import asyncio
import glob
import os
import shutil
from pathlib import Path
from urllib.parse import unquote, urlsplit, urlunsplit

from hub.errors import StoreError

PG_BIN_GLOB = "/usr/lib/postgresql/*/bin"


def redact(url: str) -> str:
    """The URL with its password replaced by `***` (for logs and errors)."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    netloc = parts.netloc.rsplit("@", 1)
    user = parts.username or ""
    return urlunsplit(parts._replace(netloc=f"{user}:***@{netloc[1]}"))


def database_name(url: str) -> str:
    """The database a postgresql:// URL names (default: the user name, as libpq does)."""
    parts = urlsplit(url)
    name = unquote(parts.path.lstrip("/"))
    return name or unquote(parts.username or "postgres")


def server_url(url: str) -> tuple[str, str]:
    """(a URL of the same server's `postgres` database, the database name of `url`)."""
    parts = urlsplit(url)
    return urlunsplit(parts._replace(path="/postgres")), database_name(url)


def pg_binary(name: str) -> str:
    """The path of a PostgreSQL client or server program: PATH first, then the newest Debian install."""
    found = shutil.which(name)
    if found:
        return found
    candidates = sorted(glob.glob(f"{PG_BIN_GLOB}/{name}"),
                        key=lambda p: int(Path(p).parent.parent.name) if Path(p).parent.parent.name.isdigit() else 0)
    if candidates:
        return candidates[-1]
    raise StoreError(f"{name} is not installed (apt-get install postgresql-client, or put it on PATH)")


def _libpq_args(url: str) -> tuple[str, dict[str, str]]:
    """The URL without its password, and an environment carrying the password (never on a command line)."""
    env = dict(os.environ)
    parts = urlsplit(url)
    if parts.password is not None:
        env["PGPASSWORD"] = unquote(parts.password)
        host = parts.netloc.rsplit("@", 1)[1]
        user = parts.username or ""
        url = urlunsplit(parts._replace(netloc=f"{user}@{host}" if user else host))
    return url, env


async def dump(url: str, path: str) -> None:
    """An online, consistent backup of the database at `url` with pg_dump (custom format) into `path`."""
    target = Path(path)
    if target.exists():
        raise StoreError(f"backup target {path} exists already")
    target.parent.mkdir(parents=True, exist_ok=True)
    conninfo, env = _libpq_args(url)
    partial = target.with_name(target.name + ".partial")
    proc = await asyncio.create_subprocess_exec(
        pg_binary("pg_dump"), "--format=custom", "--no-owner", f"--file={partial}", f"--dbname={conninfo}",
        env=env, stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.PIPE)
    _, err = await proc.communicate()
    if proc.returncode != 0:
        partial.unlink(missing_ok=True)
        text = err.decode(errors="replace").strip().replace(url, redact(url))
        raise StoreError(f"pg_dump of {redact(url)} failed (exit {proc.returncode}): {text[-500:]}")
    partial.rename(target)

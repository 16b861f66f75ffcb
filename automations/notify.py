"""Notifiers: `notify.<name>` delivered over HTTP (ntfy, Pushover, Telegram, a JSON webhook).

Each delivery is retried on network errors, HTTP 429 and 5xx with a capped
backoff; other 4xx answers fail at once. The outcome reaches the log as the
command's command_succeeded / command_failed. Tokens never appear in errors.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import Any

import httpx

from hub.errors import CommandError

log = logging.getLogger(__name__)

PUSHOVER_URL = "https://api.pushover.net/1/messages.json"
TELEGRAM_URL = "https://api.telegram.org"
MAX_MESSAGE = 4096


def config_problem(n: Any) -> str | None:
    """What a notifier entry lacks for its type, or None."""
    need = {"ntfy": ("url",), "pushover": ("token", "user"), "telegram": ("token", "chat_id"),
            "webhook": ("url",)}[n.type]
    missing = [k for k in need if getattr(n, k) in (None, "")]
    return f"a {n.type} notifier needs {', '.join(missing)}" if missing else None


class Notifiers:
    """Sends notifications for the configured notifiers (read afresh on each send, so reloads apply)."""

    def __init__(self, configs: Any, *, transport: httpx.AsyncBaseTransport | None = None,
                 sleep: Callable[[float], Awaitable[Any]] = asyncio.sleep, backoff: float = 1.0) -> None:
        self._configs = configs if callable(configs) else (lambda: configs)
        self.transport = transport
        self.sleep = sleep
        self.backoff = backoff

    def names(self) -> set[str]:
        return set(self._configs())

    def _request(self, n: Any, data: dict[str, Any]) -> tuple[str, dict[str, Any]]:
        message = data.get("message")
        if not isinstance(message, str) or not message:
            raise CommandError(f"notify.{n.name}: `message` is required (a non-empty string)")
        message = message[:MAX_MESSAGE]
        title = data.get("title")
        extra = data.get("data") if isinstance(data.get("data"), dict) else {}
        headers = {k: v.get_secret_value() for k, v in n.headers.items()}
        if n.type == "ntfy":
            if title:
                headers["Title"] = str(title)
            priority = extra.get("priority", n.priority)
            if priority is not None:
                headers["Priority"] = str(priority)
            if extra.get("tags"):
                tags = extra["tags"]
                headers["Tags"] = ",".join(tags) if isinstance(tags, list) else str(tags)
            if n.token is not None:
                headers["Authorization"] = f"Bearer {n.token.get_secret_value()}"
            return str(n.url), {"content": message.encode(), "headers": headers}
        if n.type == "pushover":
            form = {"token": n.token.get_secret_value(), "user": n.user.get_secret_value(), "message": message}
            if title:
                form["title"] = str(title)
            priority = extra.get("priority", n.priority)
            if priority is not None:
                form["priority"] = str(priority)
            return str(n.url or PUSHOVER_URL), {"data": form, "headers": headers}
        if n.type == "telegram":
            base = str(n.url or TELEGRAM_URL).rstrip("/")
            text = f"{title}\n{message}" if title else message
            return f"{base}/bot{n.token.get_secret_value()}/sendMessage", {
                "json": {"chat_id": n.chat_id, "text": text, **{k: v for k, v in extra.items()
                                                                  if k in ("parse_mode", "disable_notification")}},
                "headers": headers}
        return str(n.url), {"json": {"message": message, "title": title, "data": extra}, "headers": headers}

    def _redact(self, n: Any, text: str) -> str:
        for secret in (n.token, n.user, *n.headers.values()):
            if secret is not None and secret.get_secret_value():
                text = text.replace(secret.get_secret_value(), "***")
        return text

    async def send(self, name: str, data: dict[str, Any]) -> dict[str, Any]:
        """Deliver one notification; returns {status, attempts}; raises CommandError with the reason."""
        n = self._configs().get(name)
        if n is None:
            raise CommandError(f"there is no notifier {name!r}")
        url, kwargs = self._request(n, data)
        attempts = 0
        reason = ""
        async with httpx.AsyncClient(transport=self.transport, timeout=n.timeout) as client:
            while attempts <= n.retries:
                attempts += 1
                try:
                    response = await client.post(url, **kwargs)
                except httpx.HTTPError as exc:
                    reason = self._redact(n, f"{type(exc).__name__}: {exc}" if n.type != "telegram"
                                          else type(exc).__name__)
                else:
                    if response.status_code < 300:
                        return {"notifier": name, "status": response.status_code, "attempts": attempts}
                    reason = f"HTTP {response.status_code}"
                    detail = _detail(response)
                    if detail:
                        reason += f": {self._redact(n, detail)}"
                    if response.status_code < 500 and response.status_code != 429:
                        break
                if attempts <= n.retries:
                    await self.sleep(min(self.backoff * 2 ** (attempts - 1), 30.0))
        log.warning("notify.%s: delivery failed after %d attempts: %s", name, attempts, reason)
        raise CommandError(f"notify.{name} ({n.type}): delivery failed after {attempts} "
                           f"attempt{'s' if attempts > 1 else ''}: {reason}")


def _detail(response: httpx.Response) -> str:
    try:
        body = response.json()
    except ValueError:
        return response.text[:200]
    if isinstance(body, dict):
        for key in ("description", "errors", "error", "message"):
            if key in body:
                return str(body[key])[:200]
    return ""

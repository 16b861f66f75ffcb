"""Notifiers over httpx.MockTransport speaking each service's API; retries; outcome in the log."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest

from automations.config import Notifier
from automations.notify import Notifiers
from hub.errors import CommandError


async def _no_sleep(_: float) -> None:
    return None


class Service:
    """Records requests and answers with a scripted list of statuses."""

    def __init__(self, statuses: list[int] | None = None, body: Any = None) -> None:
        self.requests: list[httpx.Request] = []
        self.statuses = statuses or [200]
        self.body = body if body is not None else {"ok": True}

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        status = self.statuses[min(len(self.requests) - 1, len(self.statuses) - 1)]
        return httpx.Response(status, json=self.body if status < 300 else {"description": "Bad Request: chat not found"})


def notifiers(service: Service, **entry: Any) -> Notifiers:
    n = Notifier.model_validate({"name": "phone", **entry})
    return Notifiers({"phone": n}, transport=httpx.MockTransport(service), sleep=_no_sleep)


async def test_ntfy_posts_text_with_title_and_priority() -> None:
    svc = Service()
    result = await notifiers(svc, type="ntfy", url="https://ntfy.example/house", token="tk_1").send(
        "phone", {"message": "Door open", "title": "Alarm", "data": {"priority": 5, "tags": ["warning"]}})
    req = svc.requests[0]
    assert str(req.url) == "https://ntfy.example/house" and req.content == b"Door open"
    assert req.headers["Title"] == "Alarm" and req.headers["Priority"] == "5" and req.headers["Tags"] == "warning"
    assert req.headers["Authorization"] == "Bearer tk_1"
    assert result == {"notifier": "phone", "status": 200, "attempts": 1}


async def test_pushover_form() -> None:
    svc = Service(body={"status": 1, "request": "abc"})
    await notifiers(svc, type="pushover", token="app_tok", user="user_key").send("phone", {"message": "Hi"})
    req = svc.requests[0]
    assert str(req.url) == "https://api.pushover.net/1/messages.json"
    form = dict(x.split("=") for x in req.content.decode().split("&"))
    assert form == {"token": "app_tok", "user": "user_key", "message": "Hi"}


async def test_telegram_send_message_and_errors_hide_the_token() -> None:
    ok = Service(body={"ok": True, "result": {"message_id": 1}})
    await notifiers(ok, type="telegram", token="123:SECRET", chat_id=42).send("phone", {"message": "Hi", "title": "T"})
    assert ok.requests[0].url.path == "/bot123:SECRET/sendMessage"
    assert json.loads(ok.requests[0].content) == {"chat_id": 42, "text": "T\nHi"}
    bad = Service(statuses=[400])
    with pytest.raises(CommandError) as info:
        await notifiers(bad, type="telegram", token="123:SECRET", chat_id=42).send("phone", {"message": "Hi"})
    assert "SECRET" not in str(info.value) and "HTTP 400: Bad Request: chat not found" in str(info.value)
    assert len(bad.requests) == 1  # a 4xx is not retried


async def test_webhook_retries_5xx_then_succeeds() -> None:
    svc = Service(statuses=[503, 502, 200])
    result = await notifiers(svc, type="webhook", url="https://hooks.example/x", retries=3).send(
        "phone", {"message": "m", "data": {"k": 1}})
    assert result["attempts"] == 3
    assert json.loads(svc.requests[0].content) == {"message": "m", "title": None, "data": {"k": 1}}


async def test_gives_up_after_the_retries() -> None:
    svc = Service(statuses=[500])
    with pytest.raises(CommandError, match=r"delivery failed after 3 attempts: HTTP 500"):
        await notifiers(svc, type="webhook", url="https://hooks.example/x", retries=2).send("phone", {"message": "m"})


async def test_network_error_is_retried() -> None:
    calls = []

    def handler(request: httpx.Request) -> httpx.Response:
        calls.append(request)
        if len(calls) == 1:
            raise httpx.ConnectError("connection refused", request=request)
        return httpx.Response(200)

    n = Notifier.model_validate({"name": "phone", "type": "webhook", "url": "https://hooks.example/x"})
    result = await Notifiers({"phone": n}, transport=httpx.MockTransport(handler), sleep=_no_sleep).send(
        "phone", {"message": "m"})
    assert result["attempts"] == 2


async def test_missing_message_is_refused() -> None:
    with pytest.raises(CommandError, match="`message` is required"):
        await notifiers(Service(), type="webhook", url="https://h.example/").send("phone", {"title": "x"})


async def test_outcome_recorded_in_the_log(hub) -> None:
    svc = Service(statuses=[500])
    await hub.start("""
    notify:
      - {name: pager, type: webhook, url: "https://hooks.example/pager", retries: 0}
      - {name: phone, type: ntfy, url: "https://ntfy.example/house"}
    automations:
      - id: tell
        triggers: [{trigger: event, event_type: go}]
        actions:
          - action: notify.phone
            data: {message: "hello"}
          - action: notify.pager
            data: {message: "page"}
    """, transport=httpx.MockTransport(svc))
    svc.statuses = [200, 500]
    await hub.event("go")
    succeeded = await hub.events("command_succeeded")
    failed = await hub.events("command_failed")
    assert succeeded[0].data["target"] == ["notify.phone"] and succeeded[0].data["result"]["notify.phone"]["status"] == 200
    assert "notify.pager (webhook): delivery failed after 1 attempt: HTTP 500" in failed[0].data["reason"]
    trace = (await hub.traces("tell"))[0]
    assert trace["result"] == "error" and "notify.pager" in trace["error"]

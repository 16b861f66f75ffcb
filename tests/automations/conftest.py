"""Fixtures for the automation tests (the kit itself is in automations_testkit.py)."""

from __future__ import annotations

import textwrap
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import pytest
from automations_testkit import Hub

from hub.log import open_log


@pytest.fixture
async def hub(tmp_path: Path) -> AsyncIterator[Hub]:
    async with open_log(str(tmp_path / "hub.db"), synchronous="normal") as log_:
        h = Hub(log_, tmp_path)
        try:
            yield h
        finally:
            await h.stop()


@pytest.fixture
def write(tmp_path: Path) -> Callable[[str, str], Path]:
    def _write(name: str, text: str) -> Path:
        path = tmp_path / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text))
        return path

    return _write

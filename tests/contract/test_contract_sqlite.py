"""The storage contract on SQLite."""

from __future__ import annotations

from pathlib import Path

import aiosqlite
import pytest
from store_contract import StoreContract


class TestSqliteStore(StoreContract):
    shared_daemons = False

    @pytest.fixture
    def url(self, tmp_path: Path) -> str:
        return str(tmp_path / "hub.db")

    async def raw(self, url: str, sql: str) -> None:
        async with aiosqlite.connect(url) as conn:
            await conn.execute(sql)
            await conn.commit()


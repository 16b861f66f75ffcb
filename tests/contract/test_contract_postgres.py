"""The storage contract on PostgreSQL (a private server; a new database per test)."""

from __future__ import annotations

import asyncpg
import pytest
from store_contract import StoreContract


class TestPostgresStore(StoreContract):
    shared_daemons = True
    drop_trigger_suffix = " ON events"

    @pytest.fixture
    def url(self, pg_url: str) -> str:
        return pg_url

    async def raw(self, url: str, sql: str) -> None:
        conn = await asyncpg.connect(url)
        try:
            await conn.execute(sql)
        finally:
            await conn.close()

"""Event store backends: SQLite (default) and PostgreSQL, behind one interface."""

from __future__ import annotations

from hub.store.base import Backend, EventFilter, Tx


def backend_for(url: str) -> Backend:
    """The backend for a database URL or SQLite path."""
    if url.startswith(("postgresql://", "postgres://")):
        from hub.store.postgres import PostgresBackend

        return PostgresBackend(url)
    from hub.store.sqlite import SqliteBackend

    return SqliteBackend(url)


__all__ = ["Backend", "EventFilter", "Tx", "backend_for"]

"""Open the store a DATABASE_URL names: PostgreSQL for postgresql:// or postgres://, else SQLite."""

from __future__ import annotations

from contextlib import AbstractAsyncContextManager
from pathlib import Path

from core.store.postgres import PgStore
from core.store.sqlite import SqliteStore, Store

POSTGRES_SCHEMES = ("postgresql://", "postgres://")


def is_postgres(target: str | Path) -> bool:
    """True when ``target`` is a PostgreSQL URL (anything else is a SQLite file or :memory:)."""
    return isinstance(target, str) and target.startswith(POSTGRES_SCHEMES)


def open_store(target: str | Path) -> AbstractAsyncContextManager[Store]:
    """The store on ``target``: a PostgreSQL URL, or a SQLite path (or ``":memory:"``)."""
    if is_postgres(target):
        assert isinstance(target, str)
        return PgStore.open(target)
    return SqliteStore.open(target)

"""What `python -m bot check` asks a PostgreSQL database: does it answer, at which schema."""

from __future__ import annotations

import psycopg

from core.store.migrations import MIGRATIONS


async def postgres_schema(url: str, *, timeout: float = 10.0) -> tuple[int, int]:
    """(migrations applied, migrations this release has); raises psycopg.Error when the
    database cannot be reached. Reads only: serve applies pending migrations at start-up."""
    async with await psycopg.AsyncConnection.connect(
        url, autocommit=True, connect_timeout=max(1, int(timeout)), prepare_threshold=None
    ) as conn:
        cur = await conn.execute("SELECT to_regclass('schema_migrations') IS NOT NULL")
        row = await cur.fetchone()
        applied = 0
        if row and row[0]:
            cur = await conn.execute("SELECT COALESCE(MAX(version), 0) FROM schema_migrations")
            found = await cur.fetchone()
            applied = int(found[0]) if found else 0
    return applied, len(MIGRATIONS)

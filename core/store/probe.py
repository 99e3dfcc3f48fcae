"""What `python -m bot check` asks a PostgreSQL database: does it answer, at which schema."""

from __future__ import annotations

import psycopg

from core.store.migrations import MIGRATIONS
from core.store.postgres import applied_version


async def postgres_schema(url: str, *, timeout: float = 10.0) -> tuple[int, int]:
    """(migrations applied, migrations this release has); raises psycopg.Error when the
    database cannot be reached. Reads only: serve applies pending migrations at start-up."""
    async with await psycopg.AsyncConnection.connect(
        url, autocommit=True, connect_timeout=max(1, int(timeout)), prepare_threshold=None
    ) as conn:
        applied = await applied_version(conn)
    return applied, len(MIGRATIONS)

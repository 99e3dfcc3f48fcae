"""PgStore: the store on PostgreSQL (psycopg 3 async, a small pool), for several replicas.

Pooler-safe by construction: no prepared statements (``prepare_threshold=None``), no session
state (no SET, no session advisory lock, no temporary table), every transaction opened and
closed by the statement stream itself, so a transaction pooler (PgBouncer, Supavisor) can hand
each transaction to any server connection. Parameters are bound server-side.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager, suppress
from typing import Any

import psycopg
from psycopg.rows import RowMaker
from psycopg_pool import AsyncConnectionPool

from core.store.db import POSTGRES, Dialect, Row, TupleRow, to_numbered
from core.store.migrations import MIGRATIONS, script_for
from core.store.sqlite import Store
from core.store.tx import Tx

logger = logging.getLogger(__name__)

MIGRATION_LOCK = 0x726D73626F74  # pg_advisory_xact_lock key of schema migrations ("rmsbot")
_VERSIONS = """CREATE TABLE IF NOT EXISTS schema_migrations (
    version INTEGER PRIMARY KEY,
    applied_at TEXT NOT NULL DEFAULT (to_char(now() AT TIME ZONE 'UTC',
                                               'YYYY-MM-DD"T"HH24:MI:SS"+00:00"')))"""


def _tuple_rows(cursor: psycopg.AsyncCursor[Any]) -> RowMaker[TupleRow]:
    names = {column.name: i for i, column in enumerate(cursor.description or ())}

    def make(values: Sequence[Any]) -> TupleRow:
        return TupleRow(names, values)

    return make


class PgConn:
    """The store's connection port on one psycopg connection (``?`` → ``$n`` here, once).

    Statements run on psycopg's raw cursor, which sends them as they are: its default cursor
    parses each statement for ``%s`` and caches that only for statements of at most 50
    parameters, so every multi-row INSERT or long ``IN`` list was parsed anew (on the ack
    path, 0.06–0.09 ms of CPU per request in a burst of 50; 0.04–0.05 ms without).
    """

    dialect: Dialect = POSTGRES

    def __init__(self, conn: psycopg.AsyncConnection[Any]) -> None:
        self._conn = conn

    async def fetch(self, sql: str, params: Sequence[Any] = ()) -> list[Row]:
        async with psycopg.AsyncRawCursor(self._conn, row_factory=_tuple_rows) as cur:
            await cur.execute(to_numbered(sql), tuple(params))
            return list(await cur.fetchall()) if cur.description else []

    async def change(self, sql: str, params: Sequence[Any] = ()) -> int:
        async with psycopg.AsyncRawCursor(self._conn) as cur:
            await cur.execute(to_numbered(sql), tuple(params))
            return cur.rowcount


class PgStore(Store):
    """The bot's state on PostgreSQL: each transaction on a connection of its own."""

    def __init__(self, pool: AsyncConnectionPool[psycopg.AsyncConnection[Any]]) -> None:
        super().__init__()
        self._pool = pool

    @classmethod
    @asynccontextmanager
    async def open(
        cls, url: str, *, max_size: int = 5, timeout: float = 30.0
    ) -> AsyncIterator[PgStore]:
        """Connect (``postgresql://`` or ``postgres://``), apply pending migrations, close."""
        pool: AsyncConnectionPool[psycopg.AsyncConnection[Any]] = AsyncConnectionPool(
            url,
            min_size=1,
            max_size=max_size,
            timeout=timeout,
            open=False,
            name="rms-bot",
            # One empty round trip when a connection is taken: a connection the server cut
            # (restart, failover, idle timeout) is replaced instead of failing a transaction.
            check=AsyncConnectionPool.check_connection,
            # autocommit: BEGIN/COMMIT are sent by tx()/read() themselves; no prepared
            # statements, which a transaction pooler cannot keep.
            kwargs={"autocommit": True, "prepare_threshold": None},
        )
        await pool.open(wait=True, timeout=timeout)
        try:
            store = cls(pool)
            await store.migrate()
            yield store
        finally:
            await pool.close()

    async def migrate(self) -> int:
        """Apply the pending migrations, each in one transaction that holds a transaction-
        scoped advisory lock (released by COMMIT, so it works through a transaction pooler):
        replicas starting together apply each migration once. Returns how many it applied."""
        applied = 0
        found = await self.schema_version()
        if found > len(MIGRATIONS):  # a newer release migrated it: its changes only expand
            logger.warning(
                "database schema %d is newer than this release's %d: running on it (a rolling "
                "deploy, or a rollback)",
                found,
                len(MIGRATIONS),
            )
        for number, migration in enumerate(MIGRATIONS, start=1):
            if number <= found:
                continue
            async with self._pool.connection() as conn, conn.transaction():
                await conn.execute("SELECT pg_advisory_xact_lock(%s)", (MIGRATION_LOCK,))
                await conn.execute(_VERSIONS)
                cur = await conn.execute(
                    "SELECT 1 FROM schema_migrations WHERE version = %s", (number,)
                )
                if await cur.fetchone():  # another replica applied it while we waited
                    continue
                await conn.execute(script_for(migration, POSTGRES))
                await conn.execute("INSERT INTO schema_migrations (version) VALUES (%s)", (number,))
                applied += 1
                logger.info("applied migration %d", number)
        return applied

    async def schema_version(self) -> int:
        """The highest migration applied (0 on an empty database)."""
        async with self._pool.connection() as conn:
            return await applied_version(conn)

    @asynccontextmanager
    async def _tx(self) -> AsyncIterator[Tx]:
        """One write transaction (READ COMMITTED; the orders it reads are locked FOR UPDATE),
        rolled back on error; the order invariants are checked before COMMIT."""
        async with self._pool.connection() as conn:
            await conn.execute("BEGIN")
            try:
                tx = Tx(PgConn(conn), write=True)
                yield tx
                await tx.check_invariants()
            except BaseException:
                with suppress(psycopg.Error):  # a broken connection: the pool discards it
                    await conn.execute("ROLLBACK")
                raise
            await conn.execute("COMMIT")

    @asynccontextmanager
    async def statement(self) -> AsyncIterator[Tx]:
        """Statements that are each their own transaction (autocommit): the ack path's."""
        async with self._pool.connection() as conn:
            yield Tx(PgConn(conn))

    @asynccontextmanager
    async def _read(self) -> AsyncIterator[Tx]:
        """Reads in one snapshot (REPEATABLE READ, READ ONLY: never a serialisation error)."""
        async with self._pool.connection() as conn:
            await conn.execute("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY")
            try:
                yield Tx(PgConn(conn))
            finally:
                with suppress(psycopg.Error):
                    await conn.execute("ROLLBACK")

    @asynccontextmanager
    async def bulk(self) -> AsyncIterator[psycopg.AsyncConnection[Any]]:
        """One transaction on one raw connection, for bulk loads (COPY): committed when the
        block ends, rolled back whole when it raises."""
        async with self._pool.connection() as conn, conn.transaction():
            yield conn


async def applied_version(conn: psycopg.AsyncConnection[Any]) -> int:
    """The highest migration applied on this database (0 before the first)."""
    cur = await conn.execute("SELECT to_regclass('schema_migrations') IS NOT NULL")
    row = await cur.fetchone()
    if not row or not row[0]:  # no table yet
        return 0
    cur = await conn.execute("SELECT COALESCE(MAX(version), 0) FROM schema_migrations")
    row = await cur.fetchone()
    return int(row[0]) if row else 0

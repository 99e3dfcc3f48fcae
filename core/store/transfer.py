"""Copy a SQLite database into PostgreSQL (``python -m bot migrate-sqlite-to-postgres``).

Every table of the SQLite file is copied in ONE PostgreSQL transaction: ids kept, identity
sequences moved past them, row counts compared per table before COMMIT (a mismatch rolls the
whole copy back). Both databases are first brought to the same schema version by opening them.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psycopg
from psycopg import sql

from core.store.postgres import PgStore
from core.store.sqlite import SqliteStore

CHUNK = 2000  # rows read from SQLite per statement (keeps memory flat on a big database)


class TransferError(Exception):
    """The copy was refused or did not add up; nothing was written."""


@dataclass(frozen=True, slots=True)
class Copied:
    """One table: rows in the SQLite file, rows in PostgreSQL after the copy."""

    table: str
    source: int
    target: int


async def sqlite_tables(source: SqliteStore) -> list[str]:
    """The SQLite file's own tables, in creation order."""
    async with source.read() as r:
        rows = await r.rows(
            "SELECT name FROM sqlite_master WHERE type = 'table' "
            "AND name NOT LIKE 'sqlite_%' ORDER BY rowid"
        )
    return [str(row["name"]) for row in rows]


async def _chunks(
    source: SqliteStore, table: str, columns: Sequence[str]
) -> AsyncIterator[list[Sequence[Any]]]:
    """The table's rows in rowid order, CHUNK at a time (keyset pagination)."""
    names = ", ".join(f'"{c}"' for c in columns)
    after = -(2**63)
    while True:
        async with source.read() as r:
            rows = await r.rows(
                f'SELECT rowid, {names} FROM "{table}" WHERE rowid > ? '  # noqa: S608
                "ORDER BY rowid LIMIT ?",
                (after, CHUNK),
            )
        if not rows:
            return
        after = int(rows[-1][0])
        yield [tuple(row[i] for i in range(1, len(columns) + 1)) for row in rows]


async def _columns(source: SqliteStore, table: str) -> list[str]:
    async with source.read() as r:
        rows = await r.rows(f'SELECT name FROM pragma_table_info("{table}") ORDER BY cid')  # noqa: S608
    return [str(row["name"]) for row in rows]


async def _count(conn: psycopg.AsyncConnection[Any], table: str) -> int:
    cur = await conn.execute(sql.SQL("SELECT COUNT(*) FROM {}").format(sql.Identifier(table)))
    row = await cur.fetchone()
    return int(row[0]) if row else 0


async def copy_sqlite_to_postgres(
    source: SqliteStore, target: PgStore, *, replace: bool = False
) -> list[Copied]:
    """Copy every table; refuse a target that holds rows unless ``replace`` (then its rows
    are deleted first, in the same transaction). Raises TransferError, writing nothing."""
    tables = await sqlite_tables(source)
    expected: dict[str, int] = {}
    for table in tables:
        async with source.read() as r:
            rows = await r.rows(f'SELECT COUNT(*) FROM "{table}"')  # noqa: S608
        expected[table] = int(rows[0][0])
    copied: list[Copied] = []
    async with target.bulk() as conn:
        cur = await conn.execute(
            "SELECT table_name FROM information_schema.tables WHERE table_schema = 'public'"
        )
        present = {str(row[0]) for row in await cur.fetchall()}
        if missing := [t for t in tables if t not in present]:
            raise TransferError(f"PostgreSQL has no table {', '.join(missing)}: not migrated?")
        filled = [t for t in tables if await _count(conn, t)]
        if filled and not replace:
            raise TransferError(
                f"the PostgreSQL database already holds rows ({', '.join(filled)}); "
                "use --replace to delete them and copy again"
            )
        for table in filled:
            await conn.execute(sql.SQL("DELETE FROM {}").format(sql.Identifier(table)))
        for table in tables:
            columns = await _columns(source, table)
            statement = sql.SQL("COPY {} ({}) FROM STDIN").format(
                sql.Identifier(table), sql.SQL(", ").join(map(sql.Identifier, columns))
            )
            async with conn.cursor().copy(statement) as copy:
                async for chunk in _chunks(source, table, columns):
                    for values in chunk:
                        await copy.write_row(values)
            copied.append(Copied(table, expected[table], await _count(conn, table)))
        await _move_sequences(conn)
        if wrong := [c for c in copied if c.source != c.target]:
            raise TransferError(
                "row counts differ, nothing copied: "
                + ", ".join(f"{c.table} {c.source}→{c.target}" for c in wrong)
            )
    return copied


async def copy_sqlite_file(path: Path, url: str, *, replace: bool = False) -> list[Copied]:
    """Open both databases (each brought to the current schema) and copy."""
    async with SqliteStore.open(path) as source, PgStore.open(url) as target:
        return await copy_sqlite_to_postgres(source, target, replace=replace)


async def _move_sequences(conn: psycopg.AsyncConnection[Any]) -> None:
    """Every identity column's next value goes past the ids copied into it."""
    cur = await conn.execute(
        "SELECT table_name, column_name FROM information_schema.columns "
        "WHERE table_schema = 'public' AND is_identity = 'YES'"
    )
    for table, column in await cur.fetchall():
        query = sql.SQL(
            "SELECT setval(pg_get_serial_sequence({t}, {c}), "
            "COALESCE((SELECT MAX({col}) FROM {tab}), 0) + 1, false)"
        ).format(
            t=sql.Literal(table),
            c=sql.Literal(column),
            col=sql.Identifier(column),
            tab=sql.Identifier(table),
        )
        await conn.execute(query)

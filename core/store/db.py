"""The store's connection port: one statement at a time, in SQLite's or PostgreSQL's dialect.

All SQL text is shared and written with ``?`` placeholders in the portable subset; each
adapter runs it on its own driver (``SqliteConn`` here, ``PgConn`` in postgres.py, which
translates the placeholders in one place). Where the dialects must differ, the two variants
sit next to each other in the module that owns the statement, chosen by ``Conn.dialect``.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator, Sequence
from functools import lru_cache
from typing import Any, Literal, Protocol

import aiosqlite

Dialect = Literal["sqlite", "postgres"]
SQLITE: Dialect = "sqlite"
POSTGRES: Dialect = "postgres"


class Row(Protocol):
    """A result row: by column name or position, and ``dict(row)``."""

    def __getitem__(self, key: Any, /) -> Any: ...

    def keys(self) -> list[str]: ...


class Conn(Protocol):
    """One connection, inside the transaction its store opened."""

    dialect: Dialect

    async def fetch(self, sql: str, params: Sequence[Any] = ()) -> list[Row]:
        """Run a statement and return its rows (none for a statement without a result)."""
        ...

    async def change(self, sql: str, params: Sequence[Any] = ()) -> int:
        """Run a statement and return how many rows it changed."""
        ...


class SqliteConn:
    """The port on one aiosqlite connection."""

    dialect: Dialect = SQLITE

    def __init__(self, db: aiosqlite.Connection) -> None:
        self._db = db

    async def fetch(self, sql: str, params: Sequence[Any] = ()) -> list[Row]:
        # one trip to aiosqlite's thread (execute, fetch and close there), not three: while a
        # transaction holds the connection, every trip also waits for a turn of the busy loop
        return list(await self._db.execute_fetchall(sql, params))

    async def change(self, sql: str, params: Sequence[Any] = ()) -> int:
        cur = await self._db.execute(sql, params)
        return cur.rowcount


class BusyError(Exception):
    """Another process holds SQLite's write lock right now (a statement that must not wait
    for it, ``SqliteStore.immediate``, gave up at once; nothing was written)."""


class DirectSqliteConn:
    """The port on the sqlite3 connection itself, run in the calling thread: for a short
    statement that must not wait for a turn of the event loop (see ``SqliteStore.immediate``).
    SQLite's busy timeout is 0 while it is used, so a write lock held by another process
    raises ``BusyError`` instead of blocking the loop."""

    dialect: Dialect = SQLITE

    def __init__(self, raw: sqlite3.Connection) -> None:
        self._raw = raw

    async def fetch(self, sql: str, params: Sequence[Any] = ()) -> list[Row]:
        return self._run(sql, params)[0]

    async def change(self, sql: str, params: Sequence[Any] = ()) -> int:
        return self._run(sql, params)[1]

    def _run(self, sql: str, params: Sequence[Any]) -> tuple[list[Row], int]:
        try:
            cur = self._raw.execute(sql, params)
        except sqlite3.OperationalError as exc:
            code = getattr(exc, "sqlite_errorcode", 0) & 0xFF  # the primary result code
            if code in (sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED):
                raise BusyError(str(exc)) from exc
            raise
        try:
            return list(cur.fetchall()), cur.rowcount
        finally:
            cur.close()


class TupleRow:
    """A row of a driver that returns tuples, readable like ``sqlite3.Row``."""

    __slots__ = ("_names", "_values")

    def __init__(self, names: dict[str, int], values: Sequence[Any]) -> None:
        self._names = names
        self._values = values

    def __getitem__(self, key: Any, /) -> Any:
        return self._values[self._names[key] if isinstance(key, str) else key]

    def keys(self) -> list[str]:
        return list(self._names)

    def __iter__(self) -> Iterator[Any]:
        return iter(self._values)

    def __len__(self) -> int:
        return len(self._values)

    def __repr__(self) -> str:
        return f"TupleRow({dict(zip(self._names, self._values, strict=True))!r})"


@lru_cache(maxsize=2048)
def to_numbered(sql: str) -> str:
    """``?`` placeholders → ``$1``, ``$2``, … (PostgreSQL's own, which psycopg's raw cursor
    sends as they are).

    A ``?`` inside a quoted string, a quoted name or a ``--`` comment is text, not a
    placeholder, and stays.
    """
    out: list[str] = []
    quote = ""  # the quote character we are inside of, if any
    comment = False
    number = 0
    for i, ch in enumerate(sql):
        if comment:
            comment = ch != "\n"
        elif quote:
            quote = "" if ch == quote else quote  # '' (an escaped quote) reopens at once
        elif ch in "'\"":
            quote = ch
        elif ch == "-" and sql.startswith("--", i):
            comment = True
        elif ch == "?":
            number += 1
            out.append(f"${number}")
            continue
        out.append(ch)
    return "".join(out)

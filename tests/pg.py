"""The test session's PostgreSQL: one throwaway server (sandbox/postgres.py), a migrated
template database, and a fresh copy of it for every test that asks."""

from __future__ import annotations

import asyncio
import itertools
import os
from collections.abc import Iterator
from typing import NoReturn

import pytest

from core.store.postgres import PgStore
from sandbox.postgres import TempPgBouncer, TempPostgres, find_bindir, temp_pgbouncer, temp_postgres

TEMPLATE = "bot_template"


class PgDatabases:
    """Fresh, migrated databases on the session's server."""

    def __init__(self, server: TempPostgres) -> None:
        self.server = server
        self._names = itertools.count(1)

    def fresh(self) -> str:
        """The URL of a new database at the current schema (a copy of the template)."""
        return self.server.create_database(f"test_{next(self._names)}", template=TEMPLATE)

    def empty(self) -> str:
        """The URL of a new database without any table (to test migrations themselves)."""
        return self.server.create_database(f"empty_{next(self._names)}")


async def _migrate(url: str) -> None:
    async with PgStore.open(url):
        pass


def _missing(message: str) -> NoReturn:
    """Fail in CI (.ci/run installs what the tests need), skip only on a developer's machine."""
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(f"{message}: CI must run these tests (.ci/run installs it)")
    pytest.skip(message)


def pg_databases() -> Iterator[PgDatabases]:
    """Start the server (skipped only locally when PostgreSQL is not installed; CI=true fails
    instead), migrate the template, stop everything at the end."""
    bindir = find_bindir()
    if bindir is None:
        _missing("no PostgreSQL server in /usr/lib/postgresql/*/bin (apt-get install postgresql)")
    with temp_postgres(bindir) as server:
        asyncio.run(_migrate(server.create_database(TEMPLATE)))
        yield PgDatabases(server)


def pgbouncer(databases: PgDatabases) -> Iterator[TempPgBouncer]:
    """PgBouncer in transaction pooling mode in front of the session's server."""
    try:
        with temp_pgbouncer(databases.server) as pooler:
            yield pooler
    except FileNotFoundError as exc:
        _missing(f"{exc}")


def through(pooler: TempPgBouncer, url: str) -> str:
    """The same database, reached through the pooler."""
    return pooler.url(url.rsplit("/", 1)[1])

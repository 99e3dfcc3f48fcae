"""The test session's PostgreSQL: one throwaway server (sandbox/postgres.py), a migrated
template database, and a fresh copy of it for every test that asks."""

from __future__ import annotations

import asyncio
import itertools
import os
from collections.abc import Iterator

import pytest

from core.store.postgres import PgStore
from sandbox.postgres import TempPostgres, find_bindir, temp_postgres

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


def pg_databases() -> Iterator[PgDatabases]:
    """Start the server (skipped only locally when PostgreSQL is not installed; CI=true fails
    instead: .ci/run installs it), migrate the template, stop everything at the end."""
    bindir = find_bindir()
    if bindir is None:
        message = "no PostgreSQL server binaries in /usr/lib/postgresql/*/bin"
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(f"{message}: CI must run the PostgreSQL tests (.ci/run installs it)")
        pytest.skip(f"{message} (apt-get install postgresql)")
    with temp_postgres(bindir) as server:
        asyncio.run(_migrate(server.create_database(TEMPLATE)))
        yield PgDatabases(server)

"""The contract suite runs every test here on both backends: SQLite and PostgreSQL.

Backends: "sqlite", "postgres", and "pgbouncer" (PostgreSQL behind PgBouncer in transaction
pooling mode). A test named ``test_pg_…`` runs on PostgreSQL only; a module may narrow the
backends with ``BACKENDS = ("postgres",)`` (e.g. one that re-runs a SQLite suite from
tests/integration on PostgreSQL). The harness and the stack open the backend's
databases.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

import tests.harness
import tests.stack
from core.store.open import open_store
from core.store.sqlite import Store
from tests.pg import through


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "backend" in metafunc.fixturenames:
        backends = getattr(metafunc.module, "BACKENDS", ("sqlite", "postgres"))
        if metafunc.function.__name__.startswith("test_pg_"):  # needs several connections
            backends = ("postgres",)
        metafunc.parametrize("backend", backends, indirect=True)


@pytest.fixture(autouse=True)
def backend(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """This test's backend; every harness, stack and ``database`` of the test opens a new
    database of it (SQLite in memory or in the stack's folder; a fresh PostgreSQL database)."""
    if request.param == "sqlite":
        return "sqlite"
    databases = request.getfixturevalue("pg")
    fresh = databases.fresh
    if request.param == "pgbouncer":  # PostgreSQL behind a transaction pooler
        pooler = request.getfixturevalue("pooler")

        def fresh() -> str:
            return through(pooler, databases.fresh())

    urls: dict[Path, str] = {}  # one database per folder: a stack restarted on it finds it

    def database_url(folder: Path) -> str:
        if folder not in urls:
            urls[folder] = fresh()
        return urls[folder]

    monkeypatch.setattr(tests.harness, "new_db", fresh)
    monkeypatch.setattr(tests.stack, "new_database_url", database_url)
    return str(request.param)


@pytest.fixture
def database(backend: str) -> str:
    """A new database of this test's backend (":memory:" or a PostgreSQL URL)."""
    return tests.harness.new_db()


@pytest.fixture
async def store(database: str) -> AsyncIterator[Store]:
    async with open_store(database) as opened:
        yield opened

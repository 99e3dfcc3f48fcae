"""The contract suite runs every test here on both backends: SQLite and PostgreSQL.

Backends: "sqlite", "postgres", and "pgbouncer" (PostgreSQL behind PgBouncer in transaction
pooling mode). A test named ``test_pg_…`` runs on PostgreSQL only; a module may narrow the
backends with ``BACKENDS = ("postgres",)`` (e.g. one that re-runs a SQLite suite from
tests/integration on PostgreSQL). The harness opens the backend's database.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

import tests.harness
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
    """The database of this test: ":memory:" SQLite, or a fresh PostgreSQL database."""
    if request.param == "postgres":
        databases = request.getfixturevalue("pg")
        monkeypatch.setattr(tests.harness, "new_db", databases.fresh)
        return str(databases.fresh())
    if request.param == "pgbouncer":  # PostgreSQL behind a transaction pooler
        databases, pooler = request.getfixturevalue("pg"), request.getfixturevalue("pooler")
        monkeypatch.setattr(tests.harness, "new_db", lambda: through(pooler, databases.fresh()))
        return through(pooler, databases.fresh())
    return ":memory:"


@pytest.fixture
async def store(backend: str) -> AsyncIterator[Store]:
    async with open_store(backend) as opened:
        yield opened

"""Shared fixtures: offline guard (loopback only), clean environment, fake clock."""

from __future__ import annotations

import ipaddress
import logging
import os
import re
import socket
from collections.abc import Iterator
from typing import Any

import pytest

from sandbox.postgres import TempPgBouncer
from tests.fakes import FakeClock
from tests.pg import PgDatabases, pg_databases, pgbouncer

_real_connect = socket.socket.connect
_real_connect_ex = socket.socket.connect_ex


def _check_loopback(address: Any) -> None:
    if isinstance(address, tuple) and address:
        host = address[0]
        try:
            if ipaddress.ip_address(host).is_loopback:
                return
        except ValueError:
            if host == "localhost":
                return
        raise RuntimeError(f"network access outside loopback is forbidden in tests: {address!r}")


def _guarded_connect(self: socket.socket, address: Any) -> None:
    _check_loopback(address)
    _real_connect(self, address)


def _guarded_connect_ex(self: socket.socket, address: Any) -> int:
    _check_loopback(address)
    return _real_connect_ex(self, address)


@pytest.fixture(autouse=True)
def _offline(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Fail any test that reaches beyond loopback; keep the developer's env out of tests."""
    monkeypatch.setattr(socket.socket, "connect", _guarded_connect)
    monkeypatch.setattr(socket.socket, "connect_ex", _guarded_connect_ex)
    for key in list(os.environ):
        if key.startswith(("SLACK_", "RMS_", "SHOPS_", "DATABASE_URL")):
            monkeypatch.delenv(key, raising=False)
    monkeypatch.setenv("SKIP_SLACK_SDK_WARNING", "1")
    yield


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


# What may never reach a log line, in any test: the test suite's credentials and the
# customers' e-mail addresses and phone numbers the RMS simulator and the demo scenario make.
_NEVER_LOGGED = re.compile(
    r"SL-(?:main|api)-key|SP-(?:main|api)-secret|test-signing-secret-0123456789"
    r"|a-test-secret-key-for-fernet|@pc\.fw\.rakuten\.ne\.jp|\b0\d{1,4}-\d{1,4}-\d{4}\b"
)


@pytest.fixture(autouse=True)
def _no_secret_or_contact_in_logs(caplog: pytest.LogCaptureFixture) -> Iterator[None]:
    """Every log line of every test is scanned: no secret, no customer e-mail or phone."""
    caplog.set_level(logging.INFO)  # what production logs (LOG_LEVEL=INFO)
    # The access lines of the servers a test starts (the RMS simulator takes the licence key in
    # its URL, as RMS does) are the sandbox's, not the bot's; the bot's own carry only a path.
    caplog.set_level(logging.WARNING, logger="aiohttp.access")
    yield
    leaked = [
        f"{r.name}: {text[:200]}"
        for r in caplog.records
        for text in [_formatted(r)]
        if _NEVER_LOGGED.search(text)
    ]
    assert not leaked, f"a secret or a customer's contact reached the log: {leaked[:3]}"


def _formatted(record: logging.LogRecord) -> str:
    text = record.getMessage()
    if record.exc_info and record.exc_info[1] is not None:
        text += f" {record.exc_info[1]!r}"
    return text


@pytest.fixture(scope="session")
def pg() -> Iterator[PgDatabases]:
    """The session's throwaway PostgreSQL server (started on first use, stopped at the end)."""
    yield from pg_databases()


@pytest.fixture(scope="session")
def pooler(pg: PgDatabases) -> Iterator[TempPgBouncer]:
    """PgBouncer (transaction pooling, as PaaS poolers run) in front of the session's server."""
    yield from pgbouncer(pg)

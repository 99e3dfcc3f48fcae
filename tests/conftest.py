"""Shared fixtures: offline guard (loopback only), clean environment, fake clock."""

from __future__ import annotations

import ipaddress
import os
import socket
from collections.abc import Iterator
from typing import Any

import pytest

from tests.fakes import FakeClock

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

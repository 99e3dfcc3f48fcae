"""aioresponses 0.7.9 on aiohttp ≥ 3.14: supply the new ``stream_writer`` argument it omits.

aiohttp 3.14 made ``ClientResponse.__init__`` require a keyword-only ``stream_writer``; aioresponses
0.7.9 builds responses without it and every mocked call fails with TypeError
(pnuckowski/aioresponses#289). The shim subclasses the ClientResponse aioresponses uses and
defaults the argument to a stub that reports nothing written. It is applied per test through
pytest's monkeypatch, never at import time. Keep mocked bodies under 64 KiB (see #292).
"""

from __future__ import annotations

import inspect
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import aioresponses.core as aioresponses_core
import pytest
from aiohttp import ClientResponse
from aioresponses import aioresponses


class _NoStreamWriter:
    """Stands in for the request writer: a mocked response has nothing left to upload."""

    output_size = 0


class CompatClientResponse(ClientResponse):
    """aiohttp's ClientResponse with ``stream_writer`` optional again."""

    def __init__(self, method: str, url: Any, *, stream_writer: Any = None, **kwargs: Any):
        writer: Any = stream_writer if stream_writer is not None else _NoStreamWriter()
        super().__init__(method, url, stream_writer=writer, **kwargs)


def needs_shim() -> bool:
    """True when this aiohttp requires ``stream_writer``."""
    parameters = inspect.signature(ClientResponse.__init__).parameters
    return "stream_writer" in parameters


def apply(monkeypatch: pytest.MonkeyPatch) -> None:
    """Make aioresponses build responses through :class:`CompatClientResponse` for one test."""
    if needs_shim():
        monkeypatch.setattr(aioresponses_core, "ClientResponse", CompatClientResponse)


@contextmanager
def mocked_http(monkeypatch: pytest.MonkeyPatch) -> Iterator[aioresponses]:
    """An active ``aioresponses`` with the shim applied; use from a fixture."""
    apply(monkeypatch)
    with aioresponses() as mock:
        yield mock

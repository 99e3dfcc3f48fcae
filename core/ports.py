"""Ports: what the core needs from the outside world, named by role."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Protocol

from core.model import ConfirmResult, RmsOrder


class Clock(Protocol):
    """The only way services learn the time or wait."""

    def now(self) -> datetime:
        """Return the current time, timezone-aware UTC."""
        ...

    async def sleep(self, seconds: float) -> None:
        """Wait ``seconds`` of this clock's time."""
        ...

    async def wait(self, event: asyncio.Event, seconds: float) -> None:
        """Wait until ``event`` is set or ``seconds`` of this clock's time have passed."""
        ...


class RmsApi(Protocol):
    """RakutenPay order API of one shop (bound to that shop's credentials and rate limit)."""

    async def search_order_numbers(
        self, *, progress: Sequence[int], start: datetime, end: datetime
    ) -> list[str]:
        """Return every order number ordered in [start, end] in one of ``progress``."""
        ...

    async def get_orders(self, numbers: Sequence[str]) -> list[RmsOrder]:
        """Read orders (any count; ⌈n/100⌉ calls). Unknown numbers are absent from the result."""
        ...

    async def confirm_orders(self, numbers: Sequence[str]) -> list[ConfirmResult]:
        """confirmOrder for ≤ 100 numbers in one call; one result per number. Never retried."""
        ...

    async def update_postage(self, order: RmsOrder, postage_by_basket: Mapping[int, int]) -> None:
        """updateOrderSender: ``order.raw`` with only package postage changed. Never retried."""
        ...

    async def license_expiry(self) -> datetime:
        """Return when this shop's licenceKey expires (aware, JST 23:59:59 of the last day)."""
        ...

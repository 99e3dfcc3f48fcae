"""Plain records the state machine keeps: licence keys, shops and orders."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any

from sandbox.rms.catalog import JST, UNSET, as_aware, end_of_day_jst

KEY_LIFETIME = timedelta(days=90)


@dataclass
class LicenceKey:
    """One licenceKey: usable from ``active_from`` until ``expires`` (inclusive) unless dead."""

    shop_id: str
    key: str
    expires: datetime
    active_from: datetime
    dead: bool = False

    def usable(self, now: datetime) -> bool:
        return not self.dead and self.active_from <= now <= self.expires


@dataclass
class Shop:
    shop_id: str
    service_secret: str
    disabled_functions: frozenset[str] = frozenset()
    serial: int = 0


@dataclass
class SimOrder:
    """An order's OrderModel JSON plus what only Rakuten knows (payment state, timings)."""

    shop_id: str
    model: dict[str, Any]
    ordered_at: datetime
    prepay: bool = False
    payment_ng: bool = False
    confirmed_at: datetime | None = None
    paid_at: datetime | None = None

    @property
    def number(self) -> str:
        return str(self.model["orderNumber"])

    @property
    def progress(self) -> int:
        return int(self.model["orderProgress"])

    def postage_unset(self) -> bool:
        return any(
            p["postagePrice"] == UNSET
            for p in self.model["PackageModelList"]
            if not p.get("packageDeleteFlag")
        )


def default_expiry(now: datetime) -> datetime:
    """RMS keys live 90 days and die at 23:59:59 JST of the last day."""
    return end_of_day_jst(now + KEY_LIFETIME)


def key_expiry(expires: datetime | date | None, now: datetime) -> datetime:
    if expires is None:
        return default_expiry(now)
    if not isinstance(expires, datetime):  # a date: the key dies at 23:59:59 JST of that day
        return datetime.combine(expires, time(23, 59, 59), tzinfo=JST)
    return as_aware(expires)

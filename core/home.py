"""What the App Home dashboard shows per shop, gathered with a few indexed queries."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from core.context import Core
from core.model import Stage
from core.summary import license_days_left

WAITING = (Stage.NEEDS_ACTION, Stage.AWAITING, Stage.ERROR)
"""Stages whose orders wait for staff (and run towards the 14-day auto-cancel)."""


@dataclass(frozen=True, slots=True)
class ShopHome:
    """One shop's dashboard figures."""

    shop: str
    name: str
    counts: tuple[tuple[Stage, int], ...]  # every stage, in Stage order
    oldest_waiting: str | None = None  # order number of the oldest waiting order
    oldest_waiting_at: datetime | None = None  # when it was ordered
    oldest_waiting_stage: Stage | None = None
    last_success: datetime | None = None  # last RMS call that worked
    license_expires: datetime | None = None
    license_days_left: int | None = None
    failing: str | None = None  # error kind while RMS fails for this shop

    def count(self, stage: Stage) -> int:
        """Orders of the shop in ``stage``."""
        return dict(self.counts).get(stage, 0)


async def gather_home(core: Core) -> list[ShopHome]:
    """Dashboard figures for every configured shop, in configuration order."""
    now = core.clock.now()
    homes: list[ShopHome] = []
    for key, shop in core.shops.items():
        counts = await core.store.stage_counts(key)
        row = await core.store.shop_row(key)
        async with core.store.read() as r:
            oldest = await r.oldest_in_stages(key, [s.value for s in WAITING])
        expires = _dt(row.get("license_expires"))
        homes.append(
            ShopHome(
                shop=key,
                name=shop.name,
                counts=tuple((stage, counts.get(stage, 0)) for stage in Stage),
                oldest_waiting=oldest["number"] if oldest is not None else None,
                oldest_waiting_at=_dt(oldest["ordered_at"]) if oldest is not None else None,
                oldest_waiting_stage=Stage(oldest["stage"]) if oldest is not None else None,
                last_success=_dt(row.get("last_success")),
                license_expires=expires,
                license_days_left=license_days_left(expires, now),
                failing=core.failing.get(key),
            )
        )
    return homes


def _dt(value: object) -> datetime | None:
    return datetime.fromisoformat(value) if isinstance(value, str) and value else None

"""What a manager reads beyond counts: amounts, lead times, orders to act on, fees approved."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from statistics import median

from core.events import EventKind
from core.model import Stage
from core.store import summary as figures
from core.store.sqlite import Store

MAX_WAITING = 10
"""Orders needing action listed by number (oldest order first); the rest are counted."""
_LEAD_KINDS = (EventKind.ORDER_CONFIRMED, EventKind.ORDER_PROCESSED, EventKind.ORDER_FEE_RESOLVED)


@dataclass(frozen=True, slots=True)
class Waiting:
    """An order someone must act on: its stage, why, and when it was ordered (RMS's time)."""

    number: str
    stage: Stage
    reason: str | None
    ordered_at: datetime


@dataclass(frozen=True, slots=True)
class FeeApproval:
    """A -9,999 order whose fee someone approved during the day."""

    number: str
    actor: str
    fees: tuple[int, ...]
    via_api: bool


@dataclass(frozen=True, slots=True)
class DayDetail:
    """The day's amounts and lead times (medians in minutes), and what is left to do."""

    amount: int = 0  # 受注金額 of the orders received during the day
    to_confirm: int | None = None  # median minutes 注文 → 注文確認 (confirmed during the day)
    to_processed: int | None = None  # median minutes 注文確認 → 楽天処理済 (RMS's own times)
    waiting: tuple[Waiting, ...] = ()  # oldest first, at most MAX_WAITING
    waiting_total: int = 0
    fees: tuple[FeeApproval, ...] = ()


def _minutes(values: Sequence[float]) -> int | None:
    return round(median(values)) if values else None


async def day_detail(store: Store, shop: str, start: str, end: str) -> DayDetail:
    """The detail of one shop's day [start, end) (UTC ISO text)."""
    kinds = [k.value for k in _LEAD_KINDS]
    async with store.read() as r:
        created = await figures.created_numbers(r, shop, start, end)
        events = await figures.day_events(r, shop, kinds, start, end)
    received = await store.get_orders(created)
    amount = sum(
        o.snapshot.total_price if o.snapshot.total_price > 0 else o.snapshot.goods_price
        for o in received.values()
    )
    confirmed = [row["order_number"] for row in events if row["kind"] == kinds[0]]
    records = await store.get_orders(confirmed)
    to_confirm = [
        (r.confirmed_at - r.snapshot.ordered_at).total_seconds() / 60
        for r in records.values()
        if r.confirmed_at is not None
    ]
    to_processed: list[float] = []
    fees: list[FeeApproval] = []
    for row in events:
        data = json.loads(row["data"] or "{}")
        if row["kind"] == kinds[1] and isinstance(data.get("minutes"), int | float):
            to_processed.append(float(data["minutes"]))
        if row["kind"] == kinds[2] and data.get("actor"):
            amounts = tuple(int(v) for v in (data.get("fees") or {}).values())
            approval = FeeApproval(
                str(row["order_number"]), str(data["actor"]), amounts, bool(data.get("via_api"))
            )
            fees.append(approval)
    waiting = sorted(
        await store.orders_in_stages(shop, [Stage.NEEDS_ACTION, Stage.ERROR]),
        key=lambda r: r.snapshot.ordered_at,
    )
    return DayDetail(
        amount=amount,
        to_confirm=_minutes(to_confirm),
        to_processed=_minutes(to_processed),
        waiting=tuple(
            Waiting(r.number, r.stage, r.flag_reason or r.error_key, r.snapshot.ordered_at)
            for r in waiting[:MAX_WAITING]
        ),
        waiting_total=len(waiting),
        fees=tuple(fees),
    )


def total_detail(details: Sequence[DayDetail]) -> DayDetail:
    """All shops together: sums, the oldest waiting orders, and medians of the shops' medians
    (the per-order times are not kept, and shops differ more than their orders do)."""
    waiting = sorted((w for d in details for w in d.waiting), key=lambda w: w.ordered_at)
    confirm = [d.to_confirm for d in details if d.to_confirm is not None]
    processed = [d.to_processed for d in details if d.to_processed is not None]
    return DayDetail(
        amount=sum(d.amount for d in details),
        to_confirm=_minutes(confirm),
        to_processed=_minutes(processed),
        waiting=tuple(waiting[:MAX_WAITING]),
        waiting_total=sum(d.waiting_total for d in details),
        fees=tuple(f for d in details for f in d.fees),
    )

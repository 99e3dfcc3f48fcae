"""The daily summary for managers: per-shop figures of one day from SQL aggregates.

When to post it lives in core/summary_time.py (re-exported here).
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, time, timedelta, tzinfo
from typing import Any

from core.events import EventKind
from core.lifecycle import JST
from core.model import ShopConfig, Stage
from core.store import summary as figures
from core.store.refs import ref_value
from core.store.sqlite import Store
from core.summary_time import MAX_CATCH_UP_DAYS as MAX_CATCH_UP_DAYS
from core.summary_time import due_summary_days as due_summary_days
from core.summary_time import next_summary_time as next_summary_time

NEAR_CANCEL_DAYS = 3
"""Unconfirmed orders whose auto-cancel date is at most this many days away are counted."""

SUMMARY_JOB = "daily_summary"
"""``runs`` job name: claim_run(SUMMARY_JOB, day.isoformat(), now) posts a day exactly once."""
_STATE_REF = "summary_state:{shop}:{day}"
_UNCONFIRMED = (Stage.AWAITING, Stage.NEEDS_ACTION, Stage.ERROR)
_OPEN = (Stage.AWAITING, Stage.NEEDS_ACTION, Stage.SENDING, Stage.PROCESSING, Stage.ERROR)
_DAY_KINDS = (
    EventKind.ORDER_CONFIRMED,
    EventKind.ORDER_ADOPTED,
    EventKind.ORDER_PROCESSED,
    EventKind.ORDER_CANCELLED,
    EventKind.ORDER_FLAGGED,
    EventKind.ORDER_ERROR,
)
_STATE_FIELDS = ("awaiting", "processing", "needs_action", "error_orders", "near_cancel")

Pairs = tuple[tuple[str, int], ...]


@dataclass(frozen=True, slots=True)
class ShopDay:
    """One shop's day (or the total when ``shop`` is empty).

    Day figures count distinct orders from the outbox events of the day; state figures
    (awaiting … near_cancel) are the stage counts when the summary was built. ``previous``
    is the day before, whose state figures exist only if a summary was built that day
    (``has_state``).
    """

    shop: str
    name: str
    day: date
    new: int = 0
    confirmed: int = 0  # by the bot and in RMS (adopted)
    confirmed_by: Pairs = ()  # (Slack user id or "rms", orders), most first
    processed: int = 0
    cancelled: int = 0
    flagged: int = 0
    errors: Pairs = ()  # (remediation key, orders), most first
    has_state: bool = True
    awaiting: int = 0
    processing: int = 0
    processing_since: datetime | None = None  # the oldest order still 楽天処理中 entered it then
    needs_action: int = 0
    needs_action_since: datetime | None = None
    error_orders: int = 0
    near_cancel: int = 0
    license_expires: datetime | None = None
    license_days_left: int | None = None
    previous: ShopDay | None = field(default=None, compare=False)

    @property
    def error_count(self) -> int:
        """Orders that failed with an RMS error during the day."""
        return sum(n for _, n in self.errors)

    @property
    def attention(self) -> int:
        """Orders someone must act on now: 要対応, エラー and close to auto-cancel."""
        return self.needs_action + self.error_orders + self.near_cancel

    @property
    def active(self) -> bool:
        """True when anything happened during the day."""
        return any(
            (self.new, self.confirmed, self.processed, self.cancelled, self.flagged, self.errors)
        )


@dataclass(frozen=True, slots=True)
class DailySummary:
    """The summary of one day (in ``tz``) for every shop, plus their total."""

    day: date
    generated_at: datetime
    shops: tuple[ShopDay, ...]
    total: ShopDay
    is_today: bool = True  # False for a summary caught up after downtime

    @property
    def quiet(self) -> bool:
        """Nothing happened and nothing waits: the short all-clear is enough."""
        return not self.total.active and self.total.attention == 0 and not self.total.processing


def day_bounds(day: date, tz: tzinfo) -> tuple[datetime, datetime]:
    """[00:00, next 00:00) of ``day`` in ``tz``, as UTC (the store keeps UTC ISO text)."""
    start = datetime.combine(day, time(0), tzinfo=tz).astimezone(UTC)
    end = datetime.combine(day + timedelta(days=1), time(0), tzinfo=tz).astimezone(UTC)
    return start, end


def license_days_left(expires: datetime | None, now: datetime) -> int | None:
    """Whole days (JST calendar) until the key's last day; 0 on that day, negative after."""
    if expires is None:
        return None
    return (expires.astimezone(JST).date() - now.astimezone(JST).date()).days


async def build_summary(
    store: Store,
    shops: Mapping[str, ShopConfig],
    day: date,
    tz: tzinfo,
    now: datetime,
    *,
    remember: bool = True,
) -> DailySummary:
    """Per shop and total: the figures of ``day`` beside those of the day before.

    With ``remember`` the state figures are stored for ``day`` (for tomorrow's comparison):
    overwritten while ``day`` is today, kept once written for a past day.
    """
    today = now.astimezone(tz).date()
    days: list[ShopDay] = []
    for shop in shops.values():
        current, previous = await _shop_days(store, shop, day, tz, now)
        days.append(replace(current, previous=previous))
    if remember:
        await _remember_states(store, days, overwrite=day >= today)
    total = _total(days, day)
    previous_total = _total([d.previous for d in days if d.previous], day - timedelta(days=1))
    return DailySummary(
        day, now, tuple(days), replace(total, previous=previous_total), is_today=day == today
    )


async def _shop_days(
    store: Store, shop: ShopConfig, day: date, tz: tzinfo, now: datetime
) -> tuple[ShopDay, ShopDay]:
    prev_day = day - timedelta(days=1)
    prev_start, start = day_bounds(prev_day, tz)
    _, end = day_bounds(day, tz)
    kinds = [k.value for k in _DAY_KINDS]
    near = (now.astimezone(JST).date() + timedelta(days=NEAR_CANCEL_DAYS)).isoformat()
    async with store.read() as r:
        events = await figures.event_counts(
            r, shop.key, kinds, prev_start.isoformat(), start.isoformat(), end.isoformat()
        )
        created = await figures.created_counts(
            r, shop.key, prev_start.isoformat(), start.isoformat(), end.isoformat()
        )
        stages = await figures.stage_figures(r, shop.key, [s.value for s in _OPEN])
        near_cancel = await figures.near_cancel_count(
            r, shop.key, [s.value for s in _UNCONFIRMED], near
        )
        expires = _dt(await figures.license_expires(r, shop.key))
        state = await ref_value(r, _STATE_REF.format(shop=shop.key, day=prev_day.isoformat()))
    by_stage = {Stage(row["stage"]): (row["n"], _dt(row["since"])) for row in stages}
    current = ShopDay(
        shop.key,
        shop.name,
        day,
        awaiting=by_stage.get(Stage.AWAITING, (0, None))[0],
        processing=by_stage.get(Stage.PROCESSING, (0, None))[0],
        processing_since=by_stage.get(Stage.PROCESSING, (0, None))[1],
        needs_action=by_stage.get(Stage.NEEDS_ACTION, (0, None))[0],
        needs_action_since=by_stage.get(Stage.NEEDS_ACTION, (0, None))[1],
        error_orders=by_stage.get(Stage.ERROR, (0, None))[0],
        near_cancel=near_cancel,
        license_expires=expires,
        license_days_left=license_days_left(expires, now),
    )
    previous = _stored_state(ShopDay(shop.key, shop.name, prev_day), state)
    rows = [dict(row) for row in events]
    made = [dict(row) for row in created]
    return (
        _with_events(current, [r for r in rows if r["today"]], made, today=True),
        _with_events(previous, [r for r in rows if not r["today"]], made, today=False),
    )


def _stored_state(day: ShopDay, text: str | None) -> ShopDay:
    """The state figures remembered when that day's summary was built (if it was)."""
    if text is None:
        return replace(day, has_state=False)
    stored = json.loads(text)
    return replace(
        day,
        awaiting=int(stored.get("awaiting", 0)),
        processing=int(stored.get("processing", 0)),
        needs_action=int(stored.get("needs_action", 0)),
        error_orders=int(stored.get("error_orders", 0)),
        near_cancel=int(stored.get("near_cancel", 0)),
    )


def _with_events(
    day: ShopDay,
    rows: Iterable[Mapping[str, Any]],
    created: Iterable[Mapping[str, Any]],
    *,
    today: bool,
) -> ShopDay:
    counts: Counter[str] = Counter()
    by_actor: Counter[str] = Counter()
    errors: Counter[str] = Counter()
    for row in rows:
        kind, n = row["kind"], int(row["n"])
        counts[kind] += n
        if kind == EventKind.ORDER_CONFIRMED.value:
            by_actor[str(row["sub"] or "?")] += n
        elif kind == EventKind.ORDER_ADOPTED.value:
            by_actor["rms"] += n
        elif kind == EventKind.ORDER_ERROR.value:
            errors[str(row["sub"] or "unknown")] += n
    new = sum(int(row["n"]) for row in created if bool(row["today"]) is today)
    return replace(
        day,
        new=new,
        confirmed=sum(by_actor.values()),
        confirmed_by=_pairs(by_actor),
        processed=counts[EventKind.ORDER_PROCESSED.value],
        cancelled=counts[EventKind.ORDER_CANCELLED.value],
        flagged=counts[EventKind.ORDER_FLAGGED.value],
        errors=_pairs(errors),
    )


def _pairs(counter: Counter[str]) -> Pairs:
    return tuple(sorted(counter.items(), key=lambda kv: (-kv[1], kv[0])))


def _dt(value: str | None) -> datetime | None:
    return datetime.fromisoformat(value) if value else None


def _total(days: Sequence[ShopDay], day: date) -> ShopDay:
    """Sums over shops; the oldest age and the fewest licence days are the worst shop's."""
    actors: Counter[str] = Counter()
    errors: Counter[str] = Counter()
    for d in days:
        actors.update(dict(d.confirmed_by))
        errors.update(dict(d.errors))
    known = [d for d in days if d.license_days_left is not None]
    worst = min(known, key=lambda d: d.license_days_left or 0) if known else None
    return ShopDay(
        "",
        "",
        day,
        new=sum(d.new for d in days),
        confirmed=sum(d.confirmed for d in days),
        confirmed_by=_pairs(actors),
        processed=sum(d.processed for d in days),
        cancelled=sum(d.cancelled for d in days),
        flagged=sum(d.flagged for d in days),
        errors=_pairs(errors),
        has_state=bool(days) and all(d.has_state for d in days),
        awaiting=sum(d.awaiting for d in days),
        processing=sum(d.processing for d in days),
        processing_since=min(
            (d.processing_since for d in days if d.processing_since), default=None
        ),
        needs_action=sum(d.needs_action for d in days),
        needs_action_since=min(
            (d.needs_action_since for d in days if d.needs_action_since), default=None
        ),
        error_orders=sum(d.error_orders for d in days),
        near_cancel=sum(d.near_cancel for d in days),
        license_expires=worst.license_expires if worst else None,
        license_days_left=worst.license_days_left if worst else None,
    )


async def _remember_states(store: Store, days: Sequence[ShopDay], *, overwrite: bool) -> None:
    """Keep each shop's state figures of the day, for the next day's comparison."""
    async with store.tx() as t:
        for day in days:
            await figures.remember_state(
                t,
                _STATE_REF.format(shop=day.shop, day=day.day.isoformat()),
                json.dumps({k: getattr(day, k) for k in _STATE_FIELDS}),
                overwrite=overwrite,
            )


async def last_summary_day(store: Store) -> date | None:
    """The latest day whose summary was claimed (``last_done`` for ``due_summary_days``)."""
    async with store.read() as r:
        value = await figures.last_period(r, SUMMARY_JOB)
    return date.fromisoformat(value) if value else None

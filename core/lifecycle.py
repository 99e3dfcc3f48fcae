"""Pure stage derivation: (previous record, new RMS snapshot, now) → new record + events."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from core.events import EventKind, FlagReason
from core.model import CANCELLED_PROGRESS, OrderRecord, RmsOrder, Stage

JST = ZoneInfo("Asia/Tokyo")
PREPAY_SETTLEMENT_CODES = frozenset({9, 13, 14})  # 銀行振込, コンビニ前払い: 楽天処理中 for days
UNCONFIRMED = frozenset({Stage.AWAITING, Stage.NEEDS_ACTION, Stage.ERROR})
DEADLINE_WARN_DAYS = 2  # warn when an unconfirmed order is this close to the 14-day auto-cancel
DEFAULT_MAX_POSTAGE_YEN = 20_000  # MAX_POSTAGE_YEN: a fee above it never reaches RMS


@dataclass(frozen=True, slots=True)
class Policy:
    """Timing rules and limits of the lifecycle (all configurable from Settings)."""

    poll_interval: timedelta = timedelta(seconds=300)  # the classic 5-minute poll: slowest cadence
    young_interval: timedelta = timedelta(seconds=60)  # adaptive: young in-flight orders
    young_for: timedelta = timedelta(hours=2)
    stuck_after: timedelta = timedelta(hours=2)
    stuck_after_prepay: timedelta = timedelta(hours=72)
    deadline_warn_days: int = DEADLINE_WARN_DAYS
    max_postage_yen: int = DEFAULT_MAX_POSTAGE_YEN
    bundle_window: timedelta = timedelta(hours=48)  # 楽天処理済 orders stay 同梱 candidates

    def next_poll(self, record: OrderRecord, now: datetime) -> datetime:
        """When to read an in-flight order again: sooner while it is young."""
        since = record.snapshot.confirmed_at or record.stage_since
        young = now - since < self.young_for
        return now + (self.young_interval if young else self.poll_interval)


@dataclass(frozen=True, slots=True)
class Change:
    """The outcome of applying a snapshot: the record to store and the events to emit."""

    record: OrderRecord
    events: tuple[tuple[EventKind, Mapping[str, Any]], ...] = ()
    adopted: bool = False  # RMS shows it confirmed and we hold no intent: record one as "rms"


def derive_stage(
    snap: RmsOrder, prev: OrderRecord | None, *, pending: bool = False, reset: bool = False
) -> tuple[Stage, str | None]:
    """Return the stage (and flag reason) for a snapshot, given what we knew before.

    確認送信中 ⇔ a pending intent: an order still 100 in RMS is 確認送信中 exactly while its
    confirmation is claimed and unresolved, whatever a re-fetch says.
    """
    progress = snap.progress
    if progress in CANCELLED_PROGRESS:
        return Stage.CANCELLED, None
    if progress >= 300:
        return Stage.PROCESSED, None
    if progress >= 200:
        return Stage.PROCESSING, None
    prev_stage = prev.stage if prev else None
    if pending:
        return Stage.SENDING, None
    if snap.fee_unset:
        return Stage.NEEDS_ACTION, FlagReason.SHIPPING_FEE_UNSET.value
    keep = prev_stage in (Stage.ERROR, Stage.NEEDS_ACTION) and not reset
    if prev and keep and prev.flag_reason != FlagReason.SHIPPING_FEE_UNSET.value:
        return prev.stage, prev.flag_reason
    return Stage.AWAITING, None


def days_left(due: Any, now: datetime) -> int:
    """Whole days from today (JST) until the cancel due date."""
    return int((due - now.astimezone(JST).date()).days)


def apply_snapshot(
    prev: OrderRecord | None,
    snap: RmsOrder,
    shop: str,
    now: datetime,
    policy: Policy,
    *,
    has_intent: bool,
    pending: bool = False,
    reset: bool = False,
) -> Change:
    """Merge a fresh RMS snapshot into our record and say what changed."""
    stage, reason = derive_stage(snap, prev, pending=pending, reset=reset)
    changed = prev is None or prev.stage is not stage
    base = prev or OrderRecord(
        number=snap.number, shop=shop, stage=stage, snapshot=snap, stage_since=now
    )
    record = replace(
        base,
        stage=stage,
        snapshot=snap,
        flag_reason=reason,
        stage_since=now if changed else base.stage_since,
        polling=stage is Stage.PROCESSING,
    )
    if stage is not Stage.ERROR:
        record = replace(record, error_key=None, error_code=None, error_message="")
    if stage is Stage.PROCESSING and prev is not None and prev.stage is not Stage.PROCESSING:
        record = replace(record, stuck_reported=False)
    record = replace(record, next_poll_at=policy.next_poll(record, now) if record.polling else None)

    events: list[tuple[EventKind, Mapping[str, Any]]] = []
    adopted = stage in (Stage.PROCESSING, Stage.PROCESSED) and not has_intent
    if changed:
        events += _stage_events(prev, record, adopted)
    record, extra = _timers(record, now, policy)
    events += extra
    return Change(record=record, events=tuple(events), adopted=adopted)


def _stage_events(
    prev: OrderRecord | None, record: OrderRecord, adopted: bool
) -> list[tuple[EventKind, Mapping[str, Any]]]:
    stage, snap = record.stage, record.snapshot
    prev_stage = prev.stage.value if prev else None
    if stage is Stage.NEEDS_ACTION:
        return [
            (
                EventKind.ORDER_FLAGGED,
                {"reason": record.flag_reason, "fields": list(snap.unset_fee_fields())},
            )
        ]
    if stage is Stage.AWAITING:
        if prev is not None and prev.stage is Stage.NEEDS_ACTION:
            fees = {str(p.basket_id): p.postage_price for p in snap.packages}
            return [(EventKind.ORDER_FEE_RESOLVED, {"fees": fees, "via_api": False})]
        return [(EventKind.ORDER_NEW, {})] if prev is None else []
    if stage is Stage.PROCESSING:
        return [(EventKind.ORDER_ADOPTED, {"from": prev_stage})] if adopted else []
    if stage is Stage.PROCESSED:
        events: list[tuple[EventKind, Mapping[str, Any]]] = []
        if adopted:
            events.append((EventKind.ORDER_ADOPTED, {"from": prev_stage}))
        minutes = None
        if snap.confirmed_at and snap.fixed_at:
            minutes = round((snap.fixed_at - snap.confirmed_at).total_seconds() / 60)
        events.append((EventKind.ORDER_PROCESSED, {"from": prev_stage, "minutes": minutes}))
        return events
    if stage is Stage.CANCELLED:
        return [(EventKind.ORDER_CANCELLED, {"progress": snap.progress, "from": prev_stage})]
    return []


def _timers(
    record: OrderRecord, now: datetime, policy: Policy
) -> tuple[OrderRecord, list[tuple[EventKind, Mapping[str, Any]]]]:
    """Deadline (14-day auto-cancel) and stuck-in-楽天処理中 warnings, each once."""
    events: list[tuple[EventKind, Mapping[str, Any]]] = []
    snap = record.snapshot
    if record.stage in UNCONFIRMED and snap.cancel_due and not record.deadline_warned:
        left = days_left(snap.cancel_due, now)
        if left <= policy.deadline_warn_days:
            events.append(
                (
                    EventKind.CANCEL_DEADLINE_NEAR,
                    {"due": snap.cancel_due.isoformat(), "days_left": left},
                )
            )
            record = replace(record, deadline_warned=True)
    if record.stage is Stage.PROCESSING and not record.stuck_reported:
        since = snap.confirmed_at or record.stage_since
        prepay = snap.settlement_code in PREPAY_SETTLEMENT_CODES
        limit = policy.stuck_after_prepay if prepay else policy.stuck_after
        if now - since >= limit:
            hours = round((now - since).total_seconds() / 3600, 1)
            events.append((EventKind.ORDER_STUCK, {"hours": hours, "prepay": prepay}))
            record = replace(record, stuck_reported=True)
    return record, events


def with_error(record: OrderRecord, key: str, code: str | None, message: str) -> OrderRecord:
    """Put an order into エラー with the remediation key and RMS's code/message."""
    return replace(
        record,
        stage=Stage.ERROR,
        error_key=key,
        error_code=code,
        error_message=message,
        polling=False,
        next_poll_at=None,
    )


@dataclass(frozen=True, slots=True)
class FeeCheck:
    """Validation of fees entered by staff for a -9999 order."""

    fees: Mapping[int, int] = field(default_factory=dict)
    problems: tuple[str, ...] = ()


def check_fees(
    snap: RmsOrder, entered: Mapping[int, str], max_fee: int = DEFAULT_MAX_POSTAGE_YEN
) -> FeeCheck:
    """Validate per-package fee text: an integer yen in 0…max_fee for every package."""
    problems: list[str] = []
    fees: dict[int, int] = {}
    for package in snap.packages:
        text = entered.get(package.basket_id)
        value = _parse_yen(text, max_fee) if text is not None else None
        if value is None:
            problems.append(str(package.basket_id))
        else:
            fees[package.basket_id] = value
    return FeeCheck(fees=fees, problems=tuple(problems))


def _parse_yen(text: str, max_fee: int) -> int | None:
    cleaned = text.strip().translate(_FULLWIDTH).replace(",", "").replace("円", "").replace("¥", "")
    if not cleaned.isdigit() or not cleaned.isascii() or len(cleaned) > 12:
        return None
    value = int(cleaned)
    return value if value <= max_fee else None


_FULLWIDTH = str.maketrans("０１２３４５６７８９，", "0123456789,")

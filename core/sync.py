"""Intake of new orders, result polling, deadline checks and intent reconciliation per shop."""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass
from datetime import datetime, timedelta

from core.confirm import send_chunk
from core.errors import RmsError
from core.events import EventKind
from core.lifecycle import UNCONFIRMED, apply_snapshot, with_error
from core.model import MAX_NUMBERS_PER_CALL, Stage
from core.outcomes import OrderOutcome
from core.service import Core, Read, apply_in, apply_snapshots, fetch, note_rms_result

logger = logging.getLogger(__name__)
RECONCILE_AFTER = timedelta(minutes=2)  # an intent older than this with no outcome is stale


@dataclass(frozen=True, slots=True)
class CycleReport:
    """What one intake or poll cycle did (for logs, health and benchmarks)."""

    shop: str
    new: int = 0
    read: int = 0
    calls: int = 0
    error: str | None = None


async def intake(core: Core, shop: str) -> CycleReport:
    """Fetch new orders from the shop's acquisition status and re-read the ones that moved."""
    cfg = core.shop(shop)
    now = core.clock.now()
    await _warn_acquisition_once(core, shop, cfg.acquisition_progress)
    api = core.api(shop)
    try:
        found = await api.search_order_numbers(
            progress=[cfg.acquisition_progress], start=now - timedelta(days=cfg.days_back), end=now
        )
        known = await core.store.known_numbers(found)
        watched = await core.store.numbers_in_stages(shop, UNCONFIRMED)
        found_set = set(found)
        # New orders, plus unconfirmed ones RMS no longer lists (confirmed in RMS, cancelled),
        # plus flagged ones (a fee fixed in RMS makes them confirmable).
        flagged = set(await core.store.numbers_in_stages(shop, [Stage.NEEDS_ACTION]))
        recheck = [n for n in watched if n not in found_set or n in flagged]
        to_read = list(dict.fromkeys([n for n in found if n not in known] + recheck))
        read = await fetch(core, shop, to_read) if to_read else Read((), {})
    except RmsError as exc:
        await note_rms_result(core, shop, exc)
        return CycleReport(shop, error=exc.kind)
    await note_rms_result(core, shop, None)
    await apply_snapshots(core, shop, read)
    await check_deadlines(core, shop)
    calls = 1 + math.ceil(len(to_read) / MAX_NUMBERS_PER_CALL)
    new = len([n for n in found if n not in known])
    return CycleReport(shop, new=new, read=len(read.snaps), calls=calls)


async def _warn_acquisition_once(core: Core, shop: str, progress: int) -> None:
    if progress == 100:
        return
    key = f"acquisition_warned:{shop}:{progress}"
    if await core.store.get_ref(key):
        return
    now = core.clock.now()
    async with core.store.tx() as tx:
        await tx.add_event(
            shop,
            EventKind.ACQUISITION_WARNING,
            None,
            now,
            {"progress": progress, "days_back": core.shop(shop).days_back},
        )
    await core.store.set_ref(key, now.isoformat())


async def poll(core: Core, shop: str, *, max_calls: int | None = None) -> CycleReport:
    """Re-read in-flight orders whose next poll is due, ≤ 100 per getOrder, most overdue first."""
    now = core.clock.now()
    limit = (max_calls or 10_000) * MAX_NUMBERS_PER_CALL
    due = await core.store.due_for_poll(shop, now, limit)
    if not due:
        return CycleReport(shop)
    try:
        read = await fetch(core, shop, due)
    except RmsError as exc:
        await note_rms_result(core, shop, exc)
        return CycleReport(shop, error=exc.kind)
    await note_rms_result(core, shop, None)
    await apply_snapshots(core, shop, read)
    missing = set(due) - read.found
    if missing:  # RMS no longer returns them (older than 730 days): stop polling, say so once
        logger.warning("shop %s: %d polled orders not returned by RMS", shop, len(missing))
        await _stop_polling(core, missing, now)
    return CycleReport(shop, read=len(read.snaps), calls=math.ceil(len(due) / MAX_NUMBERS_PER_CALL))


async def _stop_polling(core: Core, numbers: set[str], now: datetime) -> None:
    from dataclasses import replace

    async with core.store.tx() as tx:
        for record in (await tx.get_orders(numbers)).values():
            await tx.save_order(replace(record, polling=False, next_poll_at=None), now)


async def check_deadlines(core: Core, shop: str) -> None:
    """Fire the near-auto-cancel warning for unconfirmed orders as days pass (no RMS call)."""
    now = core.clock.now()
    records = await core.store.orders_in_stages(shop, UNCONFIRMED)
    due = [r for r in records if r.snapshot.cancel_due and not r.deadline_warned]
    if not due:
        return
    async with core.store.tx() as tx:
        for record in due:
            change = apply_snapshot(
                record, record.snapshot, shop, now, core.policy, has_intent=False
            )
            if change.events:
                await tx.save_order(change.record, now)
                for kind, data in change.events:
                    await tx.add_event(shop, kind, record.number, now, data)


async def reconcile(core: Core, shop: str, *, startup: bool = False) -> int:
    """Resolve intents left without an outcome (a crash, a lost answer) with getOrder.

    Confirmed in RMS → recorded; still 100 → confirmOrder is sent now (it was never applied:
    RMS confirms synchronously); not found → released with an error. Returns the number of
    intents resolved. Intents of an unfinished request are left to the request's own resume.
    """
    await sweep(core, shop)
    now = core.clock.now()
    owned = await core.store.open_request_ids()
    pending = [
        i
        for i in await core.store.pending_intents(shop)
        if i.order_number not in core.in_flight
        and i.request_id not in owned
        and (startup or now - i.updated_at >= RECONCILE_AFTER)
    ]
    if not pending:
        return 0
    numbers = [i.order_number for i in pending]
    actors = {i.order_number: i.actor for i in pending}
    core.in_flight.update(numbers)
    try:
        try:
            read = await fetch(core, shop, numbers)
        except RmsError as exc:
            await note_rms_result(core, shop, exc)
            return 0
        moved = Read([s for s in read.snaps if s.progress != 100], read.versions)
        lost = [n for n in numbers if n not in read.found]
        async with core.store.tx() as tx:
            changes = await apply_in(tx, core, shop, moved, reset=True)
            for snap in moved.snaps:
                change = changes.get(snap.number)
                if change is not None and change.record.stage is not Stage.CANCELLED:
                    await tx.add_event(
                        shop,
                        EventKind.ORDER_CONFIRMED,
                        snap.number,
                        now,
                        {"actor": actors[snap.number], "reconciled": True},
                    )
            records = await tx.get_orders(lost)
            for number in lost:  # RMS does not know it: release it, say so
                await tx.set_intent(number, "failed", now, code="NOT_FOUND")
                record = records.get(number)
                if record is not None:
                    await tx.save_order(
                        with_error(record, "unknown", "NOT_FOUND", "not found in RMS"), now
                    )
                await tx.add_event(
                    shop,
                    EventKind.ORDER_ERROR,
                    number,
                    now,
                    {
                        "error_key": "unknown",
                        "code": "NOT_FOUND",
                        "message": "not found in RMS",
                        "bot_did": ["refetched"],
                    },
                )
        resend = [s.number for s in read.snaps if s.progress == 100]
        outcomes: dict[str, OrderOutcome] = {}
        for i in range(0, len(resend), MAX_NUMBERS_PER_CALL):
            chunk = resend[i : i + MAX_NUMBERS_PER_CALL]
            await send_chunk(core, shop, chunk, actors[chunk[0]], outcomes, reconciled=True)
        logger.info("shop %s: reconciled %d intent(s), resent %d", shop, len(numbers), len(resend))
        return len(numbers)
    finally:
        core.in_flight.difference_update(numbers)


STALE_FEE_CLAIM = timedelta(minutes=10)  # a fee write takes seconds; this one was interrupted


async def sweep(core: Core, shop: str) -> int:
    """Release what a crash could still leave behind; returns how many things were released.

    確認送信中 without a pending intent goes back to what its snapshot says; a fee write left
    'running' by a process that died is marked failed, so the fee can be approved again (the
    write path re-reads RMS first and never writes a fee that is already there).
    """
    now = core.clock.now()
    stranded = await core.store.stranded_sending(shop)
    stale = await core.store.stale_fee_claims(shop, now - STALE_FEE_CLAIM)
    if not stranded and not stale:
        return 0
    async with core.store.tx() as tx:
        for record in stranded:
            change = apply_snapshot(
                record, record.snapshot, shop, now, core.policy, has_intent=False, reset=True
            )
            await tx.save_order(change.record, now)
            for kind, data in change.events:
                await tx.add_event(shop, kind, record.number, now, data)
            await tx.audit(shop, "bot", "sweep", "released", now, order_number=record.number)
        for number in stale:
            await tx.finish_fee(number, "failed", now)
            await tx.audit(shop, "bot", "sweep", "fee_claim_released", now, order_number=number)
    logger.info(
        "shop %s: released %d stranded order(s), %d fee claim(s)", shop, len(stranded), len(stale)
    )
    return len(stranded) + len(stale)

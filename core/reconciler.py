"""Intent reconciliation and the crash sweep: resolve what a crash or a lost answer left open."""

from __future__ import annotations

import logging
from datetime import timedelta

from core.confirm import send_chunk
from core.context import Core
from core.errors import RmsError
from core.events import EventKind
from core.leader import fence
from core.lifecycle import apply_snapshot, with_error
from core.model import MAX_NUMBERS_PER_CALL, Stage
from core.outcomes import OrderOutcome
from core.snapshots import Read, apply_in, fetch, note_rms_result

logger = logging.getLogger(__name__)
RECONCILE_AFTER = timedelta(minutes=2)  # an intent older than this with no outcome is stale
STALE_FEE_CLAIM = timedelta(minutes=10)  # a fee write takes seconds; this one was interrupted


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
        await fence(core.lease, tx)  # a stale leader releases nothing the new one may own
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

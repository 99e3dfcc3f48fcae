"""Intake of new orders per shop, the auto-cancel deadline check, and what a cycle did."""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import timedelta

from core import auto
from core.context import Core
from core.errors import RmsError
from core.events import EventKind
from core.lifecycle import UNCONFIRMED, apply_snapshot
from core.model import MAX_NUMBERS_PER_CALL, Stage
from core.snapshots import Read, apply_in, fetch, note_rms_result


@dataclass(frozen=True, slots=True)
class CycleReport:
    """What one intake or poll cycle did (for logs, health and benchmarks)."""

    shop: str
    new: int = 0
    read: int = 0
    calls: int = 0
    error: str | None = None
    decided: auto.Decided | None = None  # what auto-confirm decided (None: it is off)


async def intake(core: Core, shop: str) -> CycleReport:
    """Fetch new orders from the shop's acquisition status and re-read the ones that moved."""
    cfg = core.shop(shop)
    now = core.clock.now()
    await _warn_acquisition_once(core, shop, cfg.acquisition_progress)
    api = core.api(shop)
    mode = await auto.effective_mode(core, shop)
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
        undecided = await auto.undecided(core, shop, mode)  # stored before auto looked at them
        to_read = list(dict.fromkeys([n for n in found if n not in known] + recheck + undecided))
        read = await fetch(core, shop, to_read) if to_read else Read((), {})
    except RmsError as exc:
        await note_rms_result(core, shop, exc)
        return CycleReport(shop, error=exc.kind)
    await note_rms_result(core, shop, None)
    destinations = (
        await auto.open_destinations(core, shop) if mode is not auto.AutoMode.OFF else None
    )
    async with core.store.tx() as tx:  # the read and what auto-confirm decides: one unit
        changes = await apply_in(tx, core, shop, read)
        decided = None
        if destinations is not None:
            decided = await auto.decide_in(tx, core, shop, read, changes, mode, destinations)
    await check_deadlines(core, shop)
    calls = 1 + math.ceil(len(to_read) / MAX_NUMBERS_PER_CALL)
    new = len([n for n in found if n not in known])
    return CycleReport(shop, new=new, read=len(read.snaps), calls=calls, decided=decided)


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

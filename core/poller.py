"""Result polling: re-read in-flight orders whose next poll is due."""

from __future__ import annotations

import logging
import math
from datetime import datetime

from core.context import Core
from core.errors import RmsError
from core.intake import CycleReport
from core.model import MAX_NUMBERS_PER_CALL
from core.snapshots import apply_snapshots, fetch, note_rms_result

logger = logging.getLogger(__name__)


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

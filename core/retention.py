"""Retention: finished orders lose their personal data after RETENTION_DAYS; the audit stays."""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from core.store.sqlite import Store

logger = logging.getLogger(__name__)

RETENTION_JOB = "retention"
"""``runs`` job name: claim_run(RETENTION_JOB, day, now) purges once per local day."""


async def purge_finished(store: Store, now: datetime, days: int) -> int:
    """Purge orders 楽天処理済 or キャンセル for more than ``days`` days; return how many."""
    purged = await store.purge_finished(now - timedelta(days=days))
    if purged:
        logger.info("retention: removed personal data of %d finished order(s)", purged)
    return purged

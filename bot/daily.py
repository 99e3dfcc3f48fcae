"""Daily work on the jobs loop: licence checks, pending-key probes, the retention purge and the
manager summary."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime, time, timedelta
from functools import partial
from zoneinfo import ZoneInfo

from core.context import Core
from core.leader import fence
from core.licenses import KeyVault, check_license, choose_key, probe_pending_key
from core.retention import RETENTION_JOB, purge_finished
from core.summary import SUMMARY_JOB, build_summary, due_summary_days, last_summary_day
from handlers.poster import SlackPoster
from handlers.render.i18n import Lang
from handlers.render.summary import summary_message, summary_messages

logger = logging.getLogger(__name__)
Probe = Callable[[str, str], Awaitable[datetime]]  # (shop, candidate key) → expiry
PROBE_EVERY = timedelta(minutes=5)


@dataclass
class Daily:
    """Runs after every jobs cycle; each piece decides itself whether it is due."""

    core: Core
    poster: SlackPoster  # unused since summaries go through the outbox; wiring still passes it
    at: time
    tz: ZoneInfo
    lang: Lang = "ja"
    summary_channel: str | None = None
    vault: KeyVault | None = None
    probe: Probe | None = None
    retention_days: int = 90
    order_url: str = ""  # RMS_ORDER_URL: orders needing action link to RMS
    _next_probe: datetime | None = field(default=None, init=False)

    async def __call__(self) -> None:
        """Licence checks (once per local day per shop), key probes, the retention purge (once
        per local day), then the summary.

        A replica whose lease epoch is over does none of it (LeaseLostError): checked first,
        so no licence call goes out, and again inside every claim's transaction."""
        if self.core.lease is not None:
            async with self.core.store.tx() as tx:
                await fence(self.core.lease, tx)
        now = self.core.clock.now()
        today = now.astimezone(self.tz).date().isoformat()
        for shop in self.core.shops:
            job = f"license_check:{shop}"
            async with self.core.store.read() as r:
                if await r.has_run(job, today):
                    continue
            await check_license(self.core, shop, now)
            # claimed after the work: a crash during the check leaves it due. (Checking twice
            # is harmless: its warnings are claimed per threshold with the event.)
            async with self.core.store.tx() as tx:
                await fence(self.core.lease, tx)
                await tx.claim_run(job, today, now)
        async with self.core.store.read() as r:
            purged_today = await r.has_run(RETENTION_JOB, today)
        if not purged_today:  # claimed after the work too: a purge is safe to repeat
            await purge_finished(self.core.store, now, self.retention_days)
            async with self.core.store.tx() as tx:
                await fence(self.core.lease, tx)
                await tx.claim_run(RETENTION_JOB, today, now)
        await self._probe(now)
        await self.post_due_summaries(now)

    def next_probe_now(self) -> None:
        """Probe pending keys at the next run (a key was just submitted)."""
        self._next_probe = None

    async def _probe(self, now: datetime) -> None:
        if self.vault is None or self.probe is None:
            return
        if self._next_probe is not None and now < self._next_probe:
            return
        self._next_probe = now + PROBE_EVERY
        for shop in self.vault.undecided():  # RMS could not compare the keys at start-up
            await choose_key(self.core.store, self.vault, shop, partial(self.probe, shop))
        for shop in self.core.shops:
            await probe_pending_key(self.core, self.vault, shop, partial(self.probe, shop))

    async def post_due_summaries(self, now: datetime) -> None:
        """Queue each due day's summary once per channel (caught up after downtime).

        The day's claim and its messages (keyed ``summary:{day}:{channel}``) are one
        transaction; the publisher delivers each channel's message on its own, so a crash or
        a failing channel can neither lose a summary nor post one twice.
        """
        store = self.core.store
        last = await last_summary_day(store)
        for day in due_summary_days(now, self.at, self.tz, last):
            async with store.read() as r:
                if await r.has_run(SUMMARY_JOB, day.isoformat()):
                    continue
            summary = await build_summary(store, self.core.shops, day, self.tz, now)
            messages = summary_messages(summary, self.lang, order_url=self.order_url)
            channels = (
                [self.summary_channel]
                if self.summary_channel
                else list(dict.fromkeys(s.channel for s in self.core.shops.values()))
            )
            async with store.tx() as tx:
                await fence(self.core.lease, tx)  # a stale leader queues no summary
                if not await tx.claim_run(SUMMARY_JOB, day.isoformat(), now):
                    continue
                for channel in channels:
                    await tx.enqueue_message(
                        f"summary:{day.isoformat()}:{channel}",
                        "",
                        channel,
                        "summary",
                        {"messages": messages},
                        at=now,
                    )
            logger.info("daily summary for %s queued for %d channel(s)", day, len(channels))

    async def summary_now(self, shop: str | None) -> dict[str, object]:
        """Today's summary so far (for `/rms summary`), without remembering it."""
        now = self.core.clock.now()
        shops = self.core.shops if shop is None else {shop: self.core.shop(shop)}
        summary = await build_summary(
            self.core.store, shops, now.astimezone(self.tz).date(), self.tz, now, remember=False
        )
        return summary_message(summary, self.lang)

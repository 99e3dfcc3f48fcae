"""The periodic loops: intake, adaptive result polling, reconciliation, publishing, daily jobs."""

from __future__ import annotations

import asyncio
import logging
import math
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from core.service import Core
from core.sync import intake, poll, reconcile

logger = logging.getLogger(__name__)

Job = Callable[[], Awaitable[object]]


@dataclass
class Jobs:
    """Runs every shop's cycle on the core's Clock; one failing job never stops the others.

    The intake runs every ``poll_interval``; result polling runs every ``tick`` for the orders
    whose own next poll is due (young orders sooner — see core.lifecycle.Policy) and spends at
    most ``budget`` of the shop's request rate on it (DESIGN §8: ≤ 20 %).
    """

    core: Core
    poll_interval: timedelta
    tick: float = 15.0
    budget: float = 0.2
    rates: dict[str, float] = field(default_factory=dict)  # shop → requests per second
    after_cycle: list[Job] = field(default_factory=list)  # publisher drain, daily jobs …
    next_intake: dict[str, datetime] = field(default_factory=dict)
    failures: dict[str, str] = field(default_factory=dict)
    started: bool = False
    concurrency: int = 25  # shops at once: rate-limit waits overlap, parsed orders do not pile up

    def poll_calls_per_tick(self, shop: str) -> int:
        """getOrder calls the poller may spend per tick within the request budget."""
        rate = self.rates.get(shop, 1.0)
        return max(1, math.floor(rate * self.tick * self.budget))

    async def startup(self) -> None:
        """Reconcile every intent left unfinished by a previous process."""
        for shop in self.core.shops:
            await self._guard(f"reconcile:{shop}", reconcile(self.core, shop, startup=True))
        self.started = True

    async def cycle(self) -> None:
        """One tick: every shop's work side by side (each waits only on its own licence key's
        rate limit), then the hooks (publishing, daily jobs)."""
        if not self.started:
            await self.startup()
        now = self.core.clock.now()
        slots = asyncio.Semaphore(self.concurrency)

        async def one(shop: str) -> None:
            async with slots:
                await self._shop_cycle(shop, now)

        await asyncio.gather(*(one(shop) for shop in self.core.shops))
        for hook in self.after_cycle:
            await self._guard(getattr(hook, "__name__", "hook"), hook())

    async def _shop_cycle(self, shop: str, now: datetime) -> None:
        """Intake where due, result polling within the budget, stale-intent reconciliation."""
        if now >= self.next_intake.get(shop, now):
            self.next_intake[shop] = now + self.poll_interval
            await self._guard(f"intake:{shop}", intake(self.core, shop))
        await self._guard(
            f"poll:{shop}", poll(self.core, shop, max_calls=self.poll_calls_per_tick(shop))
        )
        await self._guard(f"reconcile:{shop}", reconcile(self.core, shop))

    async def run(self, stop: asyncio.Event) -> None:
        """Cycle until ``stop`` is set; cancellation propagates (never swallowed)."""
        while not stop.is_set():
            await self.cycle()
            await self.core.clock.sleep(self.tick)

    async def _guard(self, name: str, work: Awaitable[object]) -> None:
        """Run one job; log once when it starts failing and once when it recovers."""
        try:
            await work
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # a bug in one job must not stop the bot
            if name not in self.failures:
                logger.exception("job %s failed", name)
            self.failures[name] = type(exc).__name__
            return
        if self.failures.pop(name, None) is not None:
            logger.info("job %s recovered", name)

"""The periodic work, each on its own task: per-shop cycles, the publisher, the daily jobs, ..."""

from __future__ import annotations

import asyncio
import math
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from functools import partial

from bot.coordinator import Coordinator
from core.auto import AutoMode, config_of, effective_mode
from core.context import Core
from core.intake import intake
from core.poller import poll
from core.reconciler import reconcile
from core.watchdog import watch

Job = Callable[[], Awaitable[object]]
Periodic = tuple[str, Job, float]  # (name, one run, seconds between runs)


@dataclass
class Jobs:
    """Runs every shop's cycle and every periodic job as separate tasks on the core's Clock.

    A slow or failing task never holds up another: 50 cards at Slack's pace do not delay
    polling, one shop whose RMS hangs does not delay the others. Per shop, the intake runs
    every ``poll_interval`` (every ``young_interval`` with auto-confirm on); result polling
    runs every ``tick`` for the orders whose own next poll is due (young orders sooner — see
    core.lifecycle.Policy) and spends at most ``budget`` of the shop's request rate on it
    (≤ 20 % by default). ``periodic`` holds the other jobs, e.g.
    ``("publisher", publisher.drain, 15.0)``; /healthz watches every shop and the
    ``watched`` ones (a long bulk confirm or a slow daily run is not a stuck bot).
    """

    core: Core
    poll_interval: timedelta
    tick: float = 15.0
    budget: float = 0.2
    rates: dict[str, float] = field(default_factory=dict)  # shop → requests per second
    periodic: list[Periodic] = field(default_factory=list)
    watched: frozenset[str] = frozenset({"publisher"})  # periodic jobs /healthz watches
    next_intake: dict[str, datetime] = field(default_factory=dict)
    concurrency: int = 25  # shop cycles at once: parsed orders of 50 shops do not pile up
    coordinators: dict[str, Coordinator] = field(default_factory=dict)  # "shop:main", "publisher"
    _reconciled: set[str] = field(default_factory=set, init=False)  # past start-up reconcile
    _slots: asyncio.Semaphore | None = field(default=None, init=False)
    _watched: dict[str, datetime] = field(default_factory=dict, init=False)  # watchdog runs

    def poll_calls_per_tick(self, shop: str) -> int:
        """getOrder calls the poller may spend per tick within the request budget."""
        rate = self.rates.get(shop, 1.0)
        return max(1, math.floor(rate * self.tick * self.budget))

    def job(self, name: str) -> Job:
        """The periodic job called ``name`` (tests run one on demand)."""
        return next(run for key, run, _ in self.periodic if key == name)

    async def shop_cycle(self, shop: str) -> None:
        """Start-up reconcile once, then intake where due, budgeted result polling and stale-intent
        reconciliation. Every step runs even if an earlier one raised; the first error is raised
        at the end (so the coordinator logs it once)."""
        if self._slots is None:
            self._slots = asyncio.Semaphore(self.concurrency)
        async with self._slots:
            steps: list[Callable[[], Awaitable[object]]] = []
            if shop not in self._reconciled:
                steps.append(lambda: self._startup_reconcile(shop))
            now = self.core.clock.now()
            if now >= self.next_intake.get(shop, now):
                self.next_intake[shop] = now + await self._intake_interval(shop)
                steps.append(lambda: self._intake(shop))
            max_calls = self.poll_calls_per_tick(shop)
            steps.append(lambda: poll(self.core, shop, max_calls=max_calls))
            steps.append(lambda: reconcile(self.core, shop))
            error: Exception | None = None
            for step in steps:
                try:
                    await step()
                except Exception as exc:  # the next step still runs; CancelledError passes
                    error = error or exc
            if error is not None:
                raise error

    async def _intake_interval(self, shop: str) -> timedelta:
        """Auto-confirm on (or in a dry run): intake as often as young orders are polled — one
        searchOrder a minute is < 2 % of a 1 request/s budget, and a clean order is confirmed
        within about a minute of its arrival instead of within the 5-minute poll."""
        if await effective_mode(self.core, shop) is AutoMode.OFF:
            return self.poll_interval
        return min(self.poll_interval, self.core.policy.young_interval)

    async def _intake(self, shop: str) -> None:
        """Intake; an auto-confirm request it stored runs at once (not at the next tick); then
        the silent-failure watchdog looks at the shop."""
        try:
            report = await intake(self.core, shop)
            if report.decided is not None and (report.decided.confirm or report.decided.fee):
                self.wake("requests")
        finally:
            await watch(
                self.core, shop, config_of(self.core, shop).watchdog, last_run=self._watched
            )

    async def _startup_reconcile(self, shop: str) -> None:
        """Resolve the intents a previous process left unfinished."""
        await reconcile(self.core, shop, startup=True)
        self._reconciled.add(shop)

    def _coordinators(self) -> list[Coordinator]:
        """One coordinator per shop and per periodic job, made once and kept (their state)."""
        clock = self.core.clock
        for shop in self.core.shops:
            if f"shop:{shop}" not in self.coordinators:
                refresh = self._gated(partial(self.shop_cycle, shop))
                self.coordinators[f"shop:{shop}"] = Coordinator(
                    f"shop:{shop}", refresh, self.tick, clock
                )
        for name, run, interval in self.periodic:
            if name not in self.coordinators:
                self.coordinators[name] = Coordinator(name, self._gated(run), interval, clock)
        return list(self.coordinators.values())

    def _gated(self, run: Job) -> Job:
        """No run starts unless this replica leads (a leader that resumes after a freeze
        starts no cycle, no delivery round, no daily run before it learns it lost)."""
        lease = self.core.lease
        if lease is None:
            return run

        async def gated() -> object:
            lease.check()
            return await run()

        return gated

    async def cycle(self) -> None:
        """Everything once, in order: all shops side by side, then each periodic job (tests and
        benchmarks step the bot with this; ``run`` is what the bot does)."""
        every = self._coordinators()
        shops = [c for c in every if c.name.startswith("shop:")]
        await asyncio.gather(*(c.async_refresh() for c in shops))
        for coordinator in every:
            if coordinator not in shops:
                await coordinator.async_refresh()

    async def run(self, stop: asyncio.Event) -> None:
        """Run every coordinator on its own task until ``stop`` is set or this is cancelled; the
        tasks are cancelled and awaited either way (cancellation is never swallowed)."""
        tasks = [asyncio.create_task(c.run(), name=c.name) for c in self._coordinators()]
        try:
            await stop.wait()
        finally:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)

    def new_term(self) -> None:
        """Forget what an earlier term of leadership knew (this replica leads again: another
        may have led meanwhile, so the start-up reconcile and the first intake run again)."""
        self._reconciled.clear()
        self.next_intake.clear()
        self.coordinators.clear()

    def cycle_age(self) -> float | None:
        """Seconds since every shop's cycle last completed here (None: not all ran yet)."""
        done = [c.last_success for name, c in self.coordinators.items() if name.startswith("shop:")]
        if len(done) != len(self.core.shops) or not done or None in done:
            return None
        oldest = min(d for d in done if d is not None)
        return (self.core.clock.now() - oldest).total_seconds()

    def wake(self, name: str) -> None:
        """Run the periodic job ``name`` now instead of at its next interval."""
        for coordinator in self._coordinators():
            if coordinator.name == name:
                coordinator.wake.set()

    def stalled(self) -> bool:
        """True when a running shop cycle or watched job has not completed for 3× its
        interval (/healthz answers 503). Never on a replica that does not lead now: a follower
        runs no job, and one that just lost its lease has jobs that refuse to run until the
        election stops them — neither is stuck, and a 503 would get a healthy replica restarted."""
        lease = self.core.lease
        if lease is not None and not lease.leading():
            return False
        now = self.core.clock.now()
        return any(
            c.stale(now)
            for name, c in self.coordinators.items()
            if name.startswith("shop:") or name in self.watched
        )

"""One periodic job on its own cadence, in the spirit of Home Assistant's DataUpdateCoordinator."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime

from core.errors import RmsError
from core.leader import LeaseLostError
from core.ports import Clock

logger = logging.getLogger(__name__)

Refresh = Callable[[], Awaitable[object]]
STALE_AFTER = 3  # intervals without a completed run before /healthz says so


@dataclass
class Coordinator:
    """Runs ``refresh`` every ``interval`` seconds of the Clock until cancelled.

    Like the old single loop, the pause comes after a run, so a slow run never overlaps the
    next. A failure is logged once when it starts and once when it ends, never once per run;
    a Retry-After carried by the error pushes the next run back once. Cancellation always
    propagates. ``last_success`` is when a run last completed without raising.
    """

    name: str
    refresh: Refresh
    interval: float
    clock: Clock
    last_success: datetime | None = None
    started: datetime | None = None  # when ``run`` began: staleness counts from here at first
    failing: str | None = None  # what the current failure is, while it lasts
    failing_since: datetime | None = None
    delay: float = 0.0  # the pause before the next run (the interval, or a Retry-After)
    wake: asyncio.Event = field(default_factory=asyncio.Event)  # run now: new work arrived

    async def async_refresh(self) -> bool:
        """One run, logged on a change of state only; returns whether it succeeded."""
        now = self.clock.now()
        self.delay = self.interval
        try:
            await self.refresh()
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # one broken job must not stop the others, nor log every run
            retry_after = exc.retry_after if isinstance(exc, RmsError) else None
            if retry_after is not None:
                self.delay = max(self.interval, retry_after)
            if self.failing is None:
                self.failing_since = now
                if _expected(exc):  # an outside failure, or this replica stopped leading
                    logger.warning("job %s failing: %s", self.name, exc)
                else:
                    logger.exception("job %s failing", self.name)
            self.failing = type(exc).__name__
            return False
        if self.failing is not None:
            logger.info("job %s recovered (failing since %s)", self.name, self.failing_since)
            self.failing = self.failing_since = None
        self.last_success = self.clock.now()
        return True

    async def run(self) -> None:
        """Refresh, pause (until woken), repeat — until cancelled."""
        self.started = self.clock.now()
        while True:
            self.wake.clear()
            await self.async_refresh()
            await self.clock.wait(self.wake, self.delay)

    def stale(self, now: datetime) -> bool:
        """True when a running job has not completed a run for 3× its interval (or its
        Retry-After, when RMS asked for a longer pause)."""
        since = self.last_success or self.started
        if self.started is None or since is None:
            return False
        window = STALE_AFTER * max(self.interval, self.delay)
        return (now - since).total_seconds() > window


def _expected(exc: Exception) -> bool:
    """Failures logged without a traceback: RMS's, and a lost lease (also when it stopped
    several tasks of one run at once, e.g. the delivery of several channels)."""
    if isinstance(exc, ExceptionGroup):
        return exc.split(LeaseLostError)[1] is None
    return isinstance(exc, RmsError | LeaseLostError)

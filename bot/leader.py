"""The leader election: every replica tries to hold the lease; its holder runs the jobs."""

from __future__ import annotations

import asyncio
import logging
import os
import socket
import time
import uuid
from collections.abc import Awaitable, Callable
from contextlib import suppress
from dataclasses import dataclass, field

from bot.jobs import Jobs
from core.leader import Lease
from core.store.lease import acquire_lease, release_lease
from core.store.sqlite import Store

logger = logging.getLogger(__name__)


def holder_id() -> str:
    """Who this replica is in the lease row: host, pid and a random part (a restarted
    process with a recycled pid is still someone new)."""
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


def new_lease(ttl: float, *, holder: str | None = None) -> Lease:
    """A lease of ``ttl`` seconds; this replica stops acting a quarter TTL before it expires."""
    return Lease(holder=holder or holder_id(), ttl=ttl, margin=ttl / 4, monotonic=time.monotonic)


@dataclass
class Election:
    """Acquire or renew the lease every ``ttl/4`` (a follower tries every ``ttl/20``, so a
    released lease is taken within a second); run ``jobs`` while this replica leads.

    The jobs stop when the database names another holder, when this replica's own deadline
    passes without a renewal, and on shutdown, after which the lease is released for a fast
    hand-over.
    """

    store: Store
    lease: Lease
    jobs: Jobs
    on_change: Callable[[bool], object] | None = None  # leading now? (metrics, logs)
    sleep: Callable[[float], Awaitable[None]] = asyncio.sleep
    _running: asyncio.Task[None] | None = field(default=None, init=False)
    _failing: bool = field(default=False, init=False)

    @property
    def renew_every(self) -> float:
        return self.lease.ttl / 4

    @property
    def retry_every(self) -> float:
        return self.lease.ttl / 20

    async def run(self, stop: asyncio.Event) -> None:
        """Until ``stop``: try to lead, lead, step down; then release the lease."""
        try:
            while not stop.is_set():
                await self.attempt()
                wait = self.renew_every if self.lease.epoch is not None else self.retry_every
                with suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), wait)
        finally:
            await self.step_down()
            await self.release()

    async def attempt(self) -> None:
        """One acquire-or-renew; starts or stops the jobs as the answer says."""
        sent = self.lease.monotonic()
        try:
            async with asyncio.timeout(self.lease.ttl / 2):
                async with self.store.statement() as tx:
                    epoch = await acquire_lease(
                        tx, self.lease.name, self.lease.holder, int(self.lease.ttl * 1000)
                    )
        except Exception as exc:  # the database is away: keep trying; act only while valid
            if not self._failing:
                logger.warning("leader lease: database not reachable (%s)", type(exc).__name__)
                self._failing = True
            if self._running is not None and not self.lease.leading():
                logger.warning("leader lease: not renewed in time; stopping the jobs")
                await self.step_down()
            return
        if self._failing:
            logger.info("leader lease: database reachable again")
            self._failing = False
        if epoch is None:
            if self.lease.epoch is not None or self._running is not None:
                logger.warning("leader lease: another replica leads now; stopping the jobs")
            await self.step_down()
            return
        if self.lease.epoch is not None and epoch != self.lease.epoch:
            await self.step_down()  # our term lapsed in between: start afresh under the new one
        self.lease.renewed(epoch, sent)
        if self._running is None:
            logger.info("leader lease: leading (epoch %d); starting the jobs", epoch)
            self.jobs.new_term()
            self._running = asyncio.create_task(self.jobs.run(asyncio.Event()), name="jobs")
            if self.on_change is not None:
                self.on_change(True)

    async def step_down(self) -> None:
        """Stop the jobs (cancelled and awaited) and forget the epoch."""
        self.lease.lost()
        task, self._running = self._running, None
        if task is None:
            return
        task.cancel()
        with suppress(asyncio.CancelledError):
            await task
        self.jobs.new_term()  # a follower has no cycles: /healthz must not call them stuck
        logger.info("leader lease: jobs stopped")
        if self.on_change is not None:
            self.on_change(False)

    async def release(self) -> None:
        """Give the lease up (shutdown): another replica leads within ``retry_every``."""
        try:
            async with asyncio.timeout(self.lease.ttl / 2):
                async with self.store.statement() as tx:
                    if await release_lease(tx, self.lease.name, self.lease.holder):
                        logger.info("leader lease: released")
        except Exception as exc:  # it expires by itself within the TTL
            logger.warning("leader lease: could not release (%s)", type(exc).__name__)

"""A fake clock for several tasks: sleepers wake in deadline order as the test steps time."""

from __future__ import annotations

import asyncio
import heapq
import itertools
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from tests.fakes import FakeClock

Sleeper = tuple[datetime, int, "asyncio.Future[None]", "asyncio.Task[object] | None"]


class SteppedClock(FakeClock):
    """Virtual time that moves only when the test calls ``run_for``.

    FakeClock moves time on every sleep: right for one task, but with N tasks sleeping side by
    side time runs N times too fast. Here ``sleep`` waits for its deadline, and ``run_for`` moves
    time deadline by deadline; before each step every task runs (loopback I/O and SQLite
    included) until it waits on the clock, an event, a lock or another task.
    """

    def __init__(self, start: datetime | None = None, *, settle_timeout: float = 30.0) -> None:
        super().__init__(start)
        self.settle_timeout = settle_timeout  # real seconds: a safety net, not a wait
        self.held = 0  # tasks a test keeps blocked on purpose (a gate): they may stay busy
        self._sleepers: list[Sleeper] = []
        self._seq = itertools.count()

    async def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        if seconds <= 0:
            await asyncio.sleep(0)
            return
        wake: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        due = self._now + timedelta(seconds=seconds)
        heapq.heappush(self._sleepers, (due, next(self._seq), wake, asyncio.current_task()))
        await wake  # a cancelled sleeper's future is cancelled too, and skipped when due

    async def wait(self, event: asyncio.Event, seconds: float) -> None:
        """Until ``event`` is set (another task woke the sleeper) or ``seconds`` have passed."""
        if event.is_set():
            return
        due: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        deadline = self._now + timedelta(seconds=seconds)  # registered now, before any await
        heapq.heappush(self._sleepers, (deadline, next(self._seq), due, asyncio.current_task()))
        woken = asyncio.ensure_future(event.wait())
        try:
            await asyncio.wait({due, woken}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            woken.cancel()
            due.cancel()  # a cancelled deadline is skipped when it comes

    async def settle(self) -> None:
        """Let every task run until it waits on this clock or on something only the test or
        another task can end — except as many as the test holds at a gate (``held``)."""
        await self._until(lambda: len(busy_tasks()) <= self.held)

    async def run_for(self, seconds: float) -> None:
        """Move time forward by ``seconds``, waking every sleeper due on the way, in order."""
        target = self._now + timedelta(seconds=seconds)
        while True:
            await self.settle()
            while self._sleepers and self._sleepers[0][2].done():
                heapq.heappop(self._sleepers)  # cancelled while asleep
            if not self._sleepers or self._sleepers[0][0] > target:
                break
            self._now = max(self._now, self._sleepers[0][0])
            while self._sleepers and self._sleepers[0][0] <= self._now:
                _, _, wake, _ = heapq.heappop(self._sleepers)
                if not wake.done():
                    wake.set_result(None)
        self._now = max(self._now, target)

    async def run_until(self, task: asyncio.Future[Any]) -> None:
        """Move time deadline by deadline until ``task`` is done (however long that takes in
        virtual time): what a paced job costs when every wait overlaps as in real time."""
        while True:
            await self.settle()
            if task.done():
                return
            while self._sleepers and self._sleepers[0][2].done():
                heapq.heappop(self._sleepers)
            if not self._sleepers:
                await asyncio.sleep(0.001)  # busy beyond the settle timeout: real I/O
                continue
            await self.run_for((self._sleepers[0][0] - self._now).total_seconds())

    async def _until(self, done: Callable[[], bool]) -> None:
        loop = asyncio.get_running_loop()
        give_up = loop.time() + self.settle_timeout
        while True:
            for _ in range(3):  # a woken waiter may be a few callbacks away from running
                await asyncio.sleep(0)
            if done() or loop.time() > give_up:
                return
            await asyncio.sleep(0.001)  # real time only for loopback I/O and SQLite's thread


# Where a task waits for something that only another task, the clock or the test can end.
_IDLE_FRAMES = frozenset(
    {
        "SteppedClock.sleep",
        "SteppedClock.wait",
        "TaskGroup.__aexit__",  # waiting for its child tasks, like gather
        "Event.wait",
        "Lock.acquire",
        "Semaphore.acquire",
        "Condition.wait",
        "Queue.get",
    }
)


def busy_tasks() -> list[asyncio.Task[object]]:
    """Tasks other than the caller that are running or waiting on I/O (a socket, SQLite's
    thread); waiting on the clock, an event, a lock or other tasks is not busy."""
    me = asyncio.current_task()
    return [t for t in asyncio.all_tasks() if t is not me and not t.done() and not _idle(t)]


def _idle(task: asyncio.Task[object]) -> bool:
    waiter = getattr(task, "_fut_waiter", None)  # private, but the only way to see it
    if isinstance(waiter, asyncio.Task) or type(waiter).__name__ == "_GatheringFuture":
        return True
    names: list[str] = []
    coro: Any = task.get_coro()
    while coro is not None and hasattr(coro, "cr_frame"):
        names.append(coro.__qualname__)
        coro = coro.cr_await
    if _IDLE_FRAMES.intersection(names):
        return True
    return names[-1:] == ["RequestHandler.start"]  # an aiohttp keep-alive connection, idle

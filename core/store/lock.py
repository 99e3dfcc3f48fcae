"""The ack path goes first: a gate for the jobs' units of work while Slack requests are being
answered, and a lock for the one SQLite connection whose urgent waiters (the ack) go first."""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import AsyncIterator, Iterator
from contextlib import AbstractAsyncContextManager, asynccontextmanager, contextmanager
from contextvars import ContextVar
from typing import Any, TypeVar

from core.clock import SystemClock
from core.ports import Clock

T = TypeVar("T")
_ANSWERING: ContextVar[bool] = ContextVar("answering_slack", default=False)


class PriorityLock:
    """Like ``asyncio.Lock``, but a waiter that asks with ``urgent=True`` is served before
    every ordinary one: the INSERT that makes a Slack request durable waits for the statement
    running now, never behind the queue of the jobs' reads and transactions. Ownership passes
    straight from the releaser to the next waiter (no one can barge in between)."""

    def __init__(self) -> None:
        self._locked = False
        self._urgent: deque[asyncio.Future[None]] = deque()
        self._normal: deque[asyncio.Future[None]] = deque()

    def locked(self) -> bool:
        """True while someone holds the lock."""
        return self._locked

    @asynccontextmanager
    async def hold(self, *, urgent: bool = False) -> AsyncIterator[None]:
        """Hold the lock for the block."""
        await self._acquire(urgent)
        try:
            yield
        finally:
            self._release()

    async def _acquire(self, urgent: bool) -> None:
        if not self._locked:
            self._locked = True
            return
        waiter: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        queue = self._urgent if urgent else self._normal
        queue.append(waiter)
        try:
            await waiter
        except asyncio.CancelledError:
            if waiter.done() and not waiter.cancelled():
                self._release()  # handed over just as we were cancelled: pass it on
            else:
                queue.remove(waiter)
            raise

    def _release(self) -> None:
        for queue in (self._urgent, self._normal):
            while queue:
                waiter = queue.popleft()
                if not waiter.done():
                    waiter.set_result(None)  # the lock stays held: it is the waiter's now
                    return
        self._locked = False


class AckFirst:
    """Units of work of the jobs wait while Slack requests are being answered.

    The acks and the jobs share one event loop (and, on SQLite, one connection). Taking
    turns fairly, a burst of fifty clicks shares the CPU with the work those clicks caused
    (getOrder, reports, posts) and every ack waits for it; the ack is what Slack times out
    after 3 s and what a person waits for, the work is not. So a unit of work that does not
    belong to a Slack request (``Store.tx``/``read`` outside ``answering()``) first waits
    until no request is being answered, for at most ``max_wait`` seconds: under a stream
    of requests that never pauses the jobs still make progress, one unit per ``max_wait``
    per task. Code that runs for a request (its listener, and tasks it starts) never waits.
    """

    def __init__(self, max_wait: float = 0.1, clock: Clock | None = None) -> None:
        self.max_wait = max_wait
        self.clock: Clock = clock or SystemClock()  # the bot's clock (fake in tests)
        self._answering = 0
        self._idle = asyncio.Event()
        self._idle.set()

    @contextmanager
    def answering(self) -> Iterator[None]:
        """Mark the block (and the tasks it starts) as answering a Slack request."""
        self._answering += 1
        self._idle.clear()
        token = _ANSWERING.set(True)
        try:
            yield
        finally:
            _ANSWERING.reset(token)
            self._answering -= 1
            if not self._answering:
                self._idle.set()

    def behind(self, unit: AbstractAsyncContextManager[T]) -> AbstractAsyncContextManager[T]:
        """``unit`` (a transaction, a read), entered after this gate's turn."""
        return _Behind(self, unit)

    async def turn(self) -> None:
        """Before a unit of work of the jobs: wait (bounded) while requests are answered."""
        if not self._answering or _ANSWERING.get():
            return
        await self.clock.wait(self._idle, self.max_wait)  # bounded: the jobs never starve


class _Behind(AbstractAsyncContextManager[T]):
    """A unit of work entered once the ack path has had its turn (plain coroutines, so a
    test's fake clock can see what the unit is waiting for)."""

    def __init__(self, gate: AckFirst, unit: AbstractAsyncContextManager[T]) -> None:
        self._gate = gate
        self._unit = unit

    async def __aenter__(self) -> T:
        await self._gate.turn()
        return await self._unit.__aenter__()

    async def __aexit__(self, *exc: Any) -> bool | None:
        return await self._unit.__aexit__(*exc)

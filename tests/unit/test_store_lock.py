"""The store's lock serves the ack path's INSERT before the jobs' queued statements."""

from __future__ import annotations

import asyncio

import pytest

from core.store.lock import PriorityLock


async def test_an_urgent_waiter_goes_before_the_ordinary_ones_queued_earlier():
    lock, order = PriorityLock(), []
    release = asyncio.Event()

    async def hold(name: str, *, urgent: bool = False, first: bool = False) -> None:
        async with lock.hold(urgent=urgent):
            order.append(name)
            if first:
                await release.wait()

    holder = asyncio.create_task(hold("running", first=True))
    await asyncio.sleep(0)
    jobs = [asyncio.create_task(hold(f"job{i}")) for i in range(3)]
    await asyncio.sleep(0)
    ack = asyncio.create_task(hold("ack", urgent=True))
    await asyncio.sleep(0)
    release.set()
    await asyncio.gather(holder, *jobs, ack)
    assert order == ["running", "ack", "job0", "job1", "job2"]


async def test_a_cancelled_waiter_never_keeps_the_lock():
    lock = PriorityLock()
    release = asyncio.Event()

    async def holder() -> None:
        async with lock.hold():
            await release.wait()

    first = asyncio.create_task(holder())
    await asyncio.sleep(0)
    waiting = asyncio.create_task(lock.hold().__aenter__())
    await asyncio.sleep(0)
    waiting.cancel()
    release.set()
    await first
    with pytest.raises(asyncio.CancelledError):
        await waiting
    async with asyncio.timeout(1):  # free again
        async with lock.hold():
            pass

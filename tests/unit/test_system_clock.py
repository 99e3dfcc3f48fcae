"""SystemClock.wait: a cancellation is never lost, even when the event is set at that moment."""

from __future__ import annotations

import asyncio

import pytest

from bot.coordinator import Coordinator
from core.clock import SystemClock


async def test_a_cancel_that_comes_as_the_event_is_set_still_cancels_the_waiter():
    """asyncio.wait_for on Python 3.11 returns normally when the awaited event completes in
    the same turn as the cancel: a coordinator's loop (wake → wait) then ran on, and a
    leader that lost its lease could not stop its jobs (the replica test saw it hang)."""
    clock, event = SystemClock(), asyncio.Event()
    waiter = asyncio.create_task(clock.wait(event, 10))
    await asyncio.sleep(0)  # waiting
    event.set()  # e.g. the worker wakes the publisher …
    waiter.cancel()  # … just as the jobs are stopped
    with pytest.raises(asyncio.CancelledError):
        await waiter


async def test_a_coordinator_woken_as_it_is_cancelled_stops():
    runs: list[int] = []

    async def refresh() -> None:
        runs.append(1)

    coordinator = Coordinator("publisher", refresh, 3600.0, SystemClock())
    task = asyncio.create_task(coordinator.run())
    await asyncio.sleep(0)  # its first run is done; it has just begun to wait
    assert runs == [1]
    coordinator.wake.set()  # new work …
    task.cancel()  # … as the replica stops leading
    await asyncio.wait({task}, timeout=1)  # not another interval: it must stop now
    assert task.cancelled(), "the coordinator ran on after it was cancelled"
    assert runs == [1]


async def test_wait_returns_on_the_event_or_after_the_time():
    clock, event = SystemClock(), asyncio.Event()
    event.set()
    await clock.wait(event, 10)  # at once
    async with asyncio.timeout(1):
        await clock.wait(asyncio.Event(), 0.0)  # the time is up at once

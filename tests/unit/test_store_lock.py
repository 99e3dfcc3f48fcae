"""The ack path goes first: the store's lock serves its INSERT before the jobs' queued
statements, and the jobs' units of work wait while Slack requests are being answered."""

from __future__ import annotations

import asyncio

import pytest

from core.store.lock import PriorityLock
from core.store.sqlite import SqliteStore
from tests.stepped_clock import SteppedClock


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


# -- AckFirst: the jobs' units of work wait while Slack requests are answered ----------------


@pytest.fixture
async def store(tmp_path):
    async with SqliteStore.open(tmp_path / "bot.sqlite3") as opened:
        opened.ack_first.clock = clock = SteppedClock()
        yield opened, clock


async def test_a_unit_of_work_of_the_jobs_waits_while_a_request_is_answered(store):
    s, clock = store
    entered: list[str] = []

    async def job() -> None:  # a unit of work of the jobs (the publisher's read, a claim …)
        async with s.read():
            entered.append("job")

    task = asyncio.create_task(job())  # started by the jobs, not by the request
    with s.ack_first.answering():
        await clock.settle()
        assert entered == []  # it waits: the ack goes first …
        async with s.tx():  # … and the request's own units of work never wait
            entered.append("request")
    await clock.settle()
    await task
    assert entered == ["request", "job"]


async def test_a_task_started_while_answering_a_request_does_not_wait(store):
    s, clock = store
    with s.ack_first.answering():
        spawned = asyncio.create_task(s.ping())  # e.g. a listener's work after its ack
        await clock.settle()
        assert spawned.done() and spawned.result() is True


async def test_the_jobs_never_starve_under_requests_that_never_pause(store):
    s, clock = store
    task = asyncio.create_task(s.ping())
    with s.ack_first.answering():
        await clock.run_for(s.ack_first.max_wait / 2)
        assert not task.done()
        await clock.run_for(s.ack_first.max_wait / 2)
        assert task.done() and task.result() is True  # one unit per max_wait


async def test_with_no_request_being_answered_the_jobs_do_not_wait(store):
    s, clock = store
    start = clock.now()
    task = asyncio.create_task(s.ping())
    await clock.settle()
    assert task.done()
    assert clock.now() == start

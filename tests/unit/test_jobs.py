"""The coordinator and the jobs runner on virtual time: logs, Retry-After, staleness, cancel."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import timedelta

import pytest

from bot.coordinator import Coordinator
from bot.jobs import Jobs, Periodic
from core.context import Core
from core.errors import RmsRateLimitedError
from core.store.sqlite import SqliteStore
from tests.stepped_clock import SteppedClock


@asynccontextmanager
async def jobs_of(clock: SteppedClock, periodic: list[Periodic]) -> AsyncIterator[Jobs]:
    """A Jobs runner with no shops, only the given periodic jobs, on a real in-memory store."""
    async with SqliteStore.open(":memory:") as store:
        core = Core(store=store, clock=clock, shops={}, rms={})
        yield Jobs(core, timedelta(minutes=5), tick=10.0, periodic=periodic)


async def test_a_failing_job_logs_one_line_when_it_starts_failing_and_one_when_it_recovers(
    caplog: pytest.LogCaptureFixture,
):
    caplog.set_level(logging.INFO, logger="bot.coordinator")
    clock = SteppedClock()
    runs = 0

    async def flaky() -> None:
        nonlocal runs
        runs += 1
        if 2 <= runs <= 7:
            raise ConnectionError("the database is gone")

    coordinator = Coordinator("flaky", flaky, 10.0, clock)
    task = asyncio.create_task(coordinator.run())
    await clock.run_for(120)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert runs == 13  # t = 0, 10, …, 120: a failing run keeps its cadence
    lines = [(r.levelname, r.getMessage()) for r in caplog.records]
    assert [level for level, _ in lines] == ["ERROR", "INFO"], lines
    assert "flaky failing" in lines[0][1]
    assert "flaky recovered" in lines[1][1]
    assert coordinator.failing is None
    assert coordinator.last_success == clock.now()


async def test_a_retry_after_from_rms_pushes_the_next_run_back_once():
    clock = SteppedClock()
    start = clock.now()
    times: list[float] = []

    async def limited() -> None:
        times.append((clock.now() - start).total_seconds())
        if len(times) == 2:
            raise RmsRateLimitedError("RMS searchOrder: HTTP 429 rate limited", retry_after=120)

    coordinator = Coordinator("shop:main", limited, 15.0, clock)
    task = asyncio.create_task(coordinator.run())
    await clock.run_for(170)
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)
    assert times == [0, 15, 135, 150, 165]


async def test_a_job_is_stale_after_three_intervals_without_completing_and_fresh_once_it_does():
    clock = SteppedClock()
    release = asyncio.Event()

    async def stuck() -> None:
        await release.wait()

    coordinator = Coordinator("publisher", stuck, 15.0, clock)
    assert not coordinator.stale(clock.now())  # not running: nothing to say
    task = asyncio.create_task(coordinator.run())
    await clock.run_for(45)
    assert not coordinator.stale(clock.now())
    await clock.run_for(1)
    assert coordinator.stale(clock.now())
    release.set()
    await clock.settle()
    assert not coordinator.stale(clock.now())
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)


async def test_a_job_that_raises_never_stops_the_other_jobs(caplog: pytest.LogCaptureFixture):
    clock = SteppedClock()
    counted: list[str] = []

    async def broken() -> None:
        counted.append("broken")
        raise RuntimeError("a bug")

    async def healthy() -> None:
        counted.append("healthy")

    async with jobs_of(clock, [("broken", broken, 10.0), ("healthy", healthy, 10.0)]) as jobs:
        stop = asyncio.Event()
        runner = asyncio.create_task(jobs.run(stop))
        await clock.run_for(60)
        stop.set()
        await runner
    assert counted.count("healthy") == 7
    assert counted.count("broken") == 7
    assert [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR] == [
        "job broken failing"
    ]


async def test_cancelling_the_runner_cancels_every_job_and_propagates():
    clock = SteppedClock()
    started = asyncio.Event()
    cancelled: list[str] = []

    async def long_job() -> None:
        started.set()
        try:
            await asyncio.Event().wait()  # e.g. a Slack post that never answers
        except asyncio.CancelledError:
            cancelled.append("long")
            raise

    async def quick() -> None:
        return None

    async with jobs_of(clock, [("long", long_job, 10.0), ("quick", quick, 10.0)]) as jobs:
        runner = asyncio.create_task(jobs.run(asyncio.Event()))
        await started.wait()
        await clock.settle()
        runner.cancel()
        with pytest.raises(asyncio.CancelledError):
            await runner
        assert cancelled == ["long"]
        assert all(t.get_name() not in ("long", "quick") for t in asyncio.all_tasks())


async def test_only_shop_cycles_and_watched_jobs_count_as_stalled():
    clock = SteppedClock()
    never = asyncio.Event()

    async def stuck() -> None:
        await never.wait()

    periodic: list[Periodic] = [("publisher", stuck, 10.0), ("daily", stuck, 10.0)]
    async with jobs_of(clock, periodic) as jobs:
        runner = asyncio.create_task(jobs.run(asyncio.Event()))
        await clock.run_for(31)
        assert jobs.coordinators["daily"].stale(clock.now())
        assert jobs.stalled()  # the publisher
        jobs.watched = frozenset()
        assert not jobs.stalled()  # daily alone is not watched
        runner.cancel()
        await asyncio.gather(runner, return_exceptions=True)


async def test_a_woken_job_runs_at_once_instead_of_at_its_next_interval():
    """The ack of a stored request wakes the request worker: it does not wait for the tick."""
    clock = SteppedClock()
    runs: list[float] = []
    start = clock.now()

    async def worker() -> None:
        runs.append((clock.now() - start).total_seconds())

    async with jobs_of(clock, [("requests", worker, 10.0)]) as jobs:
        stop = asyncio.Event()
        runner = asyncio.create_task(jobs.run(stop))
        await clock.run_for(3)
        jobs.wake("requests")  # a request was stored at t = 3
        await clock.run_for(1)
        stop.set()
        await runner
    assert runs == [0.0, 3.0]

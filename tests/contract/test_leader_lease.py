"""The leader lease on both backends: one upsert acquires and renews, the epoch fences."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from datetime import time
from zoneinfo import ZoneInfo

import pytest

from bot.daily import Daily
from bot.leader import Election
from core.bundles import bundle, unbundle
from core.confirm import confirm
from core.intake import intake
from core.leader import Lease, LeaseLostError, fence
from core.outcomes import Outcome
from core.reconciler import sweep
from core.refetch import refetch
from core.store.lease import acquire_lease, lease_held, lease_row, release_lease
from core.store.sqlite import Store
from handlers.delivery import Courier
from tests.harness import PERSON, Harness, harness


async def acquire(store: Store, holder: str, ttl_ms: int = 60_000) -> int | None:
    async with store.statement() as tx:
        return await acquire_lease(tx, "jobs", holder, ttl_ms)


async def test_one_holder_at_a_time_and_the_epoch_grows_with_each_new_holder(store: Store):
    assert await acquire(store, "a") == 1
    assert await acquire(store, "b") is None  # a's lease is live
    assert await acquire(store, "a") == 1  # a renews: same term
    assert await acquire(store, "a", ttl_ms=0) == 1  # renewed to expire at once
    assert await acquire(store, "b") == 2  # lapsed: b takes over under a new epoch
    assert await acquire(store, "a") is None  # a's late renewal: it learns it lost


async def test_a_released_lease_is_taken_at_once_and_its_epoch_never_goes_back(store: Store):
    assert await acquire(store, "a") == 1
    async with store.statement() as tx:
        assert await release_lease(tx, "jobs", "a")
        assert not await release_lease(tx, "jobs", "b")  # not b's to release
    assert await acquire(store, "b") == 2
    async with store.read() as r:
        row = await lease_row(r, "jobs")
    assert row is not None and row.holder == "b" and row.epoch == 2 and row.left_ms > 0


async def test_the_fence_holds_only_for_the_current_holder_and_epoch(store: Store):
    await acquire(store, "a", ttl_ms=0)
    await acquire(store, "b")
    async with store.tx() as tx:
        assert await lease_held(tx, "jobs", "b", 2)
        assert not await lease_held(tx, "jobs", "a", 1)
        assert not await lease_held(tx, "jobs", "b", 1)


def lease_at(now: list[float], holder: str, epoch: int | None) -> Lease:
    lease = Lease(holder=holder, ttl=20, margin=5, monotonic=lambda: now[0])
    if epoch is not None:
        lease.renewed(epoch, sent_at=now[0])
    return lease


def test_a_leader_stops_acting_a_margin_before_its_lease_can_expire():
    now = [100.0]
    lease = lease_at(now, "a", 1)
    assert lease.check() == 1
    now[0] = 114.9  # 15 s after the renewal was sent: still inside TTL - margin
    assert lease.leading()
    now[0] = 115.0
    with pytest.raises(LeaseLostError):
        lease.check()


async def test_a_confirm_claim_under_an_old_epoch_writes_nothing_and_calls_no_rms(clock):
    async with harness(clock) as h:
        number = h.add_order()
        await h.core.store.upsert_shop(h.core.shop("main"))
        async with h.store.statement() as tx:
            assert await acquire_lease(tx, "jobs", "old", 0) == 1  # lapsed at once
            assert await acquire_lease(tx, "jobs", "new", 60_000) == 2
        h.core.lease = lease_at([0.0], "old", 1)  # the old leader still believes in epoch 1
        with pytest.raises(LeaseLostError):
            await confirm(h.core, "main", [number], "U0TANAKA")
        assert h.confirm_calls() == 0
        assert await h.store.get_intent(number) is None
        assert h.core.lease.epoch is None  # it learnt that it lost


async def test_the_fence_passes_for_the_leader_of_the_current_epoch(clock):
    async with harness(clock) as h:
        async with h.store.statement() as tx:
            assert await acquire_lease(tx, "jobs", "me", 60_000) == 1
        lease = lease_at([0.0], "me", 1)
        async with h.store.tx() as tx:
            await fence(lease, tx)
        await fence(None, tx)  # no election: nothing to check


class FakeJobs:
    def __init__(self) -> None:
        self.terms = 0
        self.running = 0

    def new_term(self) -> None:
        self.terms += 1

    async def run(self, stop: asyncio.Event) -> None:
        self.running += 1
        try:
            await stop.wait()
        finally:
            self.running -= 1


async def test_the_election_runs_the_jobs_only_while_leading_and_hands_over(store: Store):
    now = [0.0]
    jobs_a, jobs_b = FakeJobs(), FakeJobs()
    a = Election(store, lease_at(now, "a", None), jobs_a)  # type: ignore[arg-type]
    b = Election(store, lease_at(now, "b", None), jobs_b)  # type: ignore[arg-type]
    await a.attempt()
    await b.attempt()
    await asyncio.sleep(0)
    assert (jobs_a.running, jobs_b.running) == (1, 0)
    await a.step_down()
    await a.release()
    assert jobs_a.running == 0
    assert jobs_a.terms == 2  # forgotten on stepping down too: a follower has no stuck cycles
    await b.attempt()
    await asyncio.sleep(0)
    assert (jobs_b.running, b.lease.epoch, jobs_b.terms) == (1, 2, 1)
    await a.attempt()  # a is a follower now
    assert a.lease.epoch is None and jobs_a.running == 0
    await b.step_down()


async def database_rows(store: Store) -> dict[str, list[tuple[str, ...]]]:
    """Every row of every table, as text (compared before and after a fenced unit)."""
    async with store.read() as r:
        if r.dialect == "sqlite":
            sql = "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'"
        else:
            sql = "SELECT table_name FROM information_schema.tables WHERE table_schema = 'public'"
        tables = [str(row[0]) for row in await r.rows(sql)]
        return {
            t: sorted(tuple(map(str, row)) for row in await r.rows(f"SELECT * FROM {t}"))  # noqa: S608
            for t in tables
        }


class NoSlack:
    """A poster that must not be used: the fenced courier posts nothing."""

    def __getattr__(self, name: str) -> object:
        raise AssertionError(f"Slack was called ({name})")


async def setup_bundle(h: Harness) -> Callable[[], Awaitable[object]]:
    a = h.add_order(orderer=PERSON, recipient=PERSON)
    b = h.add_order(orderer=PERSON, recipient=PERSON)
    await intake(h.core, "main")
    await confirm(h.core, "main", [a, b], "U0TANAKA")
    return lambda: bundle(h.core, "main", [a, b], "U0TANAKA")


async def setup_unbundle(h: Harness) -> Callable[[], Awaitable[object]]:
    a = h.add_order(orderer=PERSON, recipient=PERSON)
    b = h.add_order(orderer=PERSON, recipient=PERSON)
    await intake(h.core, "main")
    await confirm(h.core, "main", [a, b], "U0TANAKA")
    assert {o.outcome for o in (await bundle(h.core, "main", [a, b], "U0X")).outcomes} == {
        Outcome.BUNDLED
    }
    return lambda: unbundle(h.core, "main", a, "U0TANAKA")


async def setup_refetch(h: Harness) -> Callable[[], Awaitable[object]]:
    number = h.add_order()
    await intake(h.core, "main")
    return lambda: refetch(h.core, "main", [number], "U0TANAKA")


async def setup_sweep(h: Harness) -> Callable[[], Awaitable[object]]:
    stranded = h.add_order()
    await intake(h.core, "main")
    async with h.store.tx() as tx:  # 確認送信中 without its intent, as a crash could leave it
        await tx.execute("UPDATE orders SET stage = 'sending' WHERE number = ?", (stranded,))
    fee = h.add_order("main", postage=-9999)
    await intake(h.core, "main")
    async with h.store.tx() as tx:  # a fee write left running by a process that died
        assert await tx.claim_fee(fee, "U0TANAKA", '{"1": 800}', h.clock.now().isoformat(), 1)
    h.clock.advance(minutes=11)
    return lambda: sweep(h.core, "main")


async def setup_daily(h: Harness) -> Callable[[], Awaitable[object]]:
    return Daily(h.core, NoSlack(), time(0, 0), ZoneInfo("Asia/Tokyo"))  # type: ignore[arg-type]


async def setup_delivered(h: Harness) -> Callable[[], Awaitable[object]]:
    now = h.clock.now()
    async with h.store.tx() as tx:
        await tx.enqueue_message("card:1", "main", "C0SHOP1", "card", {"messages": [{}]}, at=now)
    async with h.store.read() as r:
        (message,) = await r.due_messages(now, 10)
    async with h.store.tx() as tx:  # Slack took it; the leader froze before marking it
        await tx.message_progress(message.id, "1700000000.000100", 1, now)
    courier = Courier(
        h.store,
        h.clock,
        NoSlack(),  # type: ignore[arg-type]
        alert_channel=None,
        dead_letter_alert=lambda m, e: {},
        lease=None,
    )

    async def deliver() -> object:
        courier.lease = h.core.lease
        return await courier.deliver_due()

    return deliver


FENCED_UNITS = {
    "bundle": setup_bundle,
    "unbundle": setup_unbundle,
    "refetch": setup_refetch,
    "sweep of stranded 確認送信中 and stale fee claims": setup_sweep,
    "daily run claims": setup_daily,
    "outbox message marked delivered": setup_delivered,
}


@pytest.mark.parametrize("unit", FENCED_UNITS)
async def test_a_unit_of_work_under_an_old_epoch_changes_no_row_and_calls_no_rms(clock, unit):
    async with harness(clock) as h:
        run = await FENCED_UNITS[unit](h)
        async with h.store.statement() as tx:
            assert await acquire_lease(tx, "jobs", "old", 0) == 1  # lapsed at once
            assert await acquire_lease(tx, "jobs", "new", 60_000) == 2
        before, calls = await database_rows(h.store), len(h.sim.calls)
        h.core.lease = lease_at([0.0], "old", 1)  # the old leader still believes in epoch 1
        with pytest.raises((LeaseLostError, ExceptionGroup)) as raised:
            await run()
        if isinstance(raised.value, ExceptionGroup):  # the courier's channel tasks
            assert raised.value.split(LeaseLostError)[1] is None
        assert len(h.sim.calls) == calls, [c.function for c in h.sim.calls[calls:]]
        assert await database_rows(h.store) == before
        assert h.core.lease.epoch is None  # it learnt that it lost

"""The ack path's commit. Uncontended (SQLite), a request is stored in the caller's own step;
while the connection is busy, a burst is stored in a few statements (group commit), each
request committed before its own ack, duplicates resolved even inside one statement."""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import pytest

import core.store.requests as store_requests
from core.model import Request, RequestKind
from core.requests import submit
from core.store.open import open_store
from core.store.requests import Inbox, open_requests
from core.store.tx import Tx
from tests.harness import harness


def request(clock, key: str, open_key: str | None = None, number: str = "1-1") -> Request:
    return Request(
        kind=RequestKind.REFETCH,
        shop="main",
        numbers=(number,),
        actor="U0TANAKA",
        received_at=clock.now(),
        delivery_key=key,
        open_key=open_key,
    )


def count_statements(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Counts the INSERT statements that store requests (the ack path's commits), with how
    many rows each."""
    used: list[int] = []
    insert = store_requests.insert_requests

    async def counted(tx: Tx, requests: list[Request]):
        used.append(len(requests))
        return await insert(tx, requests)

    monkeypatch.setattr(store_requests, "insert_requests", counted)
    return used


@asynccontextmanager
async def connection_busy(store) -> AsyncIterator[asyncio.Event]:
    """A unit of work of the jobs holds the connection until the event is set (on SQLite the
    requests submitted meanwhile queue behind it)."""
    release, holding = asyncio.Event(), asyncio.Event()

    async def unit() -> None:
        async with store.tx():
            holding.set()
            await release.wait()

    task = asyncio.create_task(unit())
    await holding.wait()
    try:
        yield release
    finally:
        release.set()
        await task


async def burst(h, requests: list[Request]) -> list:
    """Submit ``requests`` together while the connection is busy, then free it."""
    async with connection_busy(h.store) as release:
        tasks = [asyncio.create_task(submit(h.core, r)) for r in requests]
        await asyncio.sleep(0)  # every one is queued
        release.set()
        return await asyncio.gather(*tasks, return_exceptions=True)


async def test_an_uncontended_request_is_committed_in_the_callers_own_step():
    async with harness() as h:
        task = asyncio.create_task(submit(h.core, request(h.clock, "click:now")))
        await asyncio.sleep(0)  # one step: no task to start, no thread to come back from
        assert task.done()  # was 3+ turns of the event loop before the ack
        stored, new = task.result()
        async with h.store.read() as r:
            assert [q.id for q in await open_requests(r)] == [stored.id] and new


async def test_another_process_writing_makes_the_request_wait_without_blocking_the_loop(tmp_path):
    db = tmp_path / "bot.sqlite3"
    async with harness(db=str(db)) as h:
        other = sqlite3.connect(db, isolation_level=None)  # another replica on the same file
        other.execute("BEGIN IMMEDIATE")
        task = asyncio.create_task(submit(h.core, request(h.clock, "click:busy")))
        for _ in range(3):
            await asyncio.sleep(0)  # the loop keeps running: nothing blocks it
        assert not task.done()  # it waits on aiosqlite's thread, not in the event loop
        other.execute("COMMIT")
        other.close()
        stored, new = await asyncio.wait_for(task, 5)
        assert new and stored.id


async def test_fifty_concurrent_requests_are_stored_in_a_few_statements_each_before_its_ack(
    monkeypatch: pytest.MonkeyPatch,
):
    async with harness() as h:
        used = count_statements(monkeypatch)
        stored = await burst(
            h, [request(h.clock, f"click:{i}", number=f"1-{i}") for i in range(50)]
        )
        assert all(new for _, new in stored)
        assert len({r.id for r, _ in stored}) == 50
        assert [r.delivery_key for r, _ in stored] == [f"click:{i}" for i in range(50)]
        assert len(used) <= 2  # was 50: one INSERT per request, queued behind each other
        async with h.store.read() as r:
            rows = {q.id: q for q in await open_requests(r, limit=100)}
        for r, _ in stored:  # committed with what the caller was told
            assert rows[r.id].delivery_key == r.delivery_key
            assert rows[r.id].numbers == r.numbers


async def serially(h, requests: list[Request]) -> list:
    return [await submit(h.core, r) for r in requests]


@pytest.mark.parametrize("together", [True, False], ids=["in-one-statement", "one-by-one"])
async def test_a_redelivery_and_a_double_click_make_one_request_each(together):
    async with harness() as h:
        requests = [
            request(h.clock, "click:T1", "refetch:1-1"),
            request(h.clock, "click:T1", "refetch:1-1"),  # Slack's retry
            request(h.clock, "click:T2", "refetch:1-1"),  # a double click
            request(h.clock, "click:T3", "refetch:1-2", number="1-2"),
        ]
        results = await (burst(h, requests) if together else serially(h, requests))
        (first, new), (retry, new_retry), (double, new_double), (other, new_other) = results
        assert new and not new_retry and not new_double and new_other
        assert first.id == retry.id == double.id != other.id
        async with h.store.read() as r:
            assert len(await open_requests(r)) == 2


async def test_a_failed_statement_answers_every_ack_of_its_burst_and_the_next_burst_is_stored(
    monkeypatch: pytest.MonkeyPatch,
):
    async with harness() as h:
        real = store_requests.insert_requests

        async def broken(tx, requests):
            raise OSError("disk I/O error")

        monkeypatch.setattr(store_requests, "insert_requests", broken)
        outcomes = await burst(h, [request(h.clock, f"k{i}") for i in range(3)])
        assert all(isinstance(o, OSError) for o in outcomes)  # no ack says "accepted"
        monkeypatch.setattr(store_requests, "insert_requests", real)
        stored, new = await submit(h.core, request(h.clock, "k-after"))
        assert new and stored.id


async def test_a_cancelled_submitter_does_not_take_the_others_of_its_burst_with_it():
    async with harness() as h:
        async with connection_busy(h.store) as release:
            first = asyncio.create_task(submit(h.core, request(h.clock, "a", number="1-1")))
            second = asyncio.create_task(submit(h.core, request(h.clock, "b", number="1-2")))
            await asyncio.sleep(0)  # both are waiting for the statement
            release.set()
            await asyncio.sleep(0)
            first.cancel()
            stored, new = await second
        assert new and stored.delivery_key == "b"
        async with h.store.read() as r:
            keys = {q.delivery_key for q in await open_requests(r)}
        assert "b" in keys  # "a" may be stored too: its INSERT had started; it is then run


async def test_a_burst_on_a_free_connection_is_one_commit_after_the_first(
    monkeypatch: pytest.MonkeyPatch,
):
    """Group commit is not only for a busy connection: fifty commits would each write the
    table's and its indexes' pages (~250 us of CPU per ack more, measured)."""
    async with harness() as h:
        used = count_statements(monkeypatch)
        stored = await asyncio.gather(
            *(submit(h.core, request(h.clock, f"c:{i}", number=f"1-{i}")) for i in range(50))
        )
        assert all(new for _, new in stored) and len({r.id for r, _ in stored}) == 50
        assert len(used) <= 2 and sum(used) == 50  # the first alone (at once), the rest together


async def test_a_burst_on_postgres_takes_one_pooled_connection_for_all_its_batches(
    pg, clock, monkeypatch: pytest.MonkeyPatch
):
    """Each checkout of the pool costs a round trip (its check) in a busy event loop: a burst
    of batches keeps the connection it took, and a batch whose statement fails answers its
    own acks with the error, not the others'."""
    async with open_store(pg.fresh()) as store:
        inbox, checkouts, rows = Inbox(), [], []
        statement, insert = store.statement, store_requests.insert_requests
        first_runs, release, second_fails = asyncio.Event(), asyncio.Event(), asyncio.Event()

        def counted():
            checkouts.append(1)
            return statement()

        async def slowed(tx: Tx, requests: list[Request]):
            rows.append(len(requests))
            if len(rows) == 1:  # the rest of the burst arrives while the first batch runs
                first_runs.set()
                await release.wait()
            if len(rows) == 2:
                second_fails.set()
                raise OSError("connection lost")
            return await insert(tx, requests)

        monkeypatch.setattr(store, "statement", counted)
        monkeypatch.setattr(store_requests, "insert_requests", slowed)
        first = asyncio.create_task(inbox.submit(store, request(clock, "p:0", number="1-0")))
        await first_runs.wait()
        second = [
            asyncio.create_task(inbox.submit(store, request(clock, f"p:{i}", number=f"1-{i}")))
            for i in range(1, 31)
        ]
        await asyncio.sleep(0)  # all thirty are waiting
        release.set()
        await second_fails.wait()
        third = [
            asyncio.create_task(inbox.submit(store, request(clock, f"q:{i}", number=f"2-{i}")))
            for i in range(20)
        ]
        stored_first, failed, stored_third = await asyncio.gather(
            first, asyncio.gather(*second, return_exceptions=True), asyncio.gather(*third)
        )
        assert rows == [1, 30, 20]
        assert stored_first[1] and all(new for _, new in stored_third)
        assert all(isinstance(f, OSError) for f in failed)  # no ack says "accepted"
        assert len(checkouts) == 2  # was 3: one per batch (the failed one's is given back)
        async with store.read() as r:
            keys = {q.delivery_key for q in await open_requests(r, limit=100)}
        assert keys == {"p:0"} | {f"q:{i}" for i in range(20)}

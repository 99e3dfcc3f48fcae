"""The ack path's group commit: a burst of requests is stored in a few statements, each one
committed before its own ack, duplicates resolved even inside one statement."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import pytest

import core.store.requests as store_requests
from core.model import Request, RequestKind
from core.requests import submit
from core.store.requests import open_requests
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


def count_statements(store) -> list[int]:
    """Counts the store's autocommit statements (the ack path's round trips)."""
    used: list[int] = []
    statement = store.statement

    @asynccontextmanager
    async def counted() -> AsyncIterator[Tx]:
        used.append(1)
        async with statement() as tx:
            yield tx

    store.statement = counted
    return used


async def test_fifty_concurrent_requests_are_stored_in_a_few_statements_each_before_its_ack():
    async with harness() as h:
        used = count_statements(h.store)
        stored = await asyncio.gather(
            *(submit(h.core, request(h.clock, f"click:{i}", number=f"1-{i}")) for i in range(50))
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


async def test_a_redelivery_and_a_double_click_inside_one_burst_make_one_request_each():
    async with harness() as h:
        results = await asyncio.gather(
            submit(h.core, request(h.clock, "click:T1", "refetch:1-1")),
            submit(h.core, request(h.clock, "click:T1", "refetch:1-1")),  # Slack's retry
            submit(h.core, request(h.clock, "click:T2", "refetch:1-1")),  # a double click
            submit(h.core, request(h.clock, "click:T3", "refetch:1-2", number="1-2")),
        )
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
        outcomes = await asyncio.gather(
            *(submit(h.core, request(h.clock, f"k{i}")) for i in range(3)),
            return_exceptions=True,
        )
        assert all(isinstance(o, OSError) for o in outcomes)  # no ack says "accepted"
        monkeypatch.setattr(store_requests, "insert_requests", real)
        stored, new = await submit(h.core, request(h.clock, "k-after"))
        assert new and stored.id


async def test_a_cancelled_submitter_does_not_take_the_others_of_its_burst_with_it():
    async with harness() as h:
        first = asyncio.create_task(submit(h.core, request(h.clock, "a", number="1-1")))
        second = asyncio.create_task(submit(h.core, request(h.clock, "b", number="1-2")))
        await asyncio.sleep(0)  # both are waiting for the statement
        first.cancel()
        stored, new = await second
        assert new and stored.delivery_key == "b"
        async with h.store.read() as r:
            keys = {q.delivery_key for q in await open_requests(r)}
        assert "b" in keys  # "a" may be stored too: its INSERT had started; it is then run

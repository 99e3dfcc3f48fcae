"""The requests table: Slack requests stored before their ack, run and finished by the worker."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterable, Mapping, Sequence
from contextlib import AbstractAsyncContextManager
from dataclasses import replace
from datetime import datetime
from typing import Any, Protocol

from core.model import ALL_ORDERS, Request, RequestKind
from core.outcomes import Report
from core.store.codec import load_report
from core.store.db import POSTGRES, BusyError, Row
from core.store.tx import Tx, iso, parse_dt


class Statements(Protocol):
    """The store's autocommit statements (the ack path's one round trip)."""

    def statement(self) -> AbstractAsyncContextManager[Tx]: ...

    def immediate(self) -> AbstractAsyncContextManager[Tx] | None: ...


def request_from_row(row: Row) -> Request:
    numbers = json.loads(row["numbers"])
    received = parse_dt(row["received_at"])
    assert received is not None
    return Request(
        kind=RequestKind(row["kind"]),
        shop=row["shop"],
        numbers=ALL_ORDERS if numbers == ALL_ORDERS else tuple(numbers),
        actor=row["actor"],
        received_at=received,
        delivery_key=row["delivery_key"],
        open_key=row["open_key"],
        channel=row["channel"],
        thread_ts=row["thread_ts"],
        response_url=row["response_url"],
        payload=json.loads(row["payload"]),
        id=row["id"],
        state=row["state"],
        attempts=row["attempts"],
    )


_COLUMNS = (
    "kind, shop, numbers, actor, channel, thread_ts, response_url, payload, delivery_key, "
    "open_key, state, received_at"
)
_ROW = "(?,?,?,?,?,?,?,?,?,?,'queued',?)"
MAX_ROWS = 100  # one statement's rows (11 parameters each, far below SQLite's limit)


def _params(request: Request) -> tuple[Any, ...]:
    numbers = request.numbers if isinstance(request.numbers, str) else list(request.numbers)
    return (
        request.kind.value,
        request.shop,
        json.dumps(numbers),
        request.actor,
        request.channel,
        request.thread_ts,
        request.response_url,
        json.dumps(dict(request.payload), ensure_ascii=False),
        request.delivery_key,
        request.open_key,
        iso(request.received_at),
    )


async def insert_requests(tx: Tx, requests: Sequence[Request]) -> list[tuple[Request, bool]]:
    """Store requests (≤ ``MAX_ROWS``) in one statement, each unless Slack redelivered it or
    the same one is still open — also when the duplicate is in this very batch.

    Returns, in order, the stored row and True when it is new; the existing row and False.
    """
    params = [p for request in requests for p in _params(request)]
    rows = await tx.rows(
        f"INSERT INTO requests ({_COLUMNS}) VALUES "  # noqa: S608 (only placeholders)
        + ",".join([_ROW] * len(requests))
        + " ON CONFLICT DO NOTHING RETURNING id, delivery_key",
        params,
    )
    ids = {str(row["delivery_key"]): int(row["id"]) for row in rows}
    out: list[tuple[Request, bool]] = []
    for request in requests:
        row_id = ids.pop(request.delivery_key, None)
        if row_id is not None:
            out.append((replace(request, id=row_id, state="queued", attempts=0), True))
            continue
        found = await tx.rows(
            "SELECT * FROM requests WHERE delivery_key = ? "
            "OR (open_key = ? AND state != 'done') ORDER BY id LIMIT 1",
            (request.delivery_key, request.open_key),
        )
        out.append((request_from_row(found[0]), False))
    return out


async def insert_request(tx: Tx, request: Request) -> tuple[Request, bool]:
    """Store one request inside a larger unit of work; see ``insert_requests``."""
    (stored,) = await insert_requests(tx, [request])
    return stored


_Waiting = tuple[Request, asyncio.Future[tuple[Request, bool]]]  # a request and its ack


class Inbox:
    """The ack path's commit. Each request is committed before its own ack returns.

    A request that comes alone is stored at once, in the caller's task (SQLite, while no
    unit of work holds the connection): no task to start, no turn of a busy event loop to
    wait for. A burst (Slack delivers fifty clicks on one card list together) is stored by
    group commit: the requests submitted while a statement runs, or within ``BURST_GAP`` of
    each other, go in together in the next multi-row INSERT — one commit instead of fifty
    (each commit writes the table's and its indexes' pages), and on PostgreSQL one round
    trip instead of fifty queued behind each other, all of a burst's batches on one pooled
    connection.
    """

    BURST_GAP = 0.005  # seconds between two submits that make them one burst

    def __init__(self) -> None:
        self._waiting: list[_Waiting] = []
        self._task: asyncio.Task[None] | None = None
        self._last = -1.0  # the event loop's time of the last submit

    async def submit(self, store: Statements, request: Request) -> tuple[Request, bool]:
        """Store one request, alone at once or with the rest of its burst; see
        ``insert_requests``."""
        loop = asyncio.get_running_loop()
        alone = self._task is None and loop.time() - self._last > self.BURST_GAP
        self._last = loop.time()
        if alone and (stored := await _now(store, [request])) is not None:
            return stored[0]
        done: asyncio.Future[tuple[Request, bool]] = loop.create_future()
        self._waiting.append((request, done))
        if self._task is None:  # runs on even if this submitter is cancelled: others wait on it
            self._task = asyncio.create_task(self._drain(store), name="request-inbox")
        return await done

    async def _drain(self, store: Statements) -> None:
        batch: list[_Waiting] = []
        try:
            while self._waiting:
                batch = self._take()
                requests = [r for r, _ in batch]
                try:
                    stored = await _now(store, requests)
                    if stored is None:
                        async with store.statement() as tx:
                            stored = await insert_requests(tx, requests)
                            # PostgreSQL: the rest of the burst on this pooled connection,
                            # without a checkout (and its check's round trip) per batch; the
                            # jobs have connections of their own. SQLite's one connection is
                            # the jobs' too: it is given back between batches.
                            while tx.dialect == POSTGRES and self._waiting:
                                _answer(batch, stored)
                                batch = self._take()
                                stored = await insert_requests(tx, [r for r, _ in batch])
                except Exception as exc:  # every ack of the batch answers the error
                    _answer(batch, [], exc)
                else:
                    _answer(batch, stored)
                batch = []
        finally:
            self._task = None
            # only when cancelled (shutdown): no ack is left waiting forever
            for _, done in batch + self._waiting:
                done.cancel()
            self._waiting = []

    def _take(self) -> list[_Waiting]:
        batch, self._waiting = self._waiting[:MAX_ROWS], self._waiting[MAX_ROWS:]
        return batch


def _answer(
    batch: list[_Waiting],
    stored: list[tuple[Request, bool]],
    failure: Exception | None = None,
) -> None:
    """Answer each ack of a batch: its stored row, or the statement's error."""
    for i, (_, done) in enumerate(batch):
        if done.done():  # its submitter was cancelled
            continue
        if failure is None:
            done.set_result(stored[i])
        else:
            done.set_exception(failure)


async def _now(store: Statements, requests: list[Request]) -> list[tuple[Request, bool]] | None:
    """Store ``requests`` right here without waiting for anything (never suspends, so never
    cancelled half-way), or None when the store cannot now: a unit of work holds SQLite's
    connection, another process holds its write lock, or it is PostgreSQL."""
    now = store.immediate()
    if now is None:
        return None
    try:
        async with now as tx:
            return await insert_requests(tx, requests)
    except BusyError:
        return None  # nothing was written: wait for the lock like any statement


async def open_requests(tx: Tx, limit: int = 50) -> list[Request]:
    """Unfinished requests, oldest first (a 'running' one was interrupted: it is resumed)."""
    rows = await tx.rows(
        "SELECT * FROM requests WHERE state != 'done' ORDER BY id LIMIT ?", (limit,)
    )
    return [request_from_row(row) for row in rows]


async def claim_request(tx: Tx, now: datetime, skip: Iterable[int] = ()) -> Request | None:
    """Take the oldest unfinished request (not in ``skip``) and mark it running, one more
    attempt; None when there is none. Returned as it was before the claim (``attempts`` counts
    the earlier tries). On PostgreSQL a request another transaction is claiming right now is
    passed over (``FOR UPDATE SKIP LOCKED``) instead of waited for or taken twice; SQLite
    serialises writers and has no such clause."""
    skipped = sorted(set(skip))
    unless = f" AND id NOT IN ({','.join('?' * len(skipped))})" if skipped else ""
    lock = " FOR UPDATE SKIP LOCKED" if tx.dialect == POSTGRES else ""
    rows = await tx.rows(
        f"SELECT * FROM requests WHERE state != 'done'{unless} ORDER BY id LIMIT 1{lock}",  # noqa: S608
        skipped,
    )
    if not rows:
        return None
    request = request_from_row(rows[0])
    assert request.id is not None
    await start_request(tx, request.id, now)
    return request


async def start_request(tx: Tx, request_id: int, now: datetime) -> None:
    """Mark a request running (one more attempt)."""
    await tx.execute(
        "UPDATE requests SET state = 'running', attempts = attempts + 1, started_at = ? "
        "WHERE id = ?",
        (iso(now), request_id),
    )


async def finish_request(tx: Tx, request_id: int, now: datetime, result: Mapping[str, Any]) -> bool:
    """Record a request's result; False when it was already finished (nothing written)."""
    changed = await tx.execute(
        "UPDATE requests SET state = 'done', finished_at = ?, result = ? "
        "WHERE id = ? AND state != 'done'",
        (iso(now), json.dumps(dict(result), ensure_ascii=False), request_id),
    )
    return changed == 1


async def request_result(tx: Tx, request_id: int) -> tuple[Request, Report] | None:
    """A finished request and its report."""
    rows = await tx.rows("SELECT * FROM requests WHERE id = ? AND state = 'done'", (request_id,))
    if not rows:
        return None
    return request_from_row(rows[0]), load_report(json.loads(rows[0]["result"]))

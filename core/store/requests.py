"""The requests table: Slack requests stored before their ack, run and finished by the worker."""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import replace
from datetime import datetime
from typing import Any

from core.model import ALL_ORDERS, Request, RequestKind
from core.outcomes import Report
from core.store.codec import load_report
from core.store.db import POSTGRES, Row
from core.store.tx import Tx, iso, parse_dt


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


async def insert_request(tx: Tx, request: Request) -> tuple[Request, bool]:
    """Store a request unless Slack redelivered it or the same one is still open.

    Returns the stored row and True when it is new; the existing row and False otherwise.
    """
    numbers = request.numbers if isinstance(request.numbers, str) else list(request.numbers)
    changed, row_id = await tx.insert(
        """INSERT INTO requests (kind, shop, numbers, actor, channel, thread_ts, response_url,
                                 payload, delivery_key, open_key, state, received_at)
           VALUES (?,?,?,?,?,?,?,?,?,?, 'queued', ?) ON CONFLICT DO NOTHING RETURNING id""",
        (
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
        ),
    )
    if changed == 1:
        return replace(request, id=row_id, state="queued", attempts=0), True
    rows = await tx.rows(
        "SELECT * FROM requests WHERE delivery_key = ? "
        "OR (open_key = ? AND state != 'done') ORDER BY id LIMIT 1",
        (request.delivery_key, request.open_key),
    )
    return request_from_row(rows[0]), False


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

"""Outbox statements: events handed to messages, and messages delivered one by one by key.

A message is one Slack post (plus its thread replies) under a unique key: enqueueing a key
twice is a no-op, so "exactly once" is a database constraint, not a memory. The publisher
delivers due messages, records every attempt, and dead-letters what Slack will never take.
Any kind can be added: ``enqueue_message(key, shop, channel, kind, payload)`` with
``payload = {"messages": [Block Kit messages], "refs": [ref names set to "channel|ts"]}``
(optional: ``"thread_ts"`` to post into a thread, ``"fallback_channel"`` to use when the
channel refuses it for good), and ``update_message(key, payload)`` to edit the posted message
in place (chat.update).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

from core.events import Event, EventKind
from core.store.db import POSTGRES, SQLITE, Conn, Dialect, Row

PENDING, POSTED, DEAD = "pending", "posted", "dead"

# The payload without its thread and fallback keys. Dialects differ (no JSON functions in the
# portable subset): SQLite's json_remove, PostgreSQL's jsonb minus (the column stays text).
_DROP_THREAD_KEYS: dict[Dialect, str] = {
    SQLITE: "json_remove(payload, '$.fallback_channel', '$.thread_ts')",
    POSTGRES: "(payload::jsonb - 'fallback_channel' - 'thread_ts')::text",
}


@dataclass(frozen=True, slots=True)
class OutboxMessage:
    """One row of ``messages``."""

    id: int
    key: str
    shop: str
    channel: str
    kind: str
    payload: Mapping[str, Any]
    state: str  # pending | posted | dead
    version: int
    posted_version: int
    attempts: int
    next_attempt_at: datetime
    posting_at: datetime | None
    ts: str | None
    parts_posted: int
    last_error: str | None

    @property
    def is_update(self) -> bool:
        """Slack shows an older version of this message: edit it in place."""
        return self.ts is not None and 0 < self.posted_version < self.version


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value else None


def event_from_row(row: Row) -> Event:
    return Event(
        id=row["id"],
        shop=row["shop"],
        kind=EventKind(row["kind"]),
        order_number=row["order_number"],
        at=datetime.fromisoformat(row["at"]),
        data=json.loads(row["data"]),
    )


def message_from_row(row: Row) -> OutboxMessage:
    posting = row["posting_at"]
    return OutboxMessage(
        id=row["id"],
        key=row["key"],
        shop=row["shop"],
        channel=row["channel"],
        kind=row["kind"],
        payload=json.loads(row["payload"]),
        state=row["state"],
        version=row["version"],
        posted_version=row["posted_version"],
        attempts=row["attempts"],
        next_attempt_at=datetime.fromisoformat(row["next_attempt_at"]),
        posting_at=datetime.fromisoformat(posting) if posting else None,
        ts=row["ts"],
        parts_posted=row["parts_posted"],
        last_error=row["last_error"],
    )


MESSAGE_ROWS = 100  # rows per INSERT (9 parameters each)


class OutboxTx:
    """The outbox's statements inside one transaction (mixed into ``Tx``)."""

    _conn: Conn

    async def _rows(self, sql: str, params: Sequence[Any] = ()) -> list[Row]:
        return await self._conn.fetch(sql, params)

    async def _change(self, sql: str, params: Sequence[Any] = ()) -> int:
        return await self._conn.change(sql, params)

    # -- messages --------------------------------------------------------------------------

    async def enqueue_message(
        self,
        key: str,
        shop: str,
        channel: str,
        kind: str,
        payload: Mapping[str, Any],
        *,
        at: datetime,
    ) -> bool:
        """Queue one message for ``channel``; False (and nothing changed) if ``key`` exists."""
        return await self.enqueue_messages([(key, shop, channel, kind, payload)], at=at) == 1

    async def enqueue_messages(
        self, messages: Sequence[tuple[str, str, str, str, Mapping[str, Any]]], *, at: datetime
    ) -> int:
        """Queue messages ``(key, shop, channel, kind, payload)`` in this order, each unless its
        key exists (the first of two with one key wins), in one statement per ``MESSAGE_ROWS``:
        a transaction that plans a hundred reports holds the database for a few statements, not
        a hundred (the ack path's commit waits for it on SQLite). Returns how many were new."""
        new = 0
        for i in range(0, len(messages), MESSAGE_ROWS):
            chunk = messages[i : i + MESSAGE_ROWS]
            params = [
                value
                for key, shop, channel, kind, payload in chunk
                for value in (
                    key, shop, channel, kind, _json(payload), PENDING, _iso(at), _iso(at), _iso(at)
                )
            ]  # fmt: skip
            new += await self._change(
                """INSERT INTO messages (key, shop, channel, kind, payload, state,
                                         next_attempt_at, created_at, updated_at) VALUES """  # noqa: S608 (only placeholders)
                + ",".join(["(?,?,?,?,?,?,?,?,?)"] * len(chunk))
                + " ON CONFLICT(key) DO NOTHING",
                params,
            )
        return new

    async def update_message(self, key: str, payload: Mapping[str, Any], *, at: datetime) -> bool:
        """Replace a message's content; a posted message is then edited in place (same ts).
        False when there is no such message or it was dead-lettered."""
        return (
            await self._change(
                """UPDATE messages SET payload = ?, version = version + 1, state = ?,
                          attempts = 0, next_attempt_at = ?, updated_at = ?
                   WHERE key = ? AND state <> ?""",
                (_json(payload), PENDING, _iso(at), _iso(at), key, DEAD),
            )
            == 1
        )

    async def get_message(self, key: str) -> OutboxMessage | None:
        """The message queued under ``key``, if any."""
        rows = await self._rows("SELECT * FROM messages WHERE key = ?", (key,))
        return message_from_row(rows[0]) if rows else None

    async def due_messages(self, now: datetime, limit: int) -> list[OutboxMessage]:
        """Pending messages whose next attempt is due, oldest first."""
        rows = await self._rows(
            """SELECT * FROM messages WHERE state = ? AND next_attempt_at <= ?
               ORDER BY id LIMIT ?""",
            (PENDING, _iso(now), limit),
        )
        return [message_from_row(row) for row in rows]

    async def count_messages(self) -> dict[str, int]:
        """Messages per state (for tests and health)."""
        rows = await self._rows("SELECT state, COUNT(*) AS n FROM messages GROUP BY state")
        return {row["state"]: row["n"] for row in rows}

    async def message_posting(self, message_id: int, at: datetime) -> None:
        """A post is about to start: after a crash, look for it in Slack before posting again."""
        await self._change(
            "UPDATE messages SET posting_at = ?, updated_at = ? WHERE id = ?",
            (_iso(at), _iso(at), message_id),
        )

    async def message_progress(self, message_id: int, ts: str, parts: int, at: datetime) -> None:
        """Slack took the main message (``ts``) and ``parts`` messages of it so far."""
        await self._change(
            """UPDATE messages SET ts = ?, parts_posted = ?, posting_at = NULL, updated_at = ?
               WHERE id = ?""",
            (ts, parts, _iso(at), message_id),
        )

    async def message_delivered(self, message_id: int, version: int, at: datetime) -> None:
        """Slack shows ``version``; the message is done unless a newer version was queued."""
        await self._change(
            """UPDATE messages SET posted_version = ?, attempts = 0, last_error = NULL,
                      posting_at = NULL, updated_at = ?,
                      state = CASE WHEN version = ? THEN ? ELSE state END
               WHERE id = ?""",
            (version, _iso(at), version, POSTED, message_id),
        )

    async def message_failed(
        self,
        message_id: int,
        error: str,
        at: datetime,
        *,
        retry_at: datetime | None,
        maybe_posted: bool = False,
    ) -> None:
        """Record a failed attempt: retried at ``retry_at``, or dead-lettered when None.
        ``maybe_posted`` keeps the posting mark (a timeout: Slack may have taken it)."""
        await self._change(
            f"""UPDATE messages SET attempts = attempts + 1, last_error = ?, updated_at = ?,
                      state = ?, next_attempt_at = COALESCE(?, next_attempt_at)
                      {"" if maybe_posted else ", posting_at = NULL"}
               WHERE id = ?""",  # noqa: S608
            (error, _iso(at), PENDING if retry_at else DEAD, _iso(retry_at), message_id),
        )

    async def message_moved(self, message_id: int, channel: str, error: str, at: datetime) -> None:
        """Re-address a message its channel refused for good to its fallback channel (which
        replaces the thread it was meant for); it is due at once."""
        dropped = _DROP_THREAD_KEYS[self._conn.dialect]
        await self._change(
            f"""UPDATE messages SET channel = ?, last_error = ?, attempts = attempts + 1,
                      posting_at = NULL, next_attempt_at = ?, updated_at = ?,
                      payload = {dropped}
               WHERE id = ?""",  # noqa: S608
            (channel, error, _iso(at), _iso(at), message_id),
        )

    # -- events: planned into cards/alerts, then folded into a digest -----------------------

    async def events_to_plan(self, limit: int) -> list[Event]:
        """Events whose cards and alerts are not queued yet, oldest first."""
        return await self._events("planned_at IS NULL", limit)

    async def events_to_digest(self, limit: int) -> list[Event]:
        """Planned events not yet folded into a digest message, oldest first."""
        return await self._events("planned_at IS NOT NULL", limit)

    async def _events(self, condition: str, limit: int) -> list[Event]:
        rows = await self._rows(
            f"SELECT * FROM outbox WHERE posted_at IS NULL AND {condition} ORDER BY id LIMIT ?",  # noqa: S608
            (limit,),
        )
        return [event_from_row(row) for row in rows]

    async def mark_events(
        self, ids: Iterable[int], step: Literal["planned", "posted"], at: datetime
    ) -> None:
        """Mark events planned (cards/alerts queued) or posted (folded into a digest)."""
        wanted = list(ids)
        column = "planned_at" if step == "planned" else "posted_at"
        for i in range(0, len(wanted), 500):
            chunk = wanted[i : i + 500]
            marks = ",".join("?" * len(chunk))
            await self._change(
                f"UPDATE outbox SET {column} = ? WHERE id IN ({marks})",  # noqa: S608
                (_iso(at), *chunk),
            )

    # -- refs and runs (small named values; once-per-period claims) -------------------------

    async def get_ref(self, key: str) -> str | None:
        """Read a small named value."""
        rows = await self._rows("SELECT value FROM refs WHERE key = ?", (key,))
        return str(rows[0]["value"]) if rows else None

    async def set_ref(self, key: str, value: str, *, only_new: bool = False) -> bool:
        """Write a small named value; with ``only_new`` an existing one is kept (False)."""
        conflict = "DO NOTHING" if only_new else "DO UPDATE SET value = excluded.value"
        return (
            await self._change(
                f"INSERT INTO refs (key, value) VALUES (?, ?) ON CONFLICT(key) {conflict}",  # noqa: S608
                (key, value),
            )
            == 1
        )

    async def delete_refs_with_prefix(self, prefix: str) -> None:
        """Forget every named value whose key starts with ``prefix``."""
        await self._change(
            "DELETE FROM refs WHERE key >= ? AND key < ?", (prefix, prefix + "\uffff")
        )

    async def claim_run(self, job: str, period: str, now: datetime) -> bool:
        """Claim a job's period in this transaction (True = ours, False = already done)."""
        return (
            await self._change(
                "INSERT INTO runs (job, period, done_at) VALUES (?,?,?) ON CONFLICT DO NOTHING",
                (job, period, _iso(now)),
            )
            == 1
        )

    async def has_run(self, job: str, period: str) -> bool:
        """True when the job's period was claimed."""
        rows = await self._rows("SELECT 1 FROM runs WHERE job = ? AND period = ?", (job, period))
        return bool(rows)


def _json(payload: Mapping[str, Any]) -> str:
    return json.dumps(payload, ensure_ascii=False)

"""Store: every SQL statement of the bot; SqliteStore: its adapter on one aiosqlite connection."""

from __future__ import annotations

import logging
import sqlite3
from collections.abc import AsyncIterator, Iterable
from contextlib import AbstractAsyncContextManager, asynccontextmanager, suppress
from datetime import datetime
from pathlib import Path
from typing import Any

import aiosqlite

from core.events import Event, EventKind
from core.model import OrderRecord, Request, ShopConfig, Stage
from core.outcomes import Report
from core.store.db import POSTGRES, SQLITE, Dialect, DirectSqliteConn, SqliteConn
from core.store.lock import AckFirst, PriorityLock
from core.store.migrations import MIGRATIONS, script_for
from core.store.outbox import event_from_row
from core.store.requests import request_result
from core.store.tx import Intent, Tx, intent_from_row, iso

# Dialects differ (no JSON functions in the portable subset): SQLite's json_* functions, and
# PostgreSQL's jsonb operators on the text column (cast back to text: the column stays text).
_PURGE: dict[Dialect, str] = {
    SQLITE: """
    UPDATE orders SET snapshot = json_set(
        json_remove(snapshot, '$.orderer', '$.remarks', '$.raw'),
        '$.packages',
        json((SELECT json_group_array(json(json_remove(p.value, '$.recipient')))
              FROM json_each(orders.snapshot, '$.packages') AS p)))
    WHERE number IN (
        SELECT number FROM orders
        WHERE stage IN ('processed', 'cancelled') AND json_type(snapshot, '$.orderer') IS NOT NULL
          AND stage_since < ?
        LIMIT ?)
""",
    POSTGRES: """
    UPDATE orders SET snapshot = (
        (snapshot::jsonb - 'orderer' - 'remarks' - 'raw')
        || jsonb_build_object('packages', COALESCE(
            (SELECT jsonb_agg(p.value - 'recipient' ORDER BY p.i)
             FROM jsonb_array_elements(snapshot::jsonb -> 'packages')
                  WITH ORDINALITY AS p(value, i)),
            '[]'::jsonb)))::text
    WHERE number IN (
        SELECT number FROM orders
        WHERE stage IN ('processed', 'cancelled') AND (snapshot::jsonb -> 'orderer') IS NOT NULL
          AND stage_since < ?
        LIMIT ?)
""",
}
"""Strip names, addresses, phones, remarks and any raw model from finished orders (the WHERE
repeats the partial index orders_personal so that only orders still holding them are read)."""


BUSY_TIMEOUT_MS = 5000  # how long aiosqlite's thread waits for another process's write lock


class Store:
    """The bot's state: every statement of the bot, over an adapter's connections (SQLite
    here, PostgreSQL in postgres.py). An adapter provides the three ways to run statements
    (``_tx``, ``_read``, ``statement``); the jobs' units of work (``tx``, ``read``) first take
    their turn behind the Slack requests being answered (``ack_first``)."""

    def __init__(self) -> None:
        self.ack_first = AckFirst()

    def tx(self) -> AbstractAsyncContextManager[Tx]:
        """One write transaction; the order invariants are checked before it commits."""
        return self.ack_first.behind(self._tx())

    def read(self) -> AbstractAsyncContextManager[Tx]:
        """Reads that see one consistent state (no half-done transaction of another)."""
        return self.ack_first.behind(self._read())

    def statement(self) -> AbstractAsyncContextManager[Tx]:
        """One statement that is its own transaction (the ack path's single round trip)."""
        raise NotImplementedError

    def immediate(self) -> AbstractAsyncContextManager[Tx] | None:
        """One autocommit statement run in the calling task without waiting for anything,
        when the adapter can (SQLite, while no unit of work holds its connection); None
        otherwise (use ``statement``)."""
        return None

    def _tx(self) -> AbstractAsyncContextManager[Tx]:
        raise NotImplementedError

    def _read(self) -> AbstractAsyncContextManager[Tx]:
        raise NotImplementedError

    async def ping(self) -> bool:
        """True when the database answers."""
        async with self.read() as r:
            return bool(await r.rows("SELECT 1"))

    # -- shops -----------------------------------------------------------------------------

    async def upsert_shop(self, shop: ShopConfig) -> None:
        """Register or update a shop's display name, channel and API option."""
        async with self.tx() as t:
            await t.execute(
                """INSERT INTO shops (key, name, channel, api_option) VALUES (?,?,?,?)
                   ON CONFLICT(key) DO UPDATE SET name=excluded.name, channel=excluded.channel,
                   api_option=excluded.api_option""",
                (shop.key, shop.name, shop.channel, int(shop.api_option)),
            )

    async def shop_row(self, shop: str) -> dict[str, Any]:
        """Return the shop's stored status fields (empty dict if unknown)."""
        async with self.read() as r:
            rows = await r.rows("SELECT * FROM shops WHERE key = ?", (shop,))
        return dict(rows[0]) if rows else {}

    async def set_shop_field(self, shop: str, field: str, value: Any) -> None:
        """Set one status column of a shop (last_success, license_* …)."""
        allowed = {
            "last_success",
            "license_expires",
            "license_key_enc",
            "license_key_pending_enc",
            "license_warned_days",
        }
        if field not in allowed:
            raise ValueError(f"unknown shop field {field}")
        async with self.tx() as t:
            await t.execute(f"UPDATE shops SET {field} = ? WHERE key = ?", (value, shop))  # noqa: S608

    # -- orders ----------------------------------------------------------------------------

    async def get_order(self, number: str) -> OrderRecord | None:
        """Return our record of an order."""
        async with self.read() as r:
            return await r.get_order(number)

    async def get_orders(self, numbers: Iterable[str]) -> dict[str, OrderRecord]:
        """Return our records of these orders."""
        async with self.read() as r:
            return await r.get_orders(numbers)

    async def numbers_in_stages(self, shop: str, stages: Iterable[Stage]) -> list[str]:
        """Return order numbers of a shop in the given stages, oldest order first."""
        wanted = [s.value for s in stages]
        marks = ",".join("?" * len(wanted))
        async with self.read() as r:
            rows = await r.rows(
                f"SELECT number FROM orders WHERE shop = ? AND stage IN ({marks}) "  # noqa: S608
                "ORDER BY ordered_at, number",
                (shop, *wanted),
            )
        return [row["number"] for row in rows]

    async def orders_in_stages(self, shop: str, stages: Iterable[Stage]) -> list[OrderRecord]:
        """Return records of a shop in the given stages, oldest order first."""
        numbers = await self.numbers_in_stages(shop, stages)
        found = await self.get_orders(numbers)
        return [found[n] for n in numbers if n in found]

    async def versions(self, numbers: Iterable[str]) -> dict[str, int]:
        """Row versions of these orders (unknown ones absent): taken before an RMS read."""
        async with self.read() as r:
            return await r.versions(numbers)

    async def bundle_candidates(
        self, shop: str, open_stages: Iterable[Stage], finished_since: datetime
    ) -> list[OrderRecord]:
        """Unbundled orders in an open stage, or 楽天処理済 since ``finished_since``, oldest first.

        Finished orders stay 楽天処理済 forever (polling stops there), so they are bounded here.
        """
        wanted = [s.value for s in open_stages]
        marks = ",".join("?" * len(wanted))
        async with self.read() as r:
            rows = await r.rows(
                "SELECT number FROM orders WHERE shop = ? AND bundle_id IS NULL AND "  # noqa: S608
                f"(stage IN ({marks}) OR (stage = ? AND stage_since >= ?)) "
                "ORDER BY ordered_at, number",
                (shop, *wanted, Stage.PROCESSED.value, iso(finished_since)),
            )
            numbers = [row["number"] for row in rows]
            found = await r.get_orders(numbers)
        return [found[n] for n in numbers if n in found]

    async def known_numbers(self, numbers: Iterable[str]) -> set[str]:
        """Return which of these order numbers we already have."""
        async with self.read() as r:
            return set((await r.get_orders(numbers)).keys())

    async def due_for_poll(self, shop: str, now: datetime, limit: int) -> list[str]:
        """Order numbers in result polling whose next poll is due, most overdue first."""
        async with self.read() as r:
            rows = await r.rows(
                """SELECT number FROM orders WHERE shop = ? AND polling = 1
                   AND (next_poll_at IS NULL OR next_poll_at <= ?)
                   ORDER BY next_poll_at NULLS FIRST LIMIT ?""",
                (shop, iso(now), limit),
            )
        return [row["number"] for row in rows]

    async def stage_counts(self, shop: str) -> dict[Stage, int]:
        """Count a shop's orders per stage."""
        async with self.read() as r:
            rows = await r.rows(
                "SELECT stage, COUNT(*) AS n FROM orders WHERE shop = ? GROUP BY stage", (shop,)
            )
        return {Stage(row["stage"]): row["n"] for row in rows}

    async def purge_finished(self, before: datetime, batch: int = 500) -> int:
        """Drop the personal data of orders finished (楽天処理済, キャンセル) before ``before``.

        Number, shop, stage, dates, amounts, items and every other table (audit, outbox,
        intents) stay. Short transactions of ``batch`` orders keep Slack's acks waiting briefly.
        """
        total = 0
        while True:
            async with self.tx() as t:
                changed = await t.execute(_PURGE[t.dialect], (iso(before), batch))
            total += changed
            if changed < batch:
                return total

    # -- intents ---------------------------------------------------------------------------

    async def get_intent(self, number: str) -> Intent | None:
        """Return the intent of an order."""
        async with self.read() as r:
            return await r.get_intent(number)

    async def pending_intents(self, shop: str) -> list[Intent]:
        """Intents whose outcome is not known yet (sent or about to be sent)."""
        async with self.read() as r:
            rows = await r.rows(
                "SELECT * FROM intents WHERE shop = ? AND state = 'pending' ORDER BY created_at",
                (shop,),
            )
        return [intent_from_row(row) for row in rows]

    async def open_request_ids(self) -> set[int]:
        """Ids of requests not finished yet."""
        async with self.read() as r:
            rows = await r.rows("SELECT id FROM requests WHERE state != 'done'")
        return {int(row["id"]) for row in rows}

    async def request_orders(self, request_id: int) -> list[str]:
        """Order numbers whose confirmation intent a request claimed."""
        async with self.read() as r:
            rows = await r.rows(
                "SELECT order_number FROM intents WHERE request_id = ? ORDER BY created_at",
                (request_id,),
            )
        return [row["order_number"] for row in rows]

    async def fee_claim(self, number: str) -> tuple[str, int | None] | None:
        """The fee-write claim of an order: (state, request id), or None."""
        async with self.read() as r:
            rows = await r.rows(
                "SELECT state, request_id FROM fee_requests WHERE order_number = ?", (number,)
            )
        return (rows[0]["state"], rows[0]["request_id"]) if rows else None

    async def finish_fee(self, number: str, state: str, now: datetime) -> None:
        """Close an order's fee-write claim on its own (the write failed before any change)."""
        async with self.tx() as t:
            await t.finish_fee(number, state, now)

    async def request_result(self, request_id: int) -> tuple[Request, Report] | None:
        """A finished request and its report (for the publisher)."""
        async with self.read() as r:
            return await request_result(r, request_id)

    async def stranded_sending(self, shop: str) -> list[OrderRecord]:
        """Orders 確認送信中 without a pending intent (left by an older version or a bug)."""
        async with self.read() as r:
            rows = await r.rows(
                """SELECT o.number FROM orders o
                   LEFT JOIN intents i ON i.order_number = o.number
                   WHERE o.shop = ? AND o.stage = 'sending'
                     AND COALESCE(i.state, '') != 'pending'""",
                (shop,),
            )
            found = await r.get_orders(row["number"] for row in rows)
        return list(found.values())

    async def stale_fee_claims(self, shop: str, before: datetime) -> list[str]:
        """A shop's fee writes 'running' since before ``before`` whose request is not open."""
        async with self.read() as r:
            rows = await r.rows(
                """SELECT f.order_number FROM fee_requests f
                   JOIN orders o ON o.number = f.order_number AND o.shop = ?
                   LEFT JOIN requests q ON q.id = f.request_id AND q.state != 'done'
                   WHERE f.state = 'running' AND f.updated_at < ? AND q.id IS NULL""",
                (shop, iso(before)),
            )
        return [row["order_number"] for row in rows]

    async def count_intents(self, shop: str | None = None) -> dict[str, int]:
        """Count intents per state (for tests and health)."""
        sql = "SELECT state, COUNT(*) AS n FROM intents"
        params: tuple[Any, ...] = ()
        if shop:
            sql += " WHERE shop = ?"
            params = (shop,)
        async with self.read() as r:
            rows = await r.rows(sql + " GROUP BY state", params)
        return {row["state"]: row["n"] for row in rows}

    # -- outbox, audit, runs, refs -----------------------------------------------------------

    async def unposted_events(self, limit: int = 500) -> list[Event]:
        """Outbox events not yet posted, oldest first."""
        async with self.read() as r:
            rows = await r.rows(
                "SELECT * FROM outbox WHERE posted_at IS NULL ORDER BY id LIMIT ?", (limit,)
            )
        return [event_from_row(row) for row in rows]

    async def mark_posted(self, ids: Iterable[int], at: datetime, ref: str = "") -> None:
        """Mark events as posted (only after Slack accepted the message)."""
        wanted = list(ids)
        async with self.tx() as t:
            for i in range(0, len(wanted), 500):
                chunk = wanted[i : i + 500]
                marks = ",".join("?" * len(chunk))
                await t.execute(
                    f"UPDATE outbox SET posted_at = ?, post_ref = ? WHERE id IN ({marks})",  # noqa: S608
                    (iso(at), ref, *chunk),
                )

    async def events_between(
        self, shop: str, start: datetime, end: datetime, kinds: Iterable[EventKind] | None = None
    ) -> list[Event]:
        """Events of a shop with start <= at < end."""
        sql = "SELECT * FROM outbox WHERE shop = ? AND at >= ? AND at < ?"
        params: list[Any] = [shop, iso(start), iso(end)]
        if kinds is not None:
            wanted = [k.value for k in kinds]
            sql += f" AND kind IN ({','.join('?' * len(wanted))})"
            params += wanted
        async with self.read() as r:
            rows = await r.rows(sql + " ORDER BY id", params)
        return [event_from_row(row) for row in rows]

    async def audit_entries(self, shop: str | None = None) -> list[dict[str, Any]]:
        """The audit log, oldest first."""
        sql, params = "SELECT * FROM audit", [shop] if shop else []
        if shop:
            sql += " WHERE shop = ?"
        async with self.read() as r:
            rows = await r.rows(sql + " ORDER BY id", params)
        return [dict(row) for row in rows]

    async def claim_run(self, job: str, period: str, now: datetime) -> bool:
        """Claim a periodic job's period once (True = ours to run, False = already done)."""
        async with self.tx() as t:
            changed = await t.execute(
                "INSERT INTO runs (job, period, done_at) VALUES (?,?,?) ON CONFLICT DO NOTHING",
                (job, period, iso(now)),
            )
        return changed == 1

    async def get_ref(self, key: str) -> str | None:
        """Read a small named value (e.g. the Slack ts of an order's flag card)."""
        async with self.read() as r:
            rows = await r.rows("SELECT value FROM refs WHERE key = ?", (key,))
        return str(rows[0]["value"]) if rows else None

    async def refs_with_prefix(self, prefix: str) -> dict[str, str]:
        """Every named value whose key starts with ``prefix``."""
        async with self.read() as r:
            rows = await r.rows(
                "SELECT key, value FROM refs WHERE key >= ? AND key < ?",
                (prefix, prefix + "\uffff"),
            )
        return {str(row["key"]): str(row["value"]) for row in rows}

    async def delete_ref(self, key: str) -> None:
        """Forget a named value."""
        async with self.tx() as t:
            await t.execute("DELETE FROM refs WHERE key = ?", (key,))

    async def set_ref(self, key: str, value: str) -> None:
        """Write a small named value."""
        async with self.tx() as t:
            await t.execute(
                "INSERT INTO refs (key, value) VALUES (?, ?) "
                "ON CONFLICT(key) DO UPDATE SET value = excluded.value",
                (key, value),
            )


class SqliteStore(Store):
    """The bot's state. Every statement runs under one lock so transactions never interleave."""

    def __init__(self, db: aiosqlite.Connection, raw: sqlite3.Connection) -> None:
        super().__init__()
        self._db = db
        self._raw = raw  # the same connection, for ``immediate``
        self._conn = SqliteConn(db)
        self._lock = PriorityLock()

    @classmethod
    @asynccontextmanager
    async def open(cls, path: str | Path) -> AsyncIterator[SqliteStore]:
        """Open (creating the folder and schema if needed) and close the database."""
        if str(path) != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        # aiosqlite logs every statement with its parameters at DEBUG: customers' names and
        # phones would reach the log with LOG_LEVEL=DEBUG.
        statements = logging.getLogger("aiosqlite")
        if statements.getEffectiveLevel() < logging.INFO:
            statements.setLevel(logging.INFO)
        # One connection, made here so that the ack path can also use it directly (see
        # ``immediate``); aiosqlite's thread runs everything else on it, never at the same time.
        raw = sqlite3.connect(str(path), isolation_level=None, check_same_thread=False)
        db = await aiosqlite.Connection(lambda: raw, iter_chunk_size=64)
        try:
            db.row_factory = aiosqlite.Row
            await db.execute("PRAGMA journal_mode=WAL")
            await db.execute("PRAGMA synchronous=NORMAL")
            await db.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
            store = cls(db, raw)
            await store._migrate()
            yield store
        finally:
            await db.close()

    async def _migrate(self) -> None:
        async with self._db.execute("PRAGMA user_version") as cur:
            row = await cur.fetchone()
        version = int(row[0]) if row else 0
        for number, migration in enumerate(MIGRATIONS[version:], start=version + 1):
            script = script_for(migration, SQLITE)
            await self._db.executescript(
                f"BEGIN;\n{script}\nPRAGMA user_version={number};\nCOMMIT;"
            )

    @asynccontextmanager
    async def _tx(self) -> AsyncIterator[Tx]:
        """One write transaction (BEGIN IMMEDIATE … COMMIT, rolled back on error)."""
        async with self._lock.hold():
            try:
                # inside the try: a task cancelled while BEGIN runs on aiosqlite's thread must
                # still roll back, or every later transaction fails ("within a transaction")
                await self._db.execute("BEGIN IMMEDIATE")
                tx = Tx(self._conn, write=True)
                yield tx
                await tx.check_invariants()
            except BaseException:
                with suppress(sqlite3.OperationalError):  # BEGIN itself may have failed
                    await self._db.execute("ROLLBACK")
                raise
            await self._db.execute("COMMIT")

    @asynccontextmanager
    async def statement(self) -> AsyncIterator[Tx]:
        """One statement that is its own transaction (autocommit): the ack path's single
        round trip, served before the jobs' queued statements. It touches no order, so there
        is no invariant to check."""
        async with self._lock.hold(urgent=True):
            yield Tx(self._conn)

    def immediate(self) -> AbstractAsyncContextManager[Tx] | None:
        """The connection for one short autocommit statement run right here, in the calling
        task (no trip to aiosqlite's thread, no turn of the event loop to wait for), or None
        while a unit of work holds it. Entering it never suspends, so it cannot be cancelled
        half-way; a write lock held by another process raises ``BusyError`` (nothing written)."""
        if self._lock.locked():
            return None
        return self._immediate()

    @asynccontextmanager
    async def _immediate(self) -> AsyncIterator[Tx]:
        async with self._lock.hold(urgent=True):  # free: taken without suspending
            self._raw.execute("PRAGMA busy_timeout=0")
            try:
                yield Tx(DirectSqliteConn(self._raw))
            finally:
                self._raw.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")

    @asynccontextmanager
    async def _read(self) -> AsyncIterator[Tx]:
        """Reads that must not see another coroutine's half-done transaction."""
        async with self._lock.hold():
            yield Tx(self._conn)

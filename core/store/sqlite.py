"""SqliteStore: every SQL statement of the bot, on one aiosqlite connection (WAL)."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Iterable, Mapping, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import aiosqlite

from core.events import Event, EventKind
from core.model import OrderRecord, ShopConfig, Stage
from core.store.codec import dump_order, load_order
from core.store.migrations import MIGRATIONS

_ORDER_COLUMNS = (
    "number, shop, stage, progress, snapshot, ordered_at, stage_since, flag_reason, error_key, "
    "error_code, error_message, bundle_id, intended_fees, polling, next_poll_at, "
    "deadline_warned, stuck_reported"
)


@dataclass(frozen=True, slots=True)
class Intent:
    """The once-only confirmation record of one order."""

    order_number: str
    shop: str
    actor: str
    source: str  # "bot" | "rms"
    state: str  # "pending" | "confirmed" | "failed"
    attempts: int
    created_at: datetime
    updated_at: datetime
    result_code: str | None
    result_message: str | None


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value else None


def _dt(value: str | None) -> datetime | None:
    return datetime.fromisoformat(value) if value else None


def _record(row: aiosqlite.Row, intent: Intent | None = None) -> OrderRecord:
    fees = json.loads(row["intended_fees"]) if row["intended_fees"] else None
    stage_since = _dt(row["stage_since"])
    assert stage_since is not None
    confirmed = intent if intent is not None and intent.state == "confirmed" else None
    return OrderRecord(
        number=row["number"],
        shop=row["shop"],
        stage=Stage(row["stage"]),
        snapshot=load_order(row["snapshot"]),
        stage_since=stage_since,
        flag_reason=row["flag_reason"],
        error_key=row["error_key"],
        error_code=row["error_code"],
        error_message=row["error_message"],
        bundle_id=row["bundle_id"],
        confirmed_by=confirmed.actor if confirmed else None,  # "rms" for adopted orders
        confirmed_at=confirmed.updated_at if confirmed else None,
        intended_fees={int(k): int(v) for k, v in fees.items()} if fees else None,
        polling=bool(row["polling"]),
        next_poll_at=_dt(row["next_poll_at"]),
        deadline_warned=bool(row["deadline_warned"]),
        stuck_reported=bool(row["stuck_reported"]),
    )


def _intent(row: aiosqlite.Row) -> Intent:
    created, updated = _dt(row["created_at"]), _dt(row["updated_at"])
    assert created is not None and updated is not None
    return Intent(
        order_number=row["order_number"],
        shop=row["shop"],
        actor=row["actor"],
        source=row["source"],
        state=row["state"],
        attempts=row["attempts"],
        created_at=created,
        updated_at=updated,
        result_code=row["result_code"],
        result_message=row["result_message"],
    )


def _event(row: aiosqlite.Row) -> Event:
    at = _dt(row["at"])
    assert at is not None
    return Event(
        id=row["id"],
        shop=row["shop"],
        kind=EventKind(row["kind"]),
        order_number=row["order_number"],
        at=at,
        data=json.loads(row["data"]),
    )


class Tx:
    """Statements inside one transaction (obtained from ``SqliteStore.tx()``)."""

    def __init__(self, db: aiosqlite.Connection) -> None:
        self._db = db

    async def _one(self, sql: str, params: Sequence[Any] = ()) -> aiosqlite.Row | None:
        async with self._db.execute(sql, params) as cur:
            return await cur.fetchone()

    async def _all(self, sql: str, params: Sequence[Any] = ()) -> list[aiosqlite.Row]:
        async with self._db.execute(sql, params) as cur:
            return list(await cur.fetchall())

    async def get_intent(self, number: str) -> Intent | None:
        """Return the intent of an order, if any."""
        row = await self._one("SELECT * FROM intents WHERE order_number = ?", (number,))
        return _intent(row) if row else None

    async def intents(self, numbers: Iterable[str]) -> dict[str, Intent]:
        """Return the intents of these orders, by number."""
        found: dict[str, Intent] = {}
        wanted = list(numbers)
        for i in range(0, len(wanted), 500):
            chunk = wanted[i : i + 500]
            marks = ",".join("?" * len(chunk))
            for row in await self._all(
                f"SELECT * FROM intents WHERE order_number IN ({marks})",  # noqa: S608
                chunk,
            ):
                found[row["order_number"]] = _intent(row)
        return found

    async def get_order(self, number: str) -> OrderRecord | None:
        """Return our record of an order, if we know it."""
        row = await self._one(f"SELECT {_ORDER_COLUMNS} FROM orders WHERE number = ?", (number,))  # noqa: S608
        return _record(row, await self.get_intent(number)) if row else None

    async def get_orders(self, numbers: Iterable[str]) -> dict[str, OrderRecord]:
        """Return our records of these orders, by number (unknown ones absent)."""
        wanted = list(dict.fromkeys(numbers))
        intents = await self.intents(wanted)
        found: dict[str, OrderRecord] = {}
        for i in range(0, len(wanted), 500):
            chunk = wanted[i : i + 500]
            marks = ",".join("?" * len(chunk))
            sql = f"SELECT {_ORDER_COLUMNS} FROM orders WHERE number IN ({marks})"  # noqa: S608
            for row in await self._all(sql, chunk):
                found[row["number"]] = _record(row, intents.get(row["number"]))
        return found

    async def save_order(self, record: OrderRecord, now: datetime) -> None:
        """Insert or replace our record of an order."""
        fees = json.dumps({str(k): v for k, v in record.intended_fees.items()}) if (
            record.intended_fees
        ) else None
        await self._db.execute(
            f"""INSERT INTO orders ({_ORDER_COLUMNS}, created_at, updated_at)
                VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)
                ON CONFLICT(number) DO UPDATE SET
                  stage=excluded.stage, progress=excluded.progress, snapshot=excluded.snapshot,
                  stage_since=excluded.stage_since, flag_reason=excluded.flag_reason,
                  error_key=excluded.error_key, error_code=excluded.error_code,
                  error_message=excluded.error_message, bundle_id=excluded.bundle_id,
                  intended_fees=excluded.intended_fees, polling=excluded.polling,
                  next_poll_at=excluded.next_poll_at, deadline_warned=excluded.deadline_warned,
                  stuck_reported=excluded.stuck_reported, updated_at=excluded.updated_at""",  # noqa: S608
            (
                record.number,
                record.shop,
                record.stage.value,
                record.progress,
                dump_order(record.snapshot),
                _iso(record.snapshot.ordered_at),
                _iso(record.stage_since),
                record.flag_reason,
                record.error_key,
                record.error_code,
                record.error_message,
                record.bundle_id,
                fees,
                int(record.polling),
                _iso(record.next_poll_at),
                int(record.deadline_warned),
                int(record.stuck_reported),
                _iso(now),
                _iso(now),
            ),
        )

    async def claim_intent(
        self, number: str, shop: str, actor: str, now: datetime
    ) -> Intent | None:
        """Claim the right to send confirmOrder for ``number``.

        Returns None when claimed (a new row, or a 'failed' row RMS certainly did not act on);
        otherwise the existing intent, which means: do not call RMS.
        """
        cur = await self._db.execute(
            """INSERT INTO intents (order_number, shop, actor, source, state, attempts,
                                     created_at, updated_at)
               VALUES (?, ?, ?, 'bot', 'pending', 0, ?, ?)
               ON CONFLICT(order_number) DO UPDATE SET
                 actor=excluded.actor, state='pending', updated_at=excluded.updated_at,
                 result_code=NULL, result_message=NULL
               WHERE intents.state = 'failed'""",
            (number, shop, actor, _iso(now), _iso(now)),
        )
        if cur.rowcount == 1:
            return None
        existing = await self.get_intent(number)
        assert existing is not None
        return existing

    async def set_intent(
        self,
        number: str,
        state: str,
        now: datetime,
        *,
        code: str | None = None,
        message: str | None = None,
        attempted: bool = False,
    ) -> None:
        """Record the outcome of an intent."""
        await self._db.execute(
            """UPDATE intents SET state=?, updated_at=?, result_code=?, result_message=?,
                      attempts = attempts + ? WHERE order_number=?""",
            (state, _iso(now), code, message, int(attempted), number),
        )

    async def adopt_intent(self, number: str, shop: str, now: datetime) -> bool:
        """Record that RMS shows the order confirmed outside the bot (``now``: when RMS says it
        was confirmed); False if an intent exists."""
        cur = await self._db.execute(
            """INSERT INTO intents (order_number, shop, actor, source, state, attempts,
                                     created_at, updated_at)
               VALUES (?, ?, 'rms', 'rms', 'confirmed', 0, ?, ?)
               ON CONFLICT(order_number) DO UPDATE SET state='confirmed',
                 updated_at=excluded.updated_at, source='rms', actor='rms'
               WHERE intents.state = 'failed'""",
            (number, shop, _iso(now), _iso(now)),
        )
        return cur.rowcount == 1

    async def add_event(
        self,
        shop: str,
        kind: EventKind,
        order_number: str | None,
        at: datetime,
        data: Mapping[str, Any] | None = None,
    ) -> None:
        """Write an outbox event in this transaction."""
        await self._db.execute(
            "INSERT INTO outbox (shop, kind, order_number, at, data) VALUES (?,?,?,?,?)",
            (shop, kind.value, order_number, _iso(at), json.dumps(data or {}, ensure_ascii=False)),
        )

    async def audit(
        self,
        shop: str,
        actor: str,
        action: str,
        outcome: str,
        at: datetime,
        *,
        order_number: str | None = None,
        detail: Mapping[str, Any] | None = None,
    ) -> None:
        """Append to the audit log: who did what, when, with which outcome."""
        await self._db.execute(
            """INSERT INTO audit (at, shop, actor, action, order_number, outcome, detail)
               VALUES (?,?,?,?,?,?,?)""",
            (_iso(at), shop, actor, action, order_number, outcome,
             json.dumps(detail or {}, ensure_ascii=False)),
        )

    async def execute(self, sql: str, params: Sequence[Any] = ()) -> int:
        """Run one statement; return the number of rows it changed."""
        cur = await self._db.execute(sql, params)
        return cur.rowcount

    async def rows(self, sql: str, params: Sequence[Any] = ()) -> list[aiosqlite.Row]:
        """Run a query and return every row."""
        return await self._all(sql, params)


class SqliteStore:
    """The bot's state. Every statement runs under one lock so transactions never interleave."""

    def __init__(self, db: aiosqlite.Connection) -> None:
        self._db = db
        self._lock = asyncio.Lock()

    @classmethod
    @asynccontextmanager
    async def open(cls, path: str | Path) -> AsyncIterator[SqliteStore]:
        """Open (creating the folder and schema if needed) and close the database."""
        if str(path) != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        db = await aiosqlite.connect(str(path), isolation_level=None)
        try:
            db.row_factory = aiosqlite.Row
            await db.execute("PRAGMA journal_mode=WAL")
            await db.execute("PRAGMA synchronous=NORMAL")
            await db.execute("PRAGMA busy_timeout=5000")
            store = cls(db)
            await store._migrate()
            yield store
        finally:
            await db.close()

    async def _migrate(self) -> None:
        async with self._db.execute("PRAGMA user_version") as cur:
            row = await cur.fetchone()
        version = int(row[0]) if row else 0
        for number, script in enumerate(MIGRATIONS[version:], start=version + 1):
            await self._db.executescript(
                f"BEGIN;\n{script}\nPRAGMA user_version={number};\nCOMMIT;"
            )

    @asynccontextmanager
    async def tx(self) -> AsyncIterator[Tx]:
        """One write transaction (BEGIN IMMEDIATE … COMMIT, rolled back on error)."""
        async with self._lock:
            await self._db.execute("BEGIN IMMEDIATE")
            try:
                yield Tx(self._db)
            except BaseException:
                await self._db.execute("ROLLBACK")
                raise
            await self._db.execute("COMMIT")

    @asynccontextmanager
    async def read(self) -> AsyncIterator[Tx]:
        """Reads that must not see another coroutine's half-done transaction."""
        async with self._lock:
            yield Tx(self._db)

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
        allowed = {"last_success", "license_expires", "license_key_enc",
                   "license_key_pending_enc", "license_warned_days"}
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
                   ORDER BY next_poll_at LIMIT ?""",
                (shop, _iso(now), limit),
            )
        return [row["number"] for row in rows]

    async def next_poll_time(self, shop: str) -> datetime | None:
        """When the next order of this shop is due for a result poll."""
        async with self.read() as r:
            rows = await r.rows(
                "SELECT MIN(next_poll_at) AS t FROM orders WHERE shop = ? AND polling = 1", (shop,)
            )
        return _dt(rows[0]["t"]) if rows else None

    async def stage_counts(self, shop: str) -> dict[Stage, int]:
        """Count a shop's orders per stage."""
        async with self.read() as r:
            rows = await r.rows(
                "SELECT stage, COUNT(*) AS n FROM orders WHERE shop = ? GROUP BY stage", (shop,)
            )
        return {Stage(row["stage"]): row["n"] for row in rows}

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
        return [_intent(row) for row in rows]

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
        return [_event(row) for row in rows]

    async def mark_posted(self, ids: Iterable[int], at: datetime, ref: str = "") -> None:
        """Mark events as posted (only after Slack accepted the message)."""
        wanted = list(ids)
        async with self.tx() as t:
            for i in range(0, len(wanted), 500):
                chunk = wanted[i : i + 500]
                marks = ",".join("?" * len(chunk))
                await t.execute(
                    f"UPDATE outbox SET posted_at = ?, post_ref = ? WHERE id IN ({marks})",  # noqa: S608
                    (_iso(at), ref, *chunk),
                )

    async def events_between(
        self, shop: str, start: datetime, end: datetime, kinds: Iterable[EventKind] | None = None
    ) -> list[Event]:
        """Events of a shop with start <= at < end."""
        sql = "SELECT * FROM outbox WHERE shop = ? AND at >= ? AND at < ?"
        params: list[Any] = [shop, _iso(start), _iso(end)]
        if kinds is not None:
            wanted = [k.value for k in kinds]
            sql += f" AND kind IN ({','.join('?' * len(wanted))})"
            params += wanted
        async with self.read() as r:
            rows = await r.rows(sql + " ORDER BY id", params)
        return [_event(row) for row in rows]

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
                "INSERT OR IGNORE INTO runs (job, period, done_at) VALUES (?,?,?)",
                (job, period, _iso(now)),
            )
        return changed == 1

    async def release_run(self, job: str, period: str) -> None:
        """Undo a claim whose work failed, so it is tried again."""
        async with self.tx() as t:
            await t.execute("DELETE FROM runs WHERE job = ? AND period = ?", (job, period))

    async def get_ref(self, key: str) -> str | None:
        """Read a small named value (e.g. the Slack ts of an order's flag card)."""
        async with self.read() as r:
            rows = await r.rows("SELECT value FROM refs WHERE key = ?", (key,))
        return str(rows[0]["value"]) if rows else None

    async def set_ref(self, key: str, value: str) -> None:
        """Write a small named value."""
        async with self.tx() as t:
            await t.execute(
                "INSERT INTO refs (key, value) VALUES (?, ?) "
                "ON CONFLICT(key) DO UPDATE SET value = excluded.value",
                (key, value),
            )

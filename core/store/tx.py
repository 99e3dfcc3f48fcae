"""One transaction's statements (Tx) and the row ↔ value conversions of the store."""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from core.errors import InvariantError
from core.events import EventKind
from core.model import OrderRecord, Stage
from core.store.codec import dump_order, load_order
from core.store.db import POSTGRES, Conn, Dialect, Row
from core.store.outbox import OutboxTx

_ORDER_COLUMNS = (
    "number, shop, stage, progress, snapshot, ordered_at, stage_since, flag_reason, error_key, "
    "error_code, error_message, bundle_id, intended_fees, polling, next_poll_at, "
    "deadline_warned, stuck_reported"
)
_SELECT_ORDER = f"SELECT {_ORDER_COLUMNS}, version FROM orders"  # noqa: S608


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
    request_id: int | None = None  # the request that claimed it (None: adopted, or older rows)


def iso(value: datetime | None) -> str | None:
    return value.isoformat() if value else None


def parse_dt(value: str | None) -> datetime | None:
    return datetime.fromisoformat(value) if value else None


def record_from_row(row: Row, intent: Intent | None = None) -> OrderRecord:
    fees = json.loads(row["intended_fees"]) if row["intended_fees"] else None
    stage_since = parse_dt(row["stage_since"])
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
        next_poll_at=parse_dt(row["next_poll_at"]),
        deadline_warned=bool(row["deadline_warned"]),
        stuck_reported=bool(row["stuck_reported"]),
        version=row["version"],
    )


def intent_from_row(row: Row) -> Intent:
    created, updated = parse_dt(row["created_at"]), parse_dt(row["updated_at"])
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
        request_id=row["request_id"],
    )


class Tx(OutboxTx):
    """Statements inside one transaction (obtained from a store's ``tx()``, ``read()`` or
    ``statement()``)."""

    def __init__(self, conn: Conn, *, write: bool = False) -> None:
        self._conn = conn
        self._touched: set[str] = set()  # orders whose invariants are checked at commit
        # PostgreSQL runs write transactions concurrently (READ COMMITTED): an order read in
        # one is locked until commit, so its version compare-and-set and every decision taken
        # on it hold against a concurrent writer. SQLite's BEGIN IMMEDIATE already serialises
        # writers, and it has no such clause.
        self._lock_rows = " FOR UPDATE" if write and conn.dialect == POSTGRES else ""

    @property
    def dialect(self) -> Dialect:
        """The SQL dialect of this transaction's database ("sqlite" or "postgres")."""
        return self._conn.dialect

    async def check_invariants(self) -> None:
        """The Order aggregate's rule, checked before every commit that touched an order:
        確認送信中 ⇔ a pending intent. A step that would break it is rolled back whole."""
        wanted = sorted(self._touched)
        for i in range(0, len(wanted), 500):
            chunk = wanted[i : i + 500]
            marks = ",".join("?" * len(chunk))
            rows = await self._all(
                f"""SELECT o.number, o.stage, i.state FROM orders o
                    LEFT JOIN intents i ON i.order_number = o.number
                    WHERE o.number IN ({marks})
                      AND (o.stage = 'sending') != (COALESCE(i.state, '') = 'pending')""",  # noqa: S608
                chunk,
            )
            if rows:
                broken = ", ".join(f"{r[0]} ({r[1]}, intent {r[2]})" for r in rows[:5])
                raise InvariantError(f"確認送信中 without a pending intent or vice versa: {broken}")

    async def versions(self, numbers: Iterable[str]) -> dict[str, int]:
        """Row versions of these orders."""
        found: dict[str, int] = {}
        wanted = sorted(set(numbers))  # one lock order for every writer: no deadlock
        for i in range(0, len(wanted), 500):
            chunk = wanted[i : i + 500]
            marks = ",".join("?" * len(chunk))
            for row in await self._all(
                f"SELECT number, version FROM orders WHERE number IN ({marks}) "  # noqa: S608
                f"ORDER BY number{self._lock_rows}",
                chunk,
            ):
                found[row["number"]] = row["version"]
        return found

    async def _one(self, sql: str, params: Sequence[Any] = ()) -> Row | None:
        rows = await self._conn.fetch(sql, params)
        return rows[0] if rows else None

    async def _all(self, sql: str, params: Sequence[Any] = ()) -> list[Row]:
        return await self._conn.fetch(sql, params)

    async def get_intent(self, number: str) -> Intent | None:
        """Return the intent of an order, if any."""
        row = await self._one("SELECT * FROM intents WHERE order_number = ?", (number,))
        return intent_from_row(row) if row else None

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
                found[row["order_number"]] = intent_from_row(row)
        return found

    async def get_order(self, number: str) -> OrderRecord | None:
        """Return our record of an order, if we know it."""
        row = await self._one(f"{_SELECT_ORDER} WHERE number = ?{self._lock_rows}", (number,))
        return record_from_row(row, await self.get_intent(number)) if row else None

    async def get_orders(self, numbers: Iterable[str]) -> dict[str, OrderRecord]:
        """Return our records of these orders, by number (unknown ones absent)."""
        wanted = list(dict.fromkeys(numbers))
        locking = sorted(wanted)  # one lock order for every writer: no deadlock
        rows: dict[str, Row] = {}
        for i in range(0, len(locking), 500):
            chunk = locking[i : i + 500]
            marks = ",".join("?" * len(chunk))
            sql = f"{_SELECT_ORDER} WHERE number IN ({marks}) ORDER BY number{self._lock_rows}"
            rows |= {row["number"]: row for row in await self._all(sql, chunk)}
        intents = await self.intents(wanted)  # read once the orders' locks are held
        return {n: record_from_row(rows[n], intents.get(n)) for n in wanted if n in rows}

    async def save_order(self, record: OrderRecord, now: datetime) -> None:
        """Insert or replace our record of an order."""
        self._touched.add(record.number)
        fees = (
            json.dumps({str(k): v for k, v in record.intended_fees.items()})
            if (record.intended_fees)
            else None
        )
        await self._conn.change(
            f"""INSERT INTO orders ({_ORDER_COLUMNS}, created_at, updated_at, version)
                VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,1)
                ON CONFLICT(number) DO UPDATE SET
                  stage=excluded.stage, progress=excluded.progress, snapshot=excluded.snapshot,
                  stage_since=excluded.stage_since, flag_reason=excluded.flag_reason,
                  error_key=excluded.error_key, error_code=excluded.error_code,
                  error_message=excluded.error_message, bundle_id=excluded.bundle_id,
                  intended_fees=excluded.intended_fees, polling=excluded.polling,
                  next_poll_at=excluded.next_poll_at, deadline_warned=excluded.deadline_warned,
                  stuck_reported=excluded.stuck_reported, updated_at=excluded.updated_at,
                  version=orders.version + 1""",  # noqa: S608
            (
                record.number,
                record.shop,
                record.stage.value,
                record.progress,
                dump_order(record.snapshot),
                iso(record.snapshot.ordered_at),
                iso(record.stage_since),
                record.flag_reason,
                record.error_key,
                record.error_code,
                record.error_message,
                record.bundle_id,
                fees,
                int(record.polling),
                iso(record.next_poll_at),
                int(record.deadline_warned),
                int(record.stuck_reported),
                iso(now),
                iso(now),
            ),
        )

    async def claim_intent(
        self, number: str, shop: str, actor: str, now: datetime, request_id: int | None = None
    ) -> Intent | None:
        """Claim the right to send confirmOrder for ``number``.

        Returns None when claimed (a new row, or a 'failed' row RMS certainly did not act on);
        otherwise the existing intent, which means: do not call RMS.
        """
        self._touched.add(number)
        changed = await self._conn.change(
            """INSERT INTO intents (order_number, shop, actor, source, state, attempts,
                                     created_at, updated_at, request_id)
               VALUES (?, ?, ?, 'bot', 'pending', 0, ?, ?, ?)
               ON CONFLICT(order_number) DO UPDATE SET
                 actor=excluded.actor, state='pending', updated_at=excluded.updated_at,
                 result_code=NULL, result_message=NULL, request_id=excluded.request_id
               WHERE intents.state = 'failed'""",
            (number, shop, actor, iso(now), iso(now), request_id),
        )
        if changed == 1:
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
        self._touched.add(number)
        await self._conn.change(
            """UPDATE intents SET state=?, updated_at=?, result_code=?, result_message=?,
                      attempts = attempts + ? WHERE order_number=?""",
            (state, iso(now), code, message, int(attempted), number),
        )

    async def adopt_intent(self, number: str, shop: str, now: datetime) -> bool:
        """Record that RMS shows the order confirmed outside the bot (``now``: when RMS says it
        was confirmed); False if an intent exists."""
        changed = await self._conn.change(
            """INSERT INTO intents (order_number, shop, actor, source, state, attempts,
                                     created_at, updated_at)
               VALUES (?, ?, 'rms', 'rms', 'confirmed', 0, ?, ?)
               ON CONFLICT(order_number) DO UPDATE SET state='confirmed',
                 updated_at=excluded.updated_at, source='rms', actor='rms'
               WHERE intents.state = 'failed'""",
            (number, shop, iso(now), iso(now)),
        )
        return changed == 1

    async def add_event(
        self,
        shop: str,
        kind: EventKind,
        order_number: str | None,
        at: datetime,
        data: Mapping[str, Any] | None = None,
    ) -> None:
        """Write an outbox event in this transaction."""
        await self._conn.change(
            "INSERT INTO outbox (shop, kind, order_number, at, data) VALUES (?,?,?,?,?)",
            (shop, kind.value, order_number, iso(at), json.dumps(data or {}, ensure_ascii=False)),
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
        await self._conn.change(
            """INSERT INTO audit (at, shop, actor, action, order_number, outcome, detail)
               VALUES (?,?,?,?,?,?,?)""",
            (
                iso(at),
                shop,
                actor,
                action,
                order_number,
                outcome,
                json.dumps(detail or {}, ensure_ascii=False),
            ),
        )

    async def claim_fee(
        self, number: str, actor: str, fees: str, now: str, request_id: int | None
    ) -> bool:
        """Claim an order's fee write (``fees`` as JSON): True unless one is running or done
        (only a failed claim may be taken again)."""
        changed = await self.execute(
            """INSERT INTO fee_requests (order_number, state, actor, fees, updated_at, request_id)
               VALUES (?, 'running', ?, ?, ?, ?)
               ON CONFLICT(order_number) DO UPDATE SET state='running', actor=excluded.actor,
                 fees=excluded.fees, updated_at=excluded.updated_at,
                 request_id=excluded.request_id
               WHERE fee_requests.state = 'failed'""",
            (number, actor, fees, now, request_id),
        )
        return changed == 1

    async def last_audit(
        self, number: str, action: str, outcome: str
    ) -> tuple[str, datetime | None] | None:
        """Who last did ``action`` with ``outcome`` on an order, and when (from the audit log)."""
        rows = await self.rows(
            "SELECT actor, at FROM audit WHERE order_number = ? AND action = ? AND outcome = ? "
            "ORDER BY id DESC LIMIT 1",
            (number, action, outcome),
        )
        return (str(rows[0]["actor"]), parse_dt(rows[0]["at"])) if rows else None

    async def finish_fee(self, number: str, state: str, now: datetime) -> None:
        """Close an order's fee-write claim (done, or failed so that it may be tried again)."""
        await self._conn.change(
            "UPDATE fee_requests SET state = ?, updated_at = ? WHERE order_number = ?",
            (state, iso(now), number),
        )

    async def save_bundle(self, bundle_id: str, shop: str, actor: str, at: datetime) -> None:
        """Record a 同梱 (members carry its id on their order rows)."""
        await self._conn.change(
            """INSERT INTO bundles (id, shop, created_by, created_at) VALUES (?,?,?,?)
               ON CONFLICT(id) DO UPDATE SET shop = excluded.shop,
                 created_by = excluded.created_by, created_at = excluded.created_at""",
            (bundle_id, shop, actor, iso(at)),
        )

    async def bundle_members(self, bundle_id: str) -> list[str]:
        """Order numbers that belong to a bundle."""
        rows = await self._all("SELECT number FROM orders WHERE bundle_id = ?", (bundle_id,))
        return [row["number"] for row in rows]

    async def delete_bundle(self, bundle_id: str) -> None:
        """Forget a dissolved bundle."""
        await self._conn.change("DELETE FROM bundles WHERE id = ?", (bundle_id,))

    async def oldest_in_stages(self, shop: str, stages: Sequence[str]) -> Row | None:
        """The shop's earliest-ordered order in ``stages`` (number, ordered_at, stage), or None."""
        marks = ",".join("?" * len(stages))
        rows = await self.rows(
            f"SELECT number, ordered_at, stage FROM orders WHERE shop = ? "  # noqa: S608
            f"AND stage IN ({marks}) ORDER BY ordered_at, number LIMIT 1",
            (shop, *stages),
        )
        return rows[0] if rows else None

    async def insert(self, sql: str, params: Sequence[Any] = ()) -> tuple[int, int]:
        """Run one INSERT ending in ``RETURNING id``; return (rows inserted, the new row's id),
        (0, 0) when a conflict clause skipped it."""
        if "RETURNING" not in sql.upper():  # PostgreSQL has no lastrowid: ask for the id
            raise ValueError("Tx.insert needs an INSERT … RETURNING id")
        rows = await self._all(sql, params)
        return (1, int(rows[0][0])) if rows else (0, 0)

    async def execute(self, sql: str, params: Sequence[Any] = ()) -> int:
        """Run one statement; return the number of rows it changed."""
        return await self._conn.change(sql, params)

    async def rows(self, sql: str, params: Sequence[Any] = ()) -> list[Row]:
        """Run a query and return every row."""
        return await self._all(sql, params)

"""The daily summary's aggregate queries, run inside one read snapshot per shop.

Each query is answered from an index alone (see migrations) so a summary over a million
orders stays fast: change their text only together with the indexes and the bench.
"""

from __future__ import annotations

from collections.abc import Sequence

from core.store.db import POSTGRES, SQLITE, Dialect, Row
from core.store.tx import Tx

# A JSON field of a text column: the portable subset has no JSON functions, so each dialect
# has its own (SQLite's json_extract, PostgreSQL's jsonb ->>); both give SQL text or NULL.
_FIELD: dict[Dialect, str] = {
    SQLITE: "json_extract({column}, '$.{field}')",
    POSTGRES: "({column}::jsonb ->> '{field}')",
}


def _field(tx: Tx, column: str, field: str) -> str:
    return _FIELD[tx.dialect].format(column=column, field=field)


async def event_counts(
    tx: Tx, shop: str, kinds: Sequence[str], prev_start: str, start: str, end: str
) -> list[Row]:
    """Orders per (today?, event kind, actor or error key) in [prev_start, end)."""
    return await tx.rows(
        f"""SELECT at >= ? AS today, kind,
                      CASE kind WHEN 'order_confirmed' THEN {_field(tx, "data", "actor")}
                                WHEN 'order_error' THEN {_field(tx, "data", "error_key")}
                      END AS sub,
                      COUNT(DISTINCT order_number) AS n
               FROM outbox WHERE shop = ? AND at >= ? AND at < ?
                 AND kind IN ({",".join("?" * len(kinds))})
               GROUP BY today, kind, sub""",  # noqa: S608
        (start, shop, prev_start, end, *kinds),
    )


async def created_counts(tx: Tx, shop: str, prev_start: str, start: str, end: str) -> list[Row]:
    """Orders first seen per (today?) in [prev_start, end)."""
    return await tx.rows(
        """SELECT created_at >= ? AS today, COUNT(*) AS n FROM orders
               WHERE shop = ? AND created_at >= ? AND created_at < ? GROUP BY today""",
        (start, shop, prev_start, end),
    )


async def stage_figures(tx: Tx, shop: str, stages: Sequence[str]) -> list[Row]:
    """Per stage among ``stages``: how many orders, and since when the oldest is there."""
    return await tx.rows(
        f"""SELECT stage, COUNT(*) AS n, MIN(stage_since) AS since FROM orders
                WHERE shop = ? AND stage IN ({",".join("?" * len(stages))}) GROUP BY stage""",  # noqa: S608
        (shop, *stages),
    )


async def near_cancel_count(tx: Tx, shop: str, stages: Sequence[str], near: str) -> int:
    """Orders in ``stages`` whose auto-cancel date is on or before ``near``."""
    rows = await tx.rows(
        f"""SELECT COUNT(*) AS n FROM orders
                WHERE shop = ? AND stage IN ({",".join("?" * len(stages))})
                  AND {_field(tx, "snapshot", "cancel_due")} <= ?""",  # noqa: S608
        (shop, *stages, near),
    )
    return int(rows[0]["n"]) if rows else 0


async def license_expires(tx: Tx, shop: str) -> str | None:
    """The shop's stored licence expiry (ISO text), or None."""
    rows = await tx.rows("SELECT license_expires FROM shops WHERE key = ?", (shop,))
    return rows[0]["license_expires"] if rows else None


async def remember_state(tx: Tx, key: str, state: str, *, overwrite: bool) -> None:
    """Keep a day's state figures under ``key``; an existing value stays unless ``overwrite``."""
    conflict = "DO UPDATE SET value = excluded.value" if overwrite else "DO NOTHING"
    await tx.execute(
        f"INSERT INTO refs (key, value) VALUES (?, ?) ON CONFLICT(key) {conflict}",  # noqa: S608
        (key, state),
    )


async def last_period(tx: Tx, job: str) -> str | None:
    """The latest period claimed for a periodic job, or None."""
    rows = await tx.rows("SELECT MAX(period) AS day FROM runs WHERE job = ?", (job,))
    return rows[0]["day"] if rows else None

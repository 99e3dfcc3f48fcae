"""The leader lease: one upsert on the database's clock acquires or renews it; its epoch fences.

Only the database's clock decides who leads (replica clocks never enter). The two dialects
differ in that clock expression and in the row lock a fence takes, so both are kept here,
side by side; every statement is otherwise the same text on SQLite and PostgreSQL.
"""

from __future__ import annotations

from dataclasses import dataclass

from core.store.tx import Tx

# Milliseconds since 1970 by the database's clock (BIGINT on both engines).
_NOW_MS = {
    "sqlite": "CAST((julianday('now') - 2440587.5) * 86400000 AS INTEGER)",
    "postgres": "CAST(EXTRACT(EPOCH FROM clock_timestamp()) * 1000 AS BIGINT)",
}
# A fence read that makes a concurrent takeover wait until the fenced transaction commits.
# SQLite needs none: the fenced transaction already holds the one write lock (BEGIN IMMEDIATE).
_FENCE_LOCK = {"sqlite": "", "postgres": " FOR SHARE"}


def _acquire_sql(now: str) -> str:
    # A new holder (or the same one after its lease lapsed) gets the next epoch; the holder
    # of a live lease keeps its epoch. Another holder's live lease: no row comes back.
    return f"""
        INSERT INTO leader_lease (name, holder, epoch, expires_at) VALUES (?, ?, 1, {now} + ?)
        ON CONFLICT (name) DO UPDATE SET
          epoch = CASE WHEN leader_lease.holder = excluded.holder
                            AND leader_lease.expires_at > {now}
                       THEN leader_lease.epoch ELSE leader_lease.epoch + 1 END,
          holder = excluded.holder,
          expires_at = excluded.expires_at
        WHERE leader_lease.holder = excluded.holder OR leader_lease.expires_at <= {now}
        RETURNING epoch"""  # noqa: S608 (the clock expression is a constant of this module)


async def acquire_lease(tx: Tx, name: str, holder: str, ttl_ms: int) -> int | None:
    """Acquire or renew the lease ``name`` for ``ttl_ms``: its epoch, or None (another holds it)."""
    rows = await tx.rows(_acquire_sql(_NOW_MS[tx.dialect]), (name, holder, ttl_ms))
    return int(rows[0]["epoch"]) if rows else None


async def release_lease(tx: Tx, name: str, holder: str) -> bool:
    """Give the lease up at once (graceful shutdown): True when this holder had it.

    The row is expired, not deleted, so the next holder's epoch is still higher than every
    epoch before it (a deleted row would start again at 1 and weaken the fence).
    """
    changed = await tx.execute(
        "UPDATE leader_lease SET expires_at = 0 WHERE name = ? AND holder = ?", (name, holder)
    )
    return changed == 1


async def lease_held(tx: Tx, name: str, holder: str, epoch: int) -> bool:
    """The fence: does ``holder`` still lead under ``epoch`` by the database's clock?"""
    kind = tx.dialect
    rows = await tx.rows(
        f"SELECT epoch FROM leader_lease WHERE name = ? AND holder = ? AND epoch = ? "  # noqa: S608
        f"AND expires_at > {_NOW_MS[kind]}{_FENCE_LOCK[kind]}",
        (name, holder, epoch),
    )
    return bool(rows)


@dataclass(frozen=True, slots=True)
class LeaseRow:
    """The lease as the database sees it now."""

    holder: str
    epoch: int
    left_ms: int  # until it expires (≤ 0: expired or released)


async def lease_row(tx: Tx, name: str) -> LeaseRow | None:
    """The stored lease ``name`` and how long it has left, or None before anyone led."""
    rows = await tx.rows(
        f"SELECT holder, epoch, expires_at - {_NOW_MS[tx.dialect]} AS left_ms "  # noqa: S608
        "FROM leader_lease WHERE name = ?",
        (name,),
    )
    if not rows:
        return None
    row = rows[0]
    return LeaseRow(str(row["holder"]), int(row["epoch"]), int(row["left_ms"]))

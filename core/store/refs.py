"""Statements on ``refs`` (small named values) that run inside a caller's transaction."""

from __future__ import annotations

from core.store.tx import Tx


async def ref_value(tx: Tx, key: str) -> str | None:
    """A named value read in this transaction (or snapshot), or None."""
    rows = await tx.rows("SELECT value FROM refs WHERE key = ?", (key,))
    return rows[0]["value"] if rows else None


async def put_ref(tx: Tx, key: str, value: str) -> None:
    """Write a named value in this transaction, replacing any older one."""
    await tx.execute(
        "INSERT INTO refs (key, value) VALUES (?, ?) "
        "ON CONFLICT(key) DO UPDATE SET value = excluded.value",
        (key, value),
    )


async def put_ref_if_changed(tx: Tx, key: str, value: str) -> bool:
    """Write a named value in this transaction; True when the value changed."""
    changed = await tx.execute(
        """INSERT INTO refs (key, value) VALUES (?, ?)
           ON CONFLICT(key) DO UPDATE SET value = excluded.value
           WHERE refs.value <> excluded.value""",
        (key, value),
    )
    return changed == 1

"""Statements on the licence-key columns of ``shops``, each run in the caller's transaction.

Every write is a compare-and-set: the returned row count says whether this caller won.
"""

from __future__ import annotations

from core.store.tx import Tx

KEY_COLUMNS = ("license_key_enc", "license_key_pending_enc")
"""Columns holding an encrypted licence key."""


async def replace_key_ciphertext(tx: Tx, shop: str, column: str, old: str, new: str) -> int:
    """Swap ``old`` for ``new`` in an encrypted-key column unless a racing write changed it."""
    if column not in KEY_COLUMNS:  # the column name is spliced into the SQL
        raise ValueError(f"not an encrypted licence-key column: {column!r}")
    return await tx.execute(
        f"UPDATE shops SET {column} = ? WHERE key = ? AND {column} = ?",  # noqa: S608
        (new, shop, old),
    )


async def reset_warnings(tx: Tx, shop: str) -> None:
    """Forget which expiry thresholds were warned at (a renewed key starts afresh)."""
    await tx.execute("UPDATE shops SET license_warned_days = NULL WHERE key = ?", (shop,))


async def claim_warning(tx: Tx, shop: str, threshold: int) -> int:
    """Claim the warning at ``threshold`` days left; 1 when no equal or lower one was sent."""
    return await tx.execute(
        """UPDATE shops SET license_warned_days = ? WHERE key = ?
               AND (license_warned_days IS NULL OR license_warned_days > ?)""",
        (threshold, shop, threshold),
    )


async def claim_expired(tx: Tx, shop: str, mark: int) -> int:
    """Claim the 'expired' announcement (``mark``); 1 when it was not announced yet."""
    return await tx.execute(
        """UPDATE shops SET license_warned_days = ? WHERE key = ?
               AND (license_warned_days IS NULL OR license_warned_days <> ?)""",
        (mark, shop, mark),
    )


async def set_pending_key(tx: Tx, shop: str, ciphertext: str) -> None:
    """Store a submitted key (encrypted) as pending; the active key is untouched."""
    await tx.execute(
        "UPDATE shops SET license_key_pending_enc = ? WHERE key = ?",
        (ciphertext, shop),
    )


async def promote_pending_key(tx: Tx, shop: str, pending: str, expires: str) -> int:
    """Make the pending key ``pending`` the active one; 0 when it is no longer pending."""
    return await tx.execute(
        """UPDATE shops SET license_key_enc = license_key_pending_enc,
                 license_key_pending_enc = NULL, license_expires = ?, license_warned_days = NULL
               WHERE key = ? AND license_key_pending_enc = ?""",
        (expires, shop, pending),
    )


async def drop_pending_key(tx: Tx, shop: str, pending: str) -> int:
    """Give up the pending key ``pending``; 0 when it is no longer pending."""
    return await tx.execute(
        """UPDATE shops SET license_key_pending_enc = NULL
               WHERE key = ? AND license_key_pending_enc = ?""",
        (shop, pending),
    )

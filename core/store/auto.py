"""The auto_decisions and auto_modes tables (migration 7): what auto-confirm decided, and who
switched a shop's mode or paused every shop."""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from core.store.tx import Tx, iso, parse_dt

PAUSE_KEY = "*"


@dataclass(frozen=True, slots=True)
class Decision:
    """One order's auto-confirm decision."""

    number: str
    shop: str
    mode: str  # on | dry_run
    verdict: str  # clean | held | fee
    reasons: tuple[str, ...]
    decided_at: datetime
    proposal: Mapping[str, Any] | None = None  # {"fees": {basket: yen}, "how": [...]}
    note: str = ""
    noted_by: str | None = None


def _decision(row: Any) -> Decision:
    decided = parse_dt(row["decided_at"])
    assert decided is not None
    return Decision(
        number=row["order_number"],
        shop=row["shop"],
        mode=row["mode"],
        verdict=row["verdict"],
        reasons=tuple(json.loads(row["reasons"])),
        decided_at=decided,
        proposal=json.loads(row["proposal"]) if row["proposal"] else None,
        note=row["note"],
        noted_by=row["noted_by"],
    )


async def save_decision(tx: Tx, d: Decision, now: datetime) -> None:
    """Insert or replace an order's decision (a dry run's is replaced by the real one)."""
    proposal = json.dumps(dict(d.proposal), ensure_ascii=False) if d.proposal else None
    await tx.execute(
        """INSERT INTO auto_decisions (order_number, shop, mode, verdict, reasons, proposal,
                                       note, noted_by, decided_at, updated_at)
           VALUES (?,?,?,?,?,?,?,?,?,?)
           ON CONFLICT (order_number) DO UPDATE SET mode = excluded.mode,
               verdict = excluded.verdict, reasons = excluded.reasons,
               proposal = excluded.proposal, decided_at = excluded.decided_at,
               updated_at = excluded.updated_at""",
        (
            d.number,
            d.shop,
            d.mode,
            d.verdict,
            json.dumps(list(d.reasons)),
            proposal,
            d.note,
            d.noted_by,
            iso(d.decided_at),
            iso(now),
        ),
    )


async def decisions(tx: Tx, numbers: Iterable[str]) -> dict[str, Decision]:
    """The decisions of these orders (undecided ones absent)."""
    wanted = list(numbers)
    found: dict[str, Decision] = {}
    for start in range(0, len(wanted), 500):
        chunk = wanted[start : start + 500]
        marks = ",".join("?" * len(chunk))
        rows = await tx.rows(
            f"SELECT * FROM auto_decisions WHERE order_number IN ({marks})",  # noqa: S608
            chunk,
        )
        found.update((row["order_number"], _decision(row)) for row in rows)
    return found


async def shop_decisions(
    tx: Tx, shop: str, verdicts: Sequence[str], mode: str = "on"
) -> list[Decision]:
    """A shop's decisions with one of ``verdicts``, oldest first."""
    marks = ",".join("?" * len(verdicts))
    rows = await tx.rows(
        "SELECT * FROM auto_decisions WHERE shop = ? AND mode = ? "  # noqa: S608
        f"AND verdict IN ({marks}) ORDER BY decided_at, order_number",
        (shop, mode, *verdicts),
    )
    return [_decision(row) for row in rows]


async def decided_since(
    tx: Tx, shop: str, since: datetime, until: datetime | None = None
) -> list[Decision]:
    """A shop's real (not dry-run) decisions made since ``since`` (and before ``until``)."""
    end = iso(until) if until is not None else "9999"
    rows = await tx.rows(
        "SELECT * FROM auto_decisions WHERE shop = ? AND mode = 'on' AND decided_at >= ? "
        "AND decided_at < ?",
        (shop, iso(since), end),
    )
    return [_decision(row) for row in rows]


async def keep_holding(tx: Tx, number: str, note: str, actor: str, now: datetime) -> bool:
    """保留のまま: the order stays held with a person's note; False when it has no decision."""
    changed = await tx.execute(
        "UPDATE auto_decisions SET verdict = 'held', mode = 'on', note = ?, noted_by = ?, "
        "updated_at = ? WHERE order_number = ?",
        (note, actor, iso(now), number),
    )
    return changed == 1


async def hold_again(tx: Tx, number: str, reasons: Sequence[str], now: datetime) -> None:
    """An automatic step failed: the order is held for a person after all."""
    await tx.execute(
        "UPDATE auto_decisions SET verdict = 'held', reasons = ?, updated_at = ? "
        "WHERE order_number = ?",
        (json.dumps(list(reasons)), iso(now), number),
    )


async def forget(tx: Tx, numbers: Iterable[str]) -> None:
    """Drop clean decisions whose confirmation was stopped (paused): decided again later."""
    for number in numbers:
        await tx.execute(
            "DELETE FROM auto_decisions WHERE order_number = ? AND verdict IN ('clean', 'fee')",
            (number,),
        )


async def mode_overrides(tx: Tx) -> dict[str, str]:
    """Modes set with /rms auto (shop → mode), and the pause under PAUSE_KEY."""
    rows = await tx.rows("SELECT shop, mode FROM auto_modes")
    return {row["shop"]: row["mode"] for row in rows}


async def set_mode(tx: Tx, shop: str, mode: str, actor: str, now: datetime) -> None:
    """Record a shop's mode (or the pause under PAUSE_KEY)."""
    await tx.execute(
        """INSERT INTO auto_modes (shop, mode, changed_by, changed_at) VALUES (?,?,?,?)
           ON CONFLICT (shop) DO UPDATE SET mode = excluded.mode,
               changed_by = excluded.changed_by, changed_at = excluded.changed_at""",
        (shop, mode, actor, iso(now)),
    )


async def pause_row(tx: Tx) -> tuple[str, str, datetime | None] | None:
    """(mode, by, at) of the global pause row, or None when never paused."""
    rows = await tx.rows(
        "SELECT mode, changed_by, changed_at FROM auto_modes WHERE shop = ?", (PAUSE_KEY,)
    )
    if not rows:
        return None
    return rows[0]["mode"], rows[0]["changed_by"], parse_dt(rows[0]["changed_at"])


async def arrivals_since(tx: Tx, shop: str, since: datetime) -> list[datetime]:
    """When the bot first stored each of a shop's orders since ``since`` (the watchdog's
    history of intake)."""
    rows = await tx.rows(
        "SELECT created_at FROM orders WHERE shop = ? AND created_at >= ?", (shop, iso(since))
    )
    return [t for t in (parse_dt(row["created_at"]) for row in rows) if t]


async def drop_ref(tx: Tx, key: str) -> None:
    """Remove a named value (a watchdog alert that recovered)."""
    await tx.execute("DELETE FROM refs WHERE key = ?", (key,))

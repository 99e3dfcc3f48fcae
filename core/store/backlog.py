"""What is waiting, for /metrics: requests, outbox messages, dead letters, overdue polls."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from core.store.tx import Tx, iso, parse_dt


@dataclass(frozen=True, slots=True)
class Backlog:
    """Counts read in one snapshot of the database."""

    requests_waiting: int
    outbox_pending: int
    dead_letters: int
    poll_lag_seconds: float  # how overdue the most overdue result poll is (0: none overdue)


async def read_backlog(tx: Tx, now: datetime) -> Backlog:
    """Unfinished requests, messages not yet delivered, dead letters, and the poll lag."""
    waiting = await tx.rows("SELECT COUNT(*) AS n FROM requests WHERE state != 'done'")
    by_state = {
        str(row["state"]): int(row["n"])
        for row in await tx.rows(
            "SELECT state, COUNT(*) AS n FROM messages WHERE state IN ('pending', 'dead') "
            "GROUP BY state"
        )
    }
    due = await tx.rows(
        "SELECT MIN(next_poll_at) AS due FROM orders WHERE polling = 1 AND next_poll_at <= ?",
        (iso(now),),
    )
    oldest = parse_dt(due[0]["due"]) if due else None
    return Backlog(
        requests_waiting=int(waiting[0]["n"]),
        outbox_pending=by_state.get("pending", 0),
        dead_letters=by_state.get("dead", 0),
        poll_lag_seconds=max(0.0, (now - oldest).total_seconds()) if oldest else 0.0,
    )

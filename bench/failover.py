"""Leader failover and graceful hand-over with real ``python -m bot serve`` replicas.

On PostgreSQL (a throwaway server, as the tests start one) when its binaries are installed,
else on one shared SQLite file. Replica A leads, B follows; A is SIGKILLed and the time until
B has completed its first full cycle as leader is the failover (bound: 1.5 × TTL, the design's
30 s at the default 20 s). Then C joins, B gets SIGTERM, and the time until C has completed its
first cycle is the hand-over (bound: 5 s). "First cycle" is read from each replica's /readyz
(role leader and a last-cycle age), polled every 20 ms.
"""

from __future__ import annotations

import signal
import tempfile
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from bench.common import Row, verdict
from bench.replicas import Cluster
from sandbox.postgres import find_bindir, temp_postgres

HANDOVER_BOUND_S = 5.0


@asynccontextmanager
async def _database(tmp: Path) -> AsyncIterator[tuple[str, str]]:
    """(DATABASE_URL, backend name): PostgreSQL when available, else a SQLite file."""
    if find_bindir() is None:
        yield f"sqlite:///{tmp / 'bot.sqlite3'}", "SQLite"
        return
    with temp_postgres() as server:
        yield server.create_database("failover"), "PostgreSQL"


async def run(ttl: float = 20.0) -> list[Row]:
    """Two rows: failover after SIGKILL, hand-over after SIGTERM."""
    with tempfile.TemporaryDirectory(prefix="bench-failover-") as folder:
        tmp = Path(folder)
        async with _database(tmp) as (url, backend), Cluster(tmp, url, ttl=ttl) as cluster:
            await cluster.start("a")
            assert (await cluster.wait_leader(timeout=60)).name == "a"
            await cluster.start("b")
            killed = time.monotonic()
            await cluster.kill("a")
            took_over = await cluster.wait_leader(timeout=3 * ttl + 30)
            failover = time.monotonic() - killed
            await cluster.start("c")
            stopped = time.monotonic()
            cluster.signal(took_over.name, signal.SIGTERM)
            handed = await cluster.wait_leader(timeout=3 * ttl + 30)
            handover = time.monotonic() - stopped
    bound = 1.5 * ttl
    detail = f"{backend}, LEADER_LEASE_SECONDS={ttl:g}"
    return [
        Row(
            "failover",
            "leader failover: SIGKILL → first cycle of the new leader",
            round(failover, 2),
            "s",
            f"≤ {bound:g} s (1.5 × TTL)",
            verdict(failover <= bound),
            detail,
            {"backend": backend, "ttl": ttl, "new_leader": took_over.name},
        ),
        Row(
            "failover",
            "graceful hand-over: SIGTERM → first cycle of the new leader",
            round(handover, 2),
            "s",
            f"≤ {HANDOVER_BOUND_S:g} s",
            verdict(handover <= HANDOVER_BOUND_S),
            detail,
            {"backend": backend, "ttl": ttl, "new_leader": handed.name},
        ),
    ]

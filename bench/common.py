"""Shared bench pieces: a virtual clock, loopback servers, the core on the simulator, the table."""

from __future__ import annotations

import asyncio
import json
import math
import random
from collections.abc import AsyncIterator, Mapping, Sequence
from contextlib import asynccontextmanager
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import aiohttp
from aiohttp import web

from core.context import Core
from core.lifecycle import Policy
from core.model import ShopConfig
from core.ports import Clock
from core.rms.client import RmsHttpClient
from core.store.sqlite import SqliteStore

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results"
START = datetime(2026, 11, 30, 0, 0, tzinfo=UTC)  # a Monday, 09:00 JST
MEETS, MISSES, INFO = "meets", "misses", "—"


class VirtualClock:
    """Virtual time: ``sleep`` advances it instantly, so rate-limit waits cost nothing real.

    A sleeper wakes at its own deadline (the time it fell asleep plus its wait): concurrent
    sleeps overlap, as they do in real time, instead of adding up."""

    def __init__(self, start: datetime = START) -> None:
        self._now = start

    def now(self) -> datetime:
        return self._now

    def advance(self, seconds: float) -> None:
        self._now += timedelta(seconds=max(0.0, seconds))

    def advance_to(self, when: datetime) -> None:
        if when > self._now:
            self._now = when

    async def sleep(self, seconds: float) -> None:
        deadline = self._now + timedelta(seconds=max(0.0, seconds))
        await asyncio.sleep(0)  # the others asleep at the same moment register theirs too
        self.advance_to(deadline)

    async def wait(self, event: asyncio.Event, seconds: float) -> None:
        if not event.is_set():
            await self.sleep(seconds)


@dataclass
class Row:
    """One line of the table; ``value`` is the number the verdict is about."""

    section: str
    figure: str
    value: float
    unit: str
    bound: str
    verdict: str  # meets | misses | —
    detail: str = ""
    data: dict[str, Any] = field(default_factory=dict)

    @property
    def measured(self) -> str:
        text = f"{fmt(self.value)} {self.unit}".strip()
        return f"{text} ({self.detail})" if self.detail else text


def verdict(ok: bool) -> str:
    return MEETS if ok else MISSES


def fmt(value: float) -> str:
    """Numbers as a person reads them: integers plain, others with 3 significant digits."""
    if isinstance(value, int) or (
        math.isfinite(value) and value == int(value) and abs(value) >= 10
    ):
        return f"{int(value):,}"
    if not math.isfinite(value):
        return str(value)
    if abs(value) >= 100:
        return f"{value:,.0f}"
    if abs(value) >= 10:
        return f"{value:.1f}"
    return f"{value:.2f}"


def percentile(values: Sequence[float], q: float) -> float:
    """Nearest-rank percentile (q in 0..100); NaN for no values."""
    if not values:
        return float("nan")
    ordered = sorted(values)
    rank = max(1, math.ceil(q / 100 * len(ordered)))
    return ordered[min(rank, len(ordered)) - 1]


def ceil_div(n: int, d: int) -> int:
    return -(-n // d)


# -- loopback servers ------------------------------------------------------------------------


@asynccontextmanager
async def serve(app: web.Application) -> AsyncIterator[str]:
    """Serve ``app`` on 127.0.0.1 at a free port; yields its base URL."""
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    host, port = runner.addresses[0][:2]
    try:
        yield f"http://{host}:{port}"
    finally:
        await runner.cleanup()


# -- the core on the simulator (tests/harness.py style, for benchmarks) ----------------------


@dataclass(frozen=True)
class BenchShop:
    key: str
    shop_id: str
    secret: str
    license_key: str
    channel: str = "C0BENCH"

    def config(self) -> ShopConfig:
        return ShopConfig(key=self.key, name=f"{self.key} shop", channel=self.channel)


def bench_shops(count: int) -> list[BenchShop]:
    return [
        BenchShop(f"shop{i:02d}", f"{300000 + i}", f"SP-bench-{i}", f"SL-bench-{i}")
        for i in range(count)
    ]


def order_number(shop_id: str, serial: int, day: str = "20261130") -> str:
    return f"{shop_id}-{day}-{serial:010d}"


@asynccontextmanager
async def rms_core(
    clock: Clock,
    shops: Sequence[BenchShop],
    base_urls: Mapping[str, str],
    *,
    db: str | Path = ":memory:",
    rps: float = 1.0,
    policy: Policy | None = None,
) -> AsyncIterator[Core]:
    """A Core whose shops talk HTTP to the simulator(s) at ``base_urls`` (by shop key)."""
    session = aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0))
    try:
        async with SqliteStore.open(db) as store:
            clients = {}
            for shop in shops:
                clients[shop.key] = client_for(session, base_urls[shop.key], shop, clock, rps)
                await store.upsert_shop(shop.config())
            yield Core(
                store=store,
                clock=clock,
                shops={s.key: s.config() for s in shops},
                rms=clients,
                policy=policy or Policy(),
                rng=random.Random(7),
            )
    finally:
        await session.close()


def client_for(
    session: aiohttp.ClientSession, base_url: str, shop: BenchShop, clock: Clock, rps: float
) -> RmsHttpClient:
    return RmsHttpClient(
        session,
        base_url=base_url,
        service_secret=shop.secret,
        license_key=shop.license_key,
        clock=clock,
        requests_per_second=rps,
        timeout=60.0,
        rng=random.Random(1),
    )


# -- the table --------------------------------------------------------------------------------

COLUMNS = ("figure", "measured", "bound / target", "verdict")


def table(rows: Sequence[Row]) -> str:
    """One Markdown table (it is also what bench/README.md shows)."""
    lines = [
        "| " + " | ".join(COLUMNS) + " |",
        "|" + "|".join("---" for _ in COLUMNS) + "|",
    ]
    for row in rows:
        cells = (row.figure, row.measured, row.bound, row.verdict)
        lines.append("| " + " | ".join(c.replace("|", "\\|") for c in cells) + " |")
    return "\n".join(lines)


def write_json(rows: Sequence[Row], meta: Mapping[str, Any], path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    payload = {**meta, "rows": [{**asdict(r), "measured": r.measured} for r in rows]}
    path.write_text(
        json.dumps(payload, ensure_ascii=False, indent=2, default=str) + "\n", encoding="utf-8"
    )

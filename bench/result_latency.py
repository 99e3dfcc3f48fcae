"""Result latency: how long after RMS moves an order to 300 the bot records 楽天処理済.

A simulated business day on a virtual clock: orders arrive at random times, staff confirm each
a few minutes later, and RMS moves each to 300 (発送待ち) 20–40 minutes after confirmation — set
per order with ``sim.set_progress(number, 300)`` at its chosen time. The bot's own ``Jobs``
loop runs in between, every ``tick`` seconds, with the RMS client paced at 1 request/s on the
same virtual clock (the simulator enforces 1 request/s too).

Latency = the record's ``stage_since`` when it became PROCESSED − the moment RMS moved it.
Budget share = getOrder + searchOrder calls made by the jobs / (rate × simulated seconds).
Two cadences on the same day: a plain fixed 5 minutes and the adaptive one of bot/wiring.
"""

from __future__ import annotations

import heapq
import random
from collections import Counter
from dataclasses import dataclass
from datetime import datetime, timedelta

from bench.common import (
    INFO,
    BenchShop,
    Row,
    VirtualClock,
    percentile,
    rms_core,
    serve,
    verdict,
)
from bot.jobs import Jobs
from core.confirm import confirm
from core.lifecycle import Policy
from core.model import Stage
from sandbox.rms import RmsSimulator

SHOP = BenchShop("main", "111111", "SP-main-secret", "SL-main-key")
RATE = 1.0  # RMS requests per second per licence key
READS = ("getOrder", "searchOrder")


@dataclass(frozen=True)
class Cadence:
    name: str
    policy: Policy
    tick: float


FIXED = Cadence(
    "fixed 5 min (baseline)",
    Policy(poll_interval=timedelta(seconds=300), young_interval=timedelta(seconds=300)),
    300.0,
)
ADAPTIVE = Cadence(
    "adaptive (bot default)",
    Policy(poll_interval=timedelta(seconds=300), young_interval=timedelta(seconds=60)),
    15.0,
)


def schedule(orders: int, hours: float, seed: int = 42) -> list[tuple[float, float, float]]:
    """(arrival, confirm, RMS fix) offsets in seconds for each order."""
    rng = random.Random(seed)
    out = []
    for _ in range(orders):
        arrive = rng.uniform(0, hours * 3600)
        confirm_at = arrive + rng.uniform(2 * 60, 20 * 60)
        fix_at = confirm_at + rng.uniform(20 * 60, 40 * 60)
        out.append((arrive, confirm_at, fix_at))
    return out


async def simulate(cadence: Cadence, plan: list[tuple[float, float, float]]) -> dict[str, float]:
    clock = VirtualClock()
    start = clock.now()
    sim = RmsSimulator(clock, requests_per_second=RATE, processing_delay=timedelta(days=30))
    sim.add_shop(SHOP.shop_id, SHOP.secret, SHOP.license_key)
    events: list[tuple[float, int, str, int]] = []  # (offset, order of kinds, kind, index)
    for i, (arrive, confirm_at, fix_at) in enumerate(plan):
        events += [(arrive, 0, "arrive", i), (confirm_at, 1, "confirm", i), (fix_at, 2, "fix", i)]
    heapq.heapify(events)
    numbers: dict[int, str] = {}
    fixed_at: dict[str, datetime] = {}
    seen: dict[str, float] = {}
    job_reads = 0
    reads_by_window: Counter[int] = Counter()
    cycles = 0
    async with (
        serve(sim.make_app()) as url,
        rms_core(clock, [SHOP], {SHOP.key: url}, rps=RATE, policy=cadence.policy) as core,
    ):
        jobs = Jobs(core, cadence.policy.poll_interval, tick=cadence.tick, rates={SHOP.key: RATE})
        next_tick = start
        while events or len(seen) < len(plan):
            due_event = start + timedelta(seconds=events[0][0]) if events else None
            if due_event is not None and due_event < next_tick:
                clock.advance_to(due_event)
                _offset, _k, kind, i = heapq.heappop(events)
                if kind == "arrive":
                    numbers[i] = sim.add_order(SHOP.shop_id, ordered_at=clock.now())
                elif kind == "confirm":
                    await confirm(core, SHOP.key, [numbers[i]], "U0STAFF")
                else:
                    sim.set_progress(numbers[i], 300)
                    fixed_at[numbers[i]] = clock.now()  # when RMS really moved it
                continue
            clock.advance_to(next_tick)
            before = len(sim.calls)
            await jobs.cycle()
            cycles += 1
            reads = sum(1 for c in sim.calls[before:] if c.function in READS)
            job_reads += reads
            reads_by_window[int((clock.now() - start).total_seconds() // 300)] += reads
            waiting = [n for n in fixed_at if n not in seen]
            if waiting:
                for number, record in (await core.store.get_orders(waiting)).items():
                    if record.stage is Stage.PROCESSED:
                        seen[number] = (record.stage_since - fixed_at[number]).total_seconds()
            next_tick = clock.now() + timedelta(seconds=cadence.tick)
        elapsed = (clock.now() - start).total_seconds()
        rejected = sum(1 for c in sim.calls if c.status in (403, 429))
    latencies = list(seen.values())
    busiest = max(reads_by_window.values(), default=0)
    return {
        "orders": len(plan),
        "median_s": percentile(latencies, 50),
        "p95_s": percentile(latencies, 95),
        "max_s": max(latencies, default=float("nan")),
        "job_reads": job_reads,
        "elapsed_s": elapsed,
        "budget_share": job_reads / (RATE * elapsed),
        "peak_5min_share": busiest / (RATE * 300),
        "cycles": cycles,
        "qps_rejections": rejected,
    }


async def run(orders: int = 400, hours: float = 10.0) -> list[Row]:
    plan = schedule(orders, hours)
    rows: list[Row] = []
    for cadence in (FIXED, ADAPTIVE):
        got = await simulate(cadence, plan)
        adaptive = cadence is ADAPTIVE
        label = f"楽天処理済 latency, {cadence.name}"
        rows.append(
            Row(
                "latency",
                f"{label}: median",
                got["median_s"],
                "s",
                "< 60 s" if adaptive else "baseline",
                verdict(got["median_s"] < 60) if adaptive else INFO,
                f"p95 {got['p95_s']:.0f} s, max {got['max_s']:.0f} s, "
                f"{orders} orders / {hours:g} h",
                got,
            )
        )
        rows.append(
            Row(
                "latency",
                f"{label}: request budget used",
                100 * got["budget_share"],
                "%",
                "≤ 20 %" if adaptive else "baseline",
                verdict(got["budget_share"] <= 0.2) if adaptive else INFO,
                f"{got['job_reads']:,} reads in {got['elapsed_s'] / 3600:.1f} h; busiest 5 min "
                f"{100 * got['peak_5min_share']:.0f} %; {got['qps_rejections']} QPS rejections",
                got,
            )
        )
    return rows

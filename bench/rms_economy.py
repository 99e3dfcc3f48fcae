"""RMS call economy: getOrder per poll cycle, and bulk confirm against the rate limit.

* Poll cycle: N orders are put into 楽天処理中 (intake, then confirm all, RMS QPS off), the
  clock moves past their next poll, and one ``core.poller.poll`` reads every due order; the
  simulator counts the getOrder calls. Virtual clock: nothing waits for real.
* Bulk confirm: ``core.confirm.confirm(…, "all")`` of N orders at 1 request/s with the real
  clock, against the simulator enforcing 1 request/s on the real clock; wall time is compared
  with the rate lower bound (⌈N/100⌉−1)/rate and every 403 (QPS) the simulator sent is counted.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from datetime import timedelta

import aiohttp

from bench.common import (
    BenchShop,
    Row,
    VirtualClock,
    ceil_div,
    client_for,
    rms_core,
    serve,
    verdict,
)
from core.clock import SystemClock
from core.confirm import ALL, confirm
from core.intake import intake
from core.lifecycle import Policy
from core.poller import poll
from sandbox.rms import RmsSimulator

SHOP = BenchShop("main", "111111", "SP-main-secret", "SL-main-key")
ACTOR = "U0BENCH"
NEVER = timedelta(days=30)  # the simulator never moves 200 → 300 on its own here


async def _into_processing(sim: RmsSimulator, core_clock: VirtualClock, n: int) -> None:
    for _ in range(n):
        sim.add_order(SHOP.shop_id, ordered_at=core_clock.now() - timedelta(hours=1))


async def poll_calls(n: int) -> dict[str, int]:
    """getOrder calls of one poll cycle over ``n`` due in-flight orders."""
    clock = VirtualClock()
    sim = RmsSimulator(clock, requests_per_second=None, processing_delay=NEVER, seed=n)
    sim.add_shop(SHOP.shop_id, SHOP.secret, SHOP.license_key)
    await _into_processing(sim, clock, n)
    policy = Policy()
    async with (
        serve(sim.make_app()) as url,
        rms_core(clock, [SHOP], {SHOP.key: url}, rps=1000.0, policy=policy) as core,
    ):
        await intake(core, SHOP.key)
        report = await confirm(core, SHOP.key, ALL, ACTOR)
        confirmed = sum(1 for o in report.outcomes if o.outcome.value == "confirmed")
        clock.advance(policy.poll_interval.total_seconds() + 1)  # every order is due now
        before = len(sim.calls_to("getOrder"))
        cycle = await poll(core, SHOP.key)
        calls = len(sim.calls_to("getOrder")) - before
    return {
        "n": n,
        "confirmed": confirmed,
        "read": cycle.read,
        "get_order_calls": calls,
        "bound": ceil_div(n, 100),
    }


async def bulk_confirm(n: int, rate: float = 1.0) -> dict[str, float]:
    """Confirm ``n`` orders at ``rate`` requests/s on the real clock; wall time and 403s."""
    clock = SystemClock()
    sim = RmsSimulator(
        clock, qps_clock=clock, requests_per_second=None, processing_delay=NEVER, seed=n
    )
    sim.add_shop(SHOP.shop_id, SHOP.secret, SHOP.license_key)
    now = clock.now()
    for _ in range(n):
        sim.add_order(SHOP.shop_id, ordered_at=now - timedelta(hours=1))
    async with (
        serve(sim.make_app()) as url,
        rms_core(clock, [SHOP], {SHOP.key: url}, rps=1000.0) as core,
    ):
        await intake(core, SHOP.key)  # set-up: learn the orders quickly (QPS off)
        sim.bucket.rate = rate  # from here on RMS enforces the real limit
        async with aiohttp.ClientSession() as session:
            core.rms = {SHOP.key: client_for(session, url, SHOP, clock, rate)}
            first = len(sim.calls)
            started = time.perf_counter()
            report = await confirm(core, SHOP.key, ALL, ACTOR)
            wall = time.perf_counter() - started
            calls = sim.calls[first:]
    confirmed = sum(1 for o in report.outcomes if o.outcome.value == "confirmed")
    return {
        "n": n,
        "rate": rate,
        "confirmed": confirmed,
        "confirm_calls": sum(1 for c in calls if c.function == "confirmOrder"),
        "calls_bound": ceil_div(n, 100),
        "wall_s": wall,
        "lower_bound_s": (ceil_div(n, 100) - 1) / rate,
        "qps_rejections": sum(1 for c in calls if c.status in (403, 429)),
        "all_calls": len(calls),
    }


async def run(sizes: Sequence[int] = (100, 1_000, 10_000), bulk: int = 1_000) -> list[Row]:
    rows: list[Row] = []
    for n in sizes:
        got = await poll_calls(n)
        ok = got["get_order_calls"] <= got["bound"] and got["read"] == n == got["confirmed"]
        rows.append(
            Row(
                "rms",
                f"getOrder per poll cycle, N = {n:,} in flight",
                got["get_order_calls"],
                "calls",
                f"⌈N/100⌉ = {got['bound']}",
                verdict(ok),
                f"{got['read']:,} orders read",
                got,
            )
        )
    bulk_n = bulk
    got_b = await bulk_confirm(bulk_n)
    rows.append(
        Row(
            "rms",
            f"bulk confirm {bulk_n:,} @ 1 req/s: confirmOrder calls",
            int(got_b["confirm_calls"]),
            "calls",
            f"⌈N/100⌉ = {int(got_b['calls_bound'])}",
            verdict(
                got_b["confirm_calls"] <= got_b["calls_bound"] and got_b["confirmed"] == bulk_n
            ),
            f"{int(got_b['confirmed']):,} confirmed",
            got_b,
        )
    )
    ratio = got_b["wall_s"] / got_b["lower_bound_s"] if got_b["lower_bound_s"] else float("nan")
    got_b["ratio"] = ratio
    rows.append(
        Row(
            "rms",
            f"bulk confirm {bulk_n:,} @ 1 req/s: wall time (real clock)",
            got_b["wall_s"],
            "s",
            f"≤ 1.2 × {got_b['lower_bound_s']:.0f} s = {1.2 * got_b['lower_bound_s']:.1f} s",
            verdict(ratio <= 1.2),
            f"×{ratio:.3f} of the lower bound",
            got_b,
        )
    )
    rows.append(
        Row(
            "rms",
            "QPS rejections provoked by our pacing (bulk confirm)",
            int(got_b["qps_rejections"]),
            "",
            "0",
            verdict(got_b["qps_rejections"] == 0),
            f"of {int(got_b['all_calls'])} calls",
            got_b,
        )
    )
    return rows

"""Scale: many shops × in-flight orders in one bot process, and the daily summary over 1 M orders.

Cycle and memory (``python -m bench.scale --child SHOPS ORDERS`` — a fresh process, so its peak
RSS is the bot's alone):

* the RMS simulator runs in yet another process (``--sims``), one simulator per shop;
* the bot's SQLite file store is seeded directly (``SqliteStore.tx().save_order`` with a real
  getOrder snapshot of that shop, plus the confirmed intent) with SHOPS × ORDERS orders in
  楽天処理中, all due for a poll;
* measured on a virtual clock paced at 1 request/s per shop: one ``Jobs.cycle()`` (intake, the
  budgeted poll of 3 getOrder per shop, reconcile) — its paced length shows whether the 15 s
  tick holds — and then a full sweep reading every order (⌈ORDERS/100⌉ getOrder per shop),
  timed in real seconds (the bot's own work);
* peak RSS is ``ru_maxrss`` of that process (psutil RSS before/after is in the JSON).

Daily summary: a temp SQLite file with N orders over 50 shops and their outbox events (bulk
``executemany``), then ``core.summary.build_summary`` for all shops, timed (worst of 3).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import sqlite3
import sys
import tempfile
import time
from collections.abc import Coroutine
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, TypeVar

import psutil  # type: ignore[import-untyped]
from aiohttp import web

from bench.common import (
    ROOT,
    Row,
    bench_shops,
    ceil_div,
    fmt,
    order_number,
    rms_core,
    verdict,
)
from core.lifecycle import JST, Policy
from core.model import OrderRecord, Stage
from core.store.sqlite import SqliteStore
from tests.stepped_clock import SteppedClock

T = TypeVar("T")

RATE = 1.0
RSS_LIMIT_MB = 200.0
SUMMARY_LIMIT_S = 1.0


def _day(now: datetime) -> str:
    return now.astimezone(JST).strftime("%Y%m%d")


# -- the simulator process ------------------------------------------------------------------------


async def _serve_sims(shops: int, orders: int) -> None:
    from core.clock import SystemClock
    from sandbox.rms import RmsSimulator

    clock = SystemClock()
    now = clock.now()
    runners, urls = [], {}
    for shop in bench_shops(shops):
        sim = RmsSimulator(clock, requests_per_second=None, processing_delay=timedelta(days=30))
        sim.add_shop(shop.shop_id, shop.secret, shop.license_key)
        for i in range(orders):
            sim.add_order(
                shop.shop_id,
                number=order_number(shop.shop_id, i, _day(now)),
                ordered_at=now - timedelta(hours=1),
                progress=200,
            )
        runner = web.AppRunner(sim.make_app(), access_log=None)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        host, port = runner.addresses[0][:2]
        urls[shop.key] = f"http://{host}:{port}"
        runners.append(runner)
    print(json.dumps(urls), flush=True)
    await asyncio.get_running_loop().run_in_executor(None, sys.stdin.read)  # until closed
    for runner in runners:
        await runner.cleanup()


# -- the bot process ------------------------------------------------------------------------------


def _rss_mb() -> float:
    return float(psutil.Process().memory_info().rss) / 2**20


def _peak_rss_mb(sampled: float) -> float:
    """This program's high-water RSS: VmHWM (Linux; unlike ``ru_maxrss`` it is not inherited
    from the parent across fork + exec), else the highest sampled RSS."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return max(sampled, int(line.split()[1]) / 1024)
    except OSError:
        pass
    return sampled


async def _sample_rss(peak: list[float], every: float = 0.05) -> None:
    while True:
        peak[0] = max(peak[0], _rss_mb())
        await asyncio.sleep(every)


async def _drive(clock: SteppedClock, work: Coroutine[Any, Any, T]) -> T:
    """Run ``work`` to its end, moving the stepped clock as its waits come due."""
    task = asyncio.ensure_future(work)
    await clock.run_until(task)
    return task.result()


async def _seed(core: Any, shops: list[Any], orders: int, now: datetime) -> None:
    """Put ``orders`` in-flight orders per shop into the store, shaped like real ones."""
    for shop in shops:
        first = order_number(shop.shop_id, 0, _day(now))
        (snap,) = await core.api(shop.key).get_orders([first])
        async with core.store.tx() as tx:
            for i in range(orders):
                number = order_number(shop.shop_id, i, _day(now))
                snapshot = replace(snap, number=number, raw={**snap.raw, "orderNumber": number})
                record = OrderRecord(
                    number=number,
                    shop=shop.key,
                    stage=Stage.PROCESSING,
                    snapshot=snapshot,
                    stage_since=now - timedelta(minutes=30),
                    polling=True,
                    next_poll_at=now - timedelta(seconds=1),
                )
                await tx.save_order(record, now)
                await tx.claim_intent(number, shop.key, "U0STAFF", now)
                await tx.set_intent(number, "confirmed", now, attempted=True)


async def child(shops_n: int, orders: int) -> dict[str, Any]:
    from bot.jobs import Jobs
    from core.poller import poll

    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "bench.scale",
        "--sims",
        str(shops_n),
        str(orders),
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
        cwd=ROOT,
    )
    assert proc.stdout is not None and proc.stdin is not None
    urls = json.loads(await proc.stdout.readline())
    shops = bench_shops(shops_n)
    # Time moves deadline by deadline once every task waits (SteppedClock): the shops' paced
    # waits overlap as they would in real time, whatever the real duration of each call.
    clock = SteppedClock(datetime.now(UTC))
    clock.held = 1  # the RSS sampler sleeps for real: it never waits on this clock
    out: dict[str, Any] = {"shops": shops_n, "orders_per_shop": orders}
    peak = [_rss_mb()]
    sampler = asyncio.create_task(_sample_rss(peak))
    try:
        with tempfile.TemporaryDirectory(prefix="rms-bench-scale-") as tmp:
            db = Path(tmp) / "bot.sqlite3"
            async with rms_core(clock, shops, urls, db=db, rps=RATE, policy=Policy()) as core:
                started = time.perf_counter()
                await _drive(clock, _seed(core, shops, orders, clock.now()))
                out["seed_s"] = time.perf_counter() - started
                clock.advance(10)  # the pacing of the seeding reads is not part of the cycle
                out["rss_before_mb"] = _rss_mb()
                jobs = Jobs(
                    core, timedelta(seconds=300), tick=15.0, rates={s.key: RATE for s in shops}
                )
                at, started = clock.now(), time.perf_counter()
                await _drive(clock, jobs.cycle())
                out["tick_wall_s"] = time.perf_counter() - started
                out["tick_paced_s"] = (clock.now() - at).total_seconds()
                out["tick_calls_per_shop"] = jobs.poll_calls_per_tick(shops[0].key)
                clock.advance(301)  # every order is due again
                at, started = clock.now(), time.perf_counter()
                read = calls = 0
                for shop in shops:
                    report = await _drive(clock, poll(core, shop.key))
                    read, calls = read + report.read, calls + report.calls
                out["sweep_wall_s"] = time.perf_counter() - started
                out["sweep_paced_s"] = (clock.now() - at).total_seconds()
                out["sweep_read"], out["sweep_calls"] = read, calls
                out["rss_after_mb"] = _rss_mb()
                out["db_mb"] = db.stat().st_size / 2**20
        out["peak_rss_sampled_mb"] = peak[0]
        out["peak_rss_mb"] = _peak_rss_mb(peak[0])
    finally:
        sampler.cancel()
        proc.stdin.close()
        await proc.wait()
    return out


# -- the daily summary over many stored orders -------------------------------------------------


def _fill(path: Path, total: int, shops: list[Any], now: datetime, seed: int = 1) -> int:
    """Bulk-insert ``total`` orders over ~200 days and their outbox events; returns events."""
    rng = random.Random(seed)
    per_day = max(1, total // 200)
    today = now.astimezone(JST).date()
    db = sqlite3.connect(path)
    db.execute("PRAGMA journal_mode=WAL")
    db.execute("PRAGMA synchronous=OFF")
    orders: list[tuple[Any, ...]] = []
    events: list[tuple[Any, ...]] = []
    written = 0
    snapshot_tail = json.dumps(
        {
            "settlement": "クレジットカード",
            "goods_price": 3980,
            "postage_price": 500,
            "total_price": 4480,
        },
        ensure_ascii=False,
    )

    def flush() -> None:
        db.executemany(
            """INSERT INTO orders (number, shop, stage, progress, snapshot, ordered_at,
               stage_since, polling, next_poll_at, created_at, updated_at)
               VALUES (?,?,?,?,?,?,?,?,?,?,?)""",
            orders,
        )
        db.executemany(
            "INSERT INTO outbox (shop, kind, order_number, at, data, posted_at)"
            " VALUES (?,?,?,?,?,?)",
            events,
        )
        db.commit()
        orders.clear()
        events.clear()

    for i in range(total):
        age = i // per_day  # 0 = today
        shop = shops[i % len(shops)]
        at = now - timedelta(days=age, seconds=rng.uniform(0, 8 * 3600))
        number = order_number(shop.shop_id, i, (today - timedelta(days=age)).strftime("%Y%m%d"))
        roll = rng.random()
        if age == 0:
            stage = (
                Stage.AWAITING
                if roll < 0.3
                else Stage.NEEDS_ACTION
                if roll < 0.35
                else Stage.ERROR
                if roll < 0.37
                else Stage.PROCESSING
                if roll < 0.8
                else Stage.PROCESSED
            )
        else:
            stage = Stage.CANCELLED if roll < 0.04 else Stage.PROCESSED
        progress = {
            Stage.PROCESSING: 200,
            Stage.PROCESSED: 300 if age < 3 else 500,
            Stage.CANCELLED: 900,
        }.get(stage, 100)
        due = (at.astimezone(JST).date() + timedelta(days=14)).isoformat()
        snapshot = (
            f'{{"number":"{number}","progress":{progress},'
            f'"ordered_at":"{at.isoformat()}","cancel_due":"{due}",{snapshot_tail[1:]}'
        )
        confirmed = at + timedelta(minutes=rng.uniform(5, 120))
        since = confirmed + timedelta(minutes=30) if stage is Stage.PROCESSED else at
        orders.append(
            (
                number,
                shop.key,
                stage.value,
                progress,
                snapshot,
                at.isoformat(),
                since.isoformat(),
                int(stage is Stage.PROCESSING),
                (now + timedelta(seconds=60)).isoformat() if stage is Stage.PROCESSING else None,
                at.isoformat(),
                since.isoformat(),
            )
        )
        posted = at.isoformat()
        events.append((shop.key, "order_new", number, at.isoformat(), "{}", posted))
        if stage in (Stage.PROCESSING, Stage.PROCESSED):
            actor = "rms" if roll < 0.1 else f"U0STAFF{i % 7}"
            kind = "order_adopted" if actor == "rms" else "order_confirmed"
            events.append(
                (
                    shop.key,
                    kind,
                    number,
                    confirmed.isoformat(),
                    json.dumps({"actor": actor}),
                    posted,
                )
            )
        if stage is Stage.PROCESSED:
            events.append(
                (
                    shop.key,
                    "order_processed",
                    number,
                    since.isoformat(),
                    '{"from": "processing", "minutes": 30}',
                    posted,
                )
            )
        elif stage is Stage.CANCELLED:
            events.append(
                (
                    shop.key,
                    "order_cancelled",
                    number,
                    since.isoformat(),
                    '{"progress": 900}',
                    posted,
                )
            )
        elif stage is Stage.ERROR:
            events.append(
                (shop.key, "order_error", number, at.isoformat(), '{"error_key": "qps"}', posted)
            )
        if len(orders) >= 20_000:
            written += len(events)
            flush()
    written += len(events)
    flush()
    db.execute("ANALYZE")
    db.close()
    return written


async def summary_time(total: int, shops_n: int = 50) -> dict[str, Any]:
    from core.summary import build_summary

    shops = bench_shops(shops_n)
    now = datetime.now(UTC)
    with tempfile.TemporaryDirectory(prefix="rms-bench-summary-") as tmp:
        path = Path(tmp) / "summary.sqlite3"
        async with SqliteStore.open(path) as store:  # the real schema and migrations
            for shop in shops:
                await store.upsert_shop(shop.config())
        started = time.perf_counter()
        events = await asyncio.to_thread(_fill, path, total, shops, now)
        fill_s = time.perf_counter() - started
        timings = []
        configs = {s.key: s.config() for s in shops}
        async with SqliteStore.open(path) as store:
            for _ in range(3):
                started = time.perf_counter()
                summary = await build_summary(
                    store, configs, now.astimezone(JST).date(), JST, now, remember=False
                )
                timings.append(time.perf_counter() - started)
        size = path.stat().st_size / 2**20
    return {
        "orders": total,
        "events": events,
        "shops": shops_n,
        "fill_s": fill_s,
        "runs_s": timings,
        "worst_s": max(timings),
        "db_mb": size,
        "today_new": summary.total.new,
        "today_processing": summary.total.processing,
    }


# -- rows ------------------------------------------------------------------------------------------


async def _run_child(shops: int, orders: int) -> dict[str, Any]:
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "bench.scale",
        "--child",
        str(shops),
        str(orders),
        stdout=asyncio.subprocess.PIPE,
        cwd=ROOT,
    )
    stdout, _ = await proc.communicate()
    if proc.returncode != 0:
        raise RuntimeError(f"bench.scale child failed with exit code {proc.returncode}")
    return dict(json.loads(stdout.decode().strip().splitlines()[-1]))


async def run(shops: int = 50, orders: int = 2_000, stored: int = 1_000_000) -> list[Row]:
    got = await _run_child(shops, orders)
    label = f"{shops} shops × {orders:,} in flight"
    per_call_ms = 1000 * got["sweep_wall_s"] / max(1, got["sweep_calls"])
    rows = [
        Row(
            "scale",
            f"{label}: one Jobs tick, paced at 1 req/s per shop",
            got["tick_paced_s"],
            "s",
            "≤ tick 15 s (the adaptive cadence)",
            verdict(got["tick_paced_s"] <= 15.0),
            f"{got['tick_calls_per_shop']} getOrder per shop, up to 25 shops at once; "
            f"bot's own time {got['tick_wall_s']:.1f} s",
            got,
        ),
        Row(
            "scale",
            f"{label}: full poll sweep, bot's own time",
            got["sweep_wall_s"],
            "s",
            "< RMS pacing (1 s per getOrder)",
            verdict(per_call_ms < 1000 * RATE),
            f"{got['sweep_read']:,} orders in {got['sweep_calls']:,} getOrder "
            f"(⌈N/100⌉ = {shops * ceil_div(orders, 100):,}); {per_call_ms:.0f} ms per call; "
            f"paced {fmt(got['sweep_paced_s'])} s",
            got,
        ),
        Row(
            "scale",
            f"{label}: peak RSS of the bot process",
            got["peak_rss_mb"],
            "MB",
            f"≤ {RSS_LIMIT_MB:.0f} MB",
            verdict(got["peak_rss_mb"] <= RSS_LIMIT_MB),
            f"RSS {got['rss_before_mb']:.0f} MB before the cycles, {got['rss_after_mb']:.0f} MB "
            f"after; SQLite file {got['db_mb']:.0f} MB",
            got,
        ),
    ]
    summary = await summary_time(stored)
    rows.append(
        Row(
            "scale",
            f"daily summary (build_summary, 50 shops) over {stored:,} stored orders",
            summary["worst_s"],
            "s",
            f"≤ {SUMMARY_LIMIT_S:g} s",
            verdict(summary["worst_s"] <= SUMMARY_LIMIT_S),
            f"worst of 3; {summary['events']:,} outbox events; file {summary['db_mb']:.0f} MB",
            summary,
        )
    )
    return rows


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.scale")
    parser.add_argument("--child", nargs=2, type=int, metavar=("SHOPS", "ORDERS"))
    parser.add_argument("--sims", nargs=2, type=int, metavar=("SHOPS", "ORDERS"))
    args = parser.parse_args(argv)
    if args.sims:
        asyncio.run(_serve_sims(*args.sims))
    elif args.child:
        print(json.dumps(asyncio.run(child(*args.child))))
    else:
        parser.error("use --child SHOPS ORDERS (python -m bench runs everything)")


if __name__ == "__main__":
    main()

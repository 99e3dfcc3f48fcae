"""The process test_crash_restart.py kills: startup reconciliation, then a bulk confirm.

    python -m tests.reliability.crash_worker --db PATH --rms URL --seed N [--now ISO]

It is what the bot does after a (re)start, and nothing else: open the SQLite file, reconcile
every intent left without an outcome (core.reconciler.reconcile, startup=True), then confirm every
order still in 注文確認待ち (core.confirm.confirm with ALL). It prints ``ready`` once the core is
built (the test starts its kill timer from there) and one JSON line when it is done.
The RMS simulator lives in the test process, so its state survives every SIGKILL here.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import sys
from collections import Counter
from datetime import datetime

import aiohttp

from core.confirm import ALL, confirm
from core.context import Core, RetryPolicy
from core.model import ShopConfig
from core.reconciler import reconcile
from core.rms.client import RmsHttpClient
from core.store.sqlite import SqliteStore
from tests.fakes import FakeClock
from tests.harness import SHOPS

SHOP = "main"


async def run(db: str, rms: str, seed: int, now: datetime) -> dict[str, object]:
    clock = FakeClock(now)
    _shop_id, secret, key, api_option, channel = SHOPS[SHOP]
    config = ShopConfig(key=SHOP, name="main shop", channel=channel, api_option=api_option)
    async with aiohttp.ClientSession() as session, SqliteStore.open(db) as store:
        await store.upsert_shop(config)
        client = RmsHttpClient(
            session,
            base_url=rms,
            service_secret=secret,
            license_key=key,
            clock=clock,
            requests_per_second=1000.0,
            timeout=10.0,
            rng=random.Random(seed),
        )
        core = Core(
            store=store,
            clock=clock,
            shops={SHOP: config},
            rms={SHOP: client},
            retry=RetryPolicy(attempts=3),
            rng=random.Random(seed),
        )
        sys.stdout.write("ready\n")
        sys.stdout.flush()
        reconciled = await reconcile(core, SHOP, startup=True)
        report = await confirm(core, SHOP, ALL, "U0BULK")
        outcomes = Counter(o.outcome.value for o in report.outcomes)
    return {"reconciled": reconciled, "outcomes": dict(outcomes), "calls": report.rms_calls}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.reliability.crash_worker")
    parser.add_argument("--db", required=True)
    parser.add_argument("--rms", required=True, help="base URL of the RMS simulator")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--now",
        default=FakeClock().now().isoformat(),
        help="the simulator's current time (ISO 8601, aware)",
    )
    args = parser.parse_args(argv)
    done = asyncio.run(run(args.db, args.rms, args.seed, datetime.fromisoformat(args.now)))
    sys.stdout.write(json.dumps(done) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

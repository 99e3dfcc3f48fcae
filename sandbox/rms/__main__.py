"""Run the RMS simulator alone: ``python -m sandbox.rms --port 8081 [--host 127.0.0.1]``."""

from __future__ import annotations

import argparse
from datetime import timedelta

from aiohttp import web

from core.clock import SystemClock
from sandbox.rms.faults import QUIRKS
from sandbox.rms.simulator import RmsSimulator

DEMO_SHOP = ("123456", "SP123456_demo_service_secret", "SL123456_demo_licence_key")


def seed_demo_shop(sim: RmsSimulator, shop: tuple[str, str, str] = DEMO_SHOP) -> list[str]:
    """One shop with a realistic morning's orders; returns their numbers."""
    shop_id, secret, key = shop
    sim.add_shop(shop_id, secret, key)
    now = sim.clock.now()
    return [
        sim.add_order(shop_id, ordered_at=now - timedelta(hours=3)),
        sim.add_order(shop_id, ordered_at=now - timedelta(hours=2), items=2),
        sim.add_order(
            shop_id, ordered_at=now - timedelta(hours=1), postage=-9999, isolated_island=True
        ),
        sim.add_order(
            shop_id, ordered_at=now - timedelta(minutes=50), packages=2, postage=[600, -9999]
        ),
        sim.add_order(
            shop_id, ordered_at=now - timedelta(minutes=40), settlement_code=9, prepay=True
        ),
        sim.add_order(shop_id, ordered_at=now - timedelta(minutes=30), settlement_code=2),
        sim.add_order(shop_id, ordered_at=now - timedelta(days=13), postage=0),
        sim.add_order(shop_id, ordered_at=now - timedelta(days=1), progress=300),
        sim.add_order(shop_id, ordered_at=now - timedelta(days=2), progress=900),
    ]


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m sandbox.rms", description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8081)
    parser.add_argument(
        "--processing-minutes",
        type=float,
        default=30.0,
        help="how long Rakuten keeps a confirmed order in 200 (default 30)",
    )
    parser.add_argument(
        "--rps",
        type=float,
        default=1.0,
        help="requests per second per licence key; 0 disables the limit",
    )
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--quirk",
        action="append",
        default=[],
        choices=sorted(QUIRKS),
        help="switch on an undocumented RMS behaviour (repeatable)",
    )
    args = parser.parse_args(argv)
    sim = RmsSimulator(
        SystemClock(),
        requests_per_second=args.rps or None,
        seed=args.seed,
        processing_delay=timedelta(minutes=args.processing_minutes),
    )
    for quirk in args.quirk:
        sim.set_quirk(quirk)
    numbers = seed_demo_shop(sim)
    base = f"http://{args.host}:{args.port}"
    shop_id, secret, key = DEMO_SHOP
    print(f"RMS simulator on {base}  (API base {base}/es/2.0/order/, control {base}/_sim/)")
    print(f"shop {shop_id}: serviceSecret={secret} licenseKey={key}")
    print(f"{len(numbers)} demo orders, e.g. {numbers[0]}", flush=True)
    web.run_app(sim.make_app(), host=args.host, port=args.port, print=None)


if __name__ == "__main__":
    main()

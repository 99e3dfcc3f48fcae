"""A real stack on loopback for tests: RMS simulator + RmsHttpClient + a real store + Core."""

from __future__ import annotations

import random
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

import aiohttp
from aiohttp.test_utils import TestServer

from core.context import Core, RetryPolicy
from core.lifecycle import Policy
from core.model import ShopConfig
from core.rms.client import RmsHttpClient
from core.store.open import open_store
from core.store.sqlite import Store
from sandbox.rms import RmsSimulator
from tests.fakes import FakeClock

PERSON = {  # one orderer who is also the recipient: same destination, a 同梱 candidate
    "familyName": "山田",
    "firstName": "花子",
    "zipCode1": "150",
    "zipCode2": "0001",
    "prefecture": "東京都",
    "city": "渋谷区神宮前",
    "subAddress": "1-2-3",
    "phoneNumber1": "03",
    "phoneNumber2": "1234",
    "phoneNumber3": "5678",
}


def _memory() -> str:
    return ":memory:"


new_db: Callable[[], str] = _memory
"""Where a harness opens its store unless told (a new database each time): the contract suite
points it at fresh PostgreSQL databases too."""
SHOPS = {
    "main": ("111111", "SP-main-secret", "SL-main-key", False, "C0SHOP1"),
    "api": ("222222", "SP-api-secret", "SL-api-key", True, "C0SHOP2"),
}


@dataclass
class Harness:
    """Everything a core test touches, all real, time on a FakeClock."""

    clock: FakeClock
    sim: RmsSimulator
    store: Store
    core: Core
    server: TestServer
    session: aiohttp.ClientSession
    shop_ids: dict[str, str] = field(default_factory=dict)

    def add_order(self, shop: str = "main", **kwargs: Any) -> str:
        """Create an order in the simulator for one of our shops."""
        return self.sim.add_order(self.shop_ids[shop], **kwargs)

    def confirm_calls(self) -> int:
        return len(self.sim.calls_to("confirmOrder"))


@asynccontextmanager
async def harness(
    clock: FakeClock | None = None,
    *,
    db: str | None = None,
    rps: float | None = 1.0,
    timeout: float = 2.0,
    processing_delay: timedelta = timedelta(minutes=30),
    policy: Policy | None = None,
    retry: RetryPolicy | None = None,
    sim: RmsSimulator | None = None,
) -> AsyncIterator[Harness]:
    """Start the simulator on loopback and build the core against it."""
    clock = clock or FakeClock()
    sim = sim or RmsSimulator(clock, requests_per_second=rps, processing_delay=processing_delay)
    for shop_id, secret, key, _api, _channel in SHOPS.values():
        sim.add_shop(shop_id, secret, key)
    server = TestServer(sim.make_app())
    await server.start_server()
    session = aiohttp.ClientSession()
    try:
        async with open_store(db or new_db()) as store:
            configs, clients = {}, {}
            for name, (_shop_id, secret, key, api, channel) in SHOPS.items():
                configs[name] = ShopConfig(
                    key=name, name=f"{name} shop", channel=channel, api_option=api
                )
                clients[name] = RmsHttpClient(
                    session,
                    base_url=str(server.make_url("")),
                    service_secret=secret,
                    license_key=key,
                    clock=clock,
                    requests_per_second=rps or 1000.0,
                    timeout=timeout,
                    rng=random.Random(1),
                )
                await store.upsert_shop(configs[name])
            core = Core(
                store=store,
                clock=clock,
                shops=configs,
                rms=clients,
                policy=policy or Policy(),
                retry=retry or RetryPolicy(),
                rng=random.Random(7),
            )
            yield Harness(
                clock, sim, store, core, server, session, {n: v[0] for n, v in SHOPS.items()}
            )
    finally:
        await session.close()
        await server.close()

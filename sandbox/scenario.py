"""The demo story: two Rakuten shops, ~40 realistic orders, new orders over time, rare faults.

``seed(sim, now)`` fills an RmsSimulator once; ``arrivals`` keeps adding orders while the demo
runs and, rarely, makes RMS answer with a QPS 403 or a short maintenance window; ``story`` plays
the few scripted events (a colleague confirms an order directly in RMS, a customer cancels).

Every case staff meet is present: normal orders, -9999 shipping fees (order and per
package), bundle candidates (same orderer and destination), a prepaid order that stays
楽天処理中, an order Rakuten cancels after confirmation (payment NG), orders already confirmed
in RMS, an order close to its auto-cancel date, and a licence key 5 days from expiry.
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sandbox.rms.simulator import RmsSimulator

JST = ZoneInfo("Asia/Tokyo")

logger = logging.getLogger(__name__)

Sleep = Callable[[float], Awaitable[object]]

PREPAY_BANK = 9  # 銀行振込: paid after confirmation, so the order waits in 200 for days
COD = 2  # 代金引換
CARD = 1  # クレジットカード
DEFERRED = 21  # 後払い決済
KEY_DAYS_LEFT = 5


@dataclass(frozen=True, slots=True)
class ScenarioShop:
    """One demo shop: its key in the bot, its RMS shop id and placeholder credentials."""

    key: str
    name: str
    shop_id: str
    service_secret: str
    license_key: str
    api_option: bool
    channel: str
    extra: str = ""  # more TOML for its table (the demo's auto-confirm settings)

    def toml(self) -> str:
        """Its ``[shops.<key>]`` table for SHOPS_FILE."""
        return (
            f"[shops.{self.key}]\n"
            f'name = "{self.name}"\n'
            f'service_secret = "{self.service_secret}"\n'
            f'license_key = "{self.license_key}"\n'
            f"api_option = {'true' if self.api_option else 'false'}\n"
            f'channel = "{self.channel}"\n'
            f"{self.extra}"
        )


MAIN = ScenarioShop("main", "メイン店", "123456", "SP-demo-main", "SL-demo-main", False, "C0SHOP1")
API = ScenarioShop("api", "API店", "234567", "SP-demo-api", "SL-demo-api", True, "C0SHOP2")
SHOPS: tuple[ScenarioShop, ...] = (MAIN, API)
SUMMARY_CHANNEL = "C0SUMMARY"


def shops_toml(shops: Sequence[ScenarioShop] = SHOPS) -> str:
    """SHOPS_FILE content for the demo shops."""
    head = "# rms-bot demo shops (placeholder credentials for the RMS simulator)\n\n"
    return head + "\n".join(shop.toml() for shop in shops)


@dataclass
class ScenarioInfo:
    """What was seeded: the shops and the order numbers of every case (case → numbers)."""

    shops: tuple[ScenarioShop, ...]
    orders: dict[str, list[str]] = field(default_factory=dict)
    key_expires: datetime | None = None

    def add(self, case: str, number: str) -> str:
        self.orders.setdefault(case, []).append(number)
        return number

    def first(self, case: str) -> str:
        """The first order of a case (KeyError names the case when there is none)."""
        numbers = self.orders.get(case)
        if not numbers:
            raise KeyError(case)
        return numbers[0]

    def of_shop(self, case: str, shop: ScenarioShop) -> list[str]:
        prefix = f"{shop.shop_id}-"
        return [n for n in self.orders.get(case, []) if n.startswith(prefix)]

    @property
    def numbers(self) -> list[str]:
        return [n for numbers in self.orders.values() for n in numbers]

    def shop(self, key: str) -> ScenarioShop:
        return next(s for s in self.shops if s.key == key)


# A returning customer: full orderer fields so the orders share orderer and destination (同梱候補).
REPEAT_BUYER: dict[str, Any] = {
    "familyName": "森",
    "firstName": "陽子",
    "familyNameKana": "モリ",
    "firstNameKana": "ヨウコ",
    "zipCode1": "154",
    "zipCode2": "0004",
    "prefecture": "東京都",
    "city": "世田谷区",
    "subAddress": "太子堂４丁目１−１ キャロットタワー８０５",
    "phoneNumber1": "03",
    "phoneNumber2": "5432",
    "phoneNumber3": "1098",
    "emailAddress": "5f0c1e2d3a4b5c6d7e8f90a1b2c3d4e5s1@pc.fw.rakuten.ne.jp",
}
GIFT_BUYER: dict[str, Any] = {
    "familyName": "岡田",
    "firstName": "健二",
    "familyNameKana": "オカダ",
    "firstNameKana": "ケンジ",
    "zipCode1": "604",
    "zipCode2": "8005",
    "prefecture": "京都府",
    "city": "京都市中京区",
    "subAddress": "河原町通三条上る恵比須町４２７",
    "phoneNumber1": "075",
    "phoneNumber2": "211",
    "phoneNumber3": "3456",
    "emailAddress": "0a9b8c7d6e5f40312233445566778899s2@pc.fw.rakuten.ne.jp",
}
GIFT_RECIPIENT: dict[str, Any] = {
    "familyName": "岡田",
    "firstName": "トシ子",
    "familyNameKana": "オカダ",
    "firstNameKana": "トシコ",
    "zipCode1": "790",
    "zipCode2": "0003",
    "prefecture": "愛媛県",
    "city": "松山市",
    "subAddress": "三番町４丁目７−２",
    "phoneNumber1": "089",
    "phoneNumber2": "941",
    "phoneNumber3": "7788",
}


def seed(sim: RmsSimulator, clock_now: datetime) -> ScenarioInfo:
    """Register both shops and seed ~40 orders placed over the last days (returns what is where)."""
    info = ScenarioInfo(SHOPS)
    # Keys expire at 23:59:59 JST of their last day.
    last_day = (clock_now + timedelta(days=KEY_DAYS_LEFT)).astimezone(JST).date()
    info.key_expires = datetime.combine(last_day, time(23, 59, 59), tzinfo=JST)
    sim.add_shop(MAIN.shop_id, MAIN.service_secret, MAIN.license_key, key_expires=info.key_expires)
    sim.add_shop(API.shop_id, API.service_secret, API.license_key)

    def ago(**delta: float) -> datetime:
        return clock_now - timedelta(**delta)

    def order(case: str, shop: ScenarioShop, **kwargs: Any) -> str:
        return info.add(case, sim.add_order(shop.shop_id, **kwargs))

    # --- メイン店 (no API option) ---------------------------------------------------------
    for hours, extra in (
        (9, {}),
        (7.5, {"items": 2}),
        (6, {"settlement_code": COD}),
        (5.2, {}),
        (4.1, {"items": 3}),
        (3.3, {"settlement_code": DEFERRED}),
        (2.4, {}),
        (1.6, {"items": 2}),
        (0.8, {}),
        (0.3, {"settlement_code": COD}),
        (26, {}),
        (30, {"items": 2}),
    ):
        order("normal", MAIN, ordered_at=ago(hours=hours), **extra)
    order("fee_unset", MAIN, ordered_at=ago(hours=5), postage=-9999, isolated_island=True)
    order("fee_unset", MAIN, ordered_at=ago(hours=2), postage=-9999)
    order("fee_unset_packages", MAIN, ordered_at=ago(hours=3), packages=2, postage=[600, -9999])
    for hours in (8, 4.5, 1.2):
        order("bundle", MAIN, ordered_at=ago(hours=hours), orderer=REPEAT_BUYER)
    order("prepay", MAIN, ordered_at=ago(hours=6.5), settlement_code=PREPAY_BANK, prepay=True)
    order("rakuten_cancels", MAIN, ordered_at=ago(hours=3.8), payment_ng=True)
    order("cancel_deadline", MAIN, ordered_at=ago(days=13, hours=2))
    order("confirmed_later_in_rms", MAIN, ordered_at=ago(hours=2.8))
    order("customer_cancels", MAIN, ordered_at=ago(hours=1.9), settlement_code=COD)
    confirmed = order("confirmed_in_rms", MAIN, ordered_at=ago(hours=10))
    sim.set_progress(confirmed, 200)

    # --- API店 (API option: fees are written back to RMS) -----------------------------------
    for hours, extra in (
        (8.5, {}),
        (6.8, {"items": 2}),
        (5.5, {}),
        (4.4, {"settlement_code": COD}),
        (3.1, {}),
        (2.2, {"items": 2}),
        (1.1, {}),
        (0.5, {}),
        (28, {}),
    ):
        order("normal", API, ordered_at=ago(hours=hours), **extra)
    order("fee_unset", API, ordered_at=ago(hours=4.8), postage=-9999)
    order("fee_unset", API, ordered_at=ago(hours=1.4), postage=-9999, isolated_island=True)
    order(
        "fee_unset_packages",
        API,
        ordered_at=ago(hours=2.6),
        packages=3,
        postage=[-9999, 500, -9999],
    )
    for hours in (7, 2.9):
        order(
            "bundle", API, ordered_at=ago(hours=hours), orderer=GIFT_BUYER, recipient=GIFT_RECIPIENT
        )
    order("prepay", API, ordered_at=ago(hours=9.5), settlement_code=PREPAY_BANK, prepay=True)
    confirmed = order("confirmed_in_rms", API, ordered_at=ago(hours=12))
    sim.set_progress(confirmed, 300)
    return info


async def story(
    sim: RmsSimulator, info: ScenarioInfo, stop: asyncio.Event, sleep: Sleep, *, after: float = 25.0
) -> None:
    """Scripted events once the bot has read the orders: work done outside the bot."""
    steps: list[tuple[str, int, frozenset[int], str]] = [
        ("confirmed_later_in_rms", 200, frozenset({100}), "a colleague confirmed it in RMS"),
        ("customer_cancels", 900, frozenset({100, 200}), "the customer cancelled it"),
    ]
    for case, progress, when, why in steps:
        await sleep(after)
        if stop.is_set():
            return
        for number in info.orders.get(case, []):
            if sim.order(number)["orderProgress"] in when:  # staff may have got there first
                sim.set_progress(number, progress)
                logger.info("scenario: %s → %d (%s)", number, progress, why)


async def arrivals(
    sim: RmsSimulator,
    shops: Sequence[ScenarioShop],
    stop: asyncio.Event,
    sleep: Sleep,
    *,
    rng: random.Random | None = None,
    faults: bool = True,
    every: tuple[float, float] = (30.0, 60.0),
) -> list[str]:
    """Add a new order every ~30–60 s; rarely inject a QPS 403 or a short maintenance window.

    Returns the numbers added (when ``stop`` is set or the task is cancelled, it just ends).
    """
    rng = rng or random.Random()
    added: list[str] = []
    while not stop.is_set():
        await sleep(rng.uniform(*every))
        if stop.is_set():
            break
        shop = rng.choice(list(shops))
        roll = rng.random()
        kwargs: dict[str, Any] = {"items": rng.choice((1, 1, 1, 2, 3))}
        if roll < 0.12:
            kwargs["postage"] = -9999
        elif roll < 0.2:
            kwargs.update(packages=2, postage=[rng.choice((500, 700)), -9999])
        elif roll < 0.3:
            kwargs["orderer"] = REPEAT_BUYER  # the returning customer again: a bundle candidate
        elif roll < 0.4:
            kwargs["settlement_code"] = COD
        number = sim.add_order(shop.shop_id, **kwargs)
        added.append(number)
        logger.info("scenario: new order %s (%s)", number, shop.name)
        if faults:
            inject_fault(sim, rng)
    return added


def inject_fault(sim: RmsSimulator, rng: random.Random) -> str | None:
    """Rarely make RMS answer like a busy or maintained gateway; returns what was injected."""
    roll = rng.random()
    if roll < 0.08:
        sim.fail_next("*", status=403)  # Forbidden-Exceeded QPS Limitation
        logger.info("scenario: RMS will answer the next request with QPS 403")
        return "qps"
    if roll < 0.12:
        sim.fail_next("*", count=3, status=503)  # API In Maintenance
        logger.info("scenario: RMS is in maintenance for the next 3 requests")
        return "maintenance"
    return None


__all__ = [
    "API",
    "MAIN",
    "SHOPS",
    "SUMMARY_CHANNEL",
    "ScenarioInfo",
    "ScenarioShop",
    "arrivals",
    "inject_fault",
    "seed",
    "shops_toml",
    "story",
]

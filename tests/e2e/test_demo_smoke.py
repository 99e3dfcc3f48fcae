"""`make demo` in-process: the same builder the demo uses, on free ports, for a few seconds."""

from __future__ import annotations

import asyncio
import io
import json
from pathlib import Path

import aiohttp

from handlers.render import ids
from sandbox.demo import DemoConfig, banner, build, run
from sandbox.scenario import API, SHOPS

FLAG_CASES = ("fee_unset", "fee_unset_packages")


def _config(tmp_path: Path) -> DemoConfig:
    return DemoConfig(data_dir=tmp_path / "demo", slack_port=0, rms_port=0, bot_port=0)


def _card_for(messages, number):
    return next(
        (
            m
            for m in messages
            if number in m.text and "送料未設定" in json.dumps(m.blocks, ensure_ascii=False)
        ),
        None,
    )


async def test_demo_serves_the_console_and_health_and_posts_the_seeded_flag_cards(tmp_path):
    async with build(_config(tmp_path)) as demo:
        expected = {
            (shop.channel, n)
            for shop in SHOPS
            for case in FLAG_CASES
            for n in demo.info.of_shop(case, shop)
        }
        assert len(expected) == 6  # two -9999 orders and one multi-package order per shop
        stop = asyncio.Event()
        tasks = demo.background(stop, arrivals_on=False)
        try:
            await demo.slack.wait_until(
                lambda: all(_card_for(demo.slack.messages(ch), n) for ch, n in expected),
                timeout=20,
            )
            async with aiohttp.ClientSession() as http:
                async with http.get(demo.console_url) as page:
                    assert page.status == 200
                    assert 'data-testid="message-input"' in await page.text()
                async with http.get(demo.health_url) as health:
                    assert health.status == 200
                    body = await health.json()
                assert body["ok"] is True
            for shop in SHOPS:  # the jobs reached RMS for every shop (health says status only)
                assert (await demo.rt.core.store.shop_row(shop.key)).get("last_success")
        finally:
            stop.set()
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
        for channel, number in expected:
            card = _card_for(demo.slack.messages(channel), number)
            buttons = [e for b in card.blocks if b["type"] == "actions" for e in b["elements"]]
            assert any(b["action_id"] == ids.OPEN_FEE_MODAL for b in buttons), number
        # new orders alone are not announced (DESIGN §8); only the API shop (auto_confirm on)
        # confirmed by itself, the main shop (dry run) wrote nothing
        assert not any("新着" in m.text for s in SHOPS for m in demo.slack.messages(s.channel))
        assert all(n.startswith(f"{API.shop_id}-") for n, _ in demo.sim.confirm_log)
        text = banner(demo)
        assert demo.console_url in text and "/confirm all" in text and "/_sim/" in text


async def test_demo_run_stops_by_itself_and_closes_everything(tmp_path):
    out = io.StringIO()
    status = await asyncio.wait_for(run(_config(tmp_path), seconds=2, faults=False, out=out), 30)
    assert status == 0
    printed = out.getvalue()
    assert "http://127.0.0.1:" in printed
    assert printed.rstrip().endswith("stopped")
    assert (tmp_path / "demo" / "shops.toml").read_text(encoding="utf-8").count("[shops.") == 2


def test_scenario_covers_every_case_with_about_forty_orders():
    from datetime import UTC, datetime

    from sandbox.rms import RmsSimulator
    from sandbox.scenario import seed
    from tests.fakes import FakeClock

    clock = FakeClock(datetime(2026, 11, 28, 1, 0, tzinfo=UTC))
    sim = RmsSimulator(clock, requests_per_second=None)
    info = seed(sim, clock.now())
    assert 35 <= len(info.numbers) <= 45
    for case in (
        "normal",
        "fee_unset",
        "fee_unset_packages",
        "bundle",
        "prepay",
        "rakuten_cancels",
        "confirmed_in_rms",
        "cancel_deadline",
    ):
        assert info.orders.get(case), case
    assert {n.split("-")[0] for n in info.numbers} == {s.shop_id for s in SHOPS}
    multi = sim.order(info.first("fee_unset_packages"))["PackageModelList"]
    assert [p["postagePrice"] for p in multi].count(-9999) >= 1 and len(multi) >= 2
    assert all(sim.order(n)["orderProgress"] >= 200 for n in info.orders["confirmed_in_rms"])
    key = sim.state.keys[info.shop("main").license_key]
    assert 4 <= (key.expires - clock.now()).days <= 5


async def test_arrivals_keep_orders_coming_and_faults_stay_rare():
    import random
    from datetime import UTC, datetime

    from sandbox.rms import RmsSimulator
    from sandbox.scenario import arrivals, seed, story
    from tests.fakes import FakeClock

    clock = FakeClock(datetime(2026, 11, 28, 1, 0, tzinfo=UTC))
    sim = RmsSimulator(clock, requests_per_second=None)
    info = seed(sim, clock.now())
    stop, waits = asyncio.Event(), []

    async def sleep(seconds: float) -> None:
        waits.append(seconds)
        if len(waits) > 50:
            stop.set()

    added = await arrivals(sim, SHOPS, stop, sleep, rng=random.Random(1))
    assert len(added) == 50 and all(30 <= w <= 60 for w in waits)
    assert {n.split("-")[0] for n in added} == {s.shop_id for s in SHOPS}
    assert 0 < len(sim.faults.entries) < 15
    assert {f.status for f in sim.faults.entries} <= {403, 503}

    async def no_wait(_seconds: float) -> None:
        return None

    await story(sim, info, asyncio.Event(), no_wait)
    assert sim.order(info.first("confirmed_later_in_rms"))["orderProgress"] == 200
    assert sim.order(info.first("customer_cancels"))["orderProgress"] == 900

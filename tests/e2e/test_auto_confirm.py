"""Guarded auto-confirm end to end against the RMS simulator: the clean orders confirmed once by
the request worker, the held ones never in a confirmOrder, dry runs and pauses writing nothing,
fee proposals written once — across crashes and restarts."""

from __future__ import annotations

import math
import random
from typing import Any

from core.auto import AUTO_ACTOR
from core.intake import intake
from core.model import Stage
from core.store.auto import shop_decisions
from tests.stack import bot_stack

SHOPS = """
[shops.main]
name = "メイン店"
service_secret = "SP-main-secret"
license_key = "SL-main-key"
api_option = false
channel = "C0SHOP1"
auto_confirm = "{main}"

[shops.main.holds]
cod_over = 10000

[shops.api]
name = "API店"
service_secret = "SP-api-secret"
license_key = "SL-api-key"
api_option = true
channel = "C0SHOP2"
auto_confirm = "{api}"
auto_fee = true

[shops.api.fees]
by_region = {{ "関東" = 600 }}
default = 800
remote_island = 1000
"""
ADMIN = "U0ADMIN"


def shops(main: str = "on", api: str = "on") -> str:
    return SHOPS.format(main=main, api=api)


def confirmed_batches(s: Any) -> list[list[str]]:
    return [c.body["orderNumberList"] for c in s.sim.calls_to("confirmOrder")]


def add_mixed(s: Any, rng: random.Random, n: int) -> tuple[set[str], set[str]]:
    """n orders in the main shop, about a third of them odd; returns (clean, odd)."""
    clean: set[str] = set()
    odd: set[str] = set()
    for _ in range(n):
        kind = rng.choice(["clean"] * 6 + ["island", "fee", "remarks", "cod"])
        if kind == "island":
            odd.add(s.add_order(isolated_island=True))
        elif kind == "fee":
            odd.add(s.add_order(postage=-9999))
        elif kind == "cod":
            odd.add(s.add_order(settlement_code=2, items=3))
        else:
            number = s.add_order()
            if kind == "remarks":
                s.sim.state.get(number).model["remarks"] += "ギフト包装をお願いします"
                odd.add(number)
            else:
                clean.add(number)
    return clean, odd


async def test_300_mixed_orders_clean_ones_confirmed_once_held_ones_never(tmp_path):
    rng = random.Random(14)
    async with bot_stack(tmp_path, shops_toml=shops(api="off"), admins=ADMIN) as s:
        all_clean: set[str] = set()
        all_odd: set[str] = set()
        for _cycle in range(6):  # 300 orders arriving over six intake cycles
            before = len(confirmed_batches(s))
            clean, odd = add_mixed(s, rng, 50)
            # COD orders over 10,000 are held; cheaper ones are clean
            for number in [
                n
                for n in odd
                if s.sim.state.get(n).model["SettlementModel"]["settlementMethodCode"] == 2
            ]:
                if s.sim.state.get(number).model["totalPrice"] <= 10_000:
                    odd.discard(number)
                    clean.add(number)
            s.clock.advance(seconds=300)
            await s.rt.jobs.cycle()  # intake decides and stores; the worker confirms
            batches = confirmed_batches(s)[before:]
            assert len(batches) == math.ceil(len(clean) / 100)  # one call for this arrival
            assert {n for b in batches for n in b} == clean
            all_clean |= clean
            all_odd |= odd
        confirmed = [n for n, _at in s.sim.confirm_log]
        assert sorted(confirmed) == sorted(all_clean)  # each clean order exactly once
        assert not all_odd & {n for b in confirmed_batches(s) for n in b}
        async with s.rt.core.store.read() as r:
            held = {d.number for d in await shop_decisions(r, "main", ["held"])}
        assert held == all_odd
        intents = await s.rt.core.store.count_intents("main")
        assert sum(intents.values()) == len(all_clean)
        audit = await s.rt.core.store.audit_entries("main")
        assert any(e["actor"] == AUTO_ACTOR and e["action"] == "confirm" for e in audit)
        await s.rt.jobs.cycle()  # nothing new: nothing sent again
        assert len(s.sim.confirm_log) == len(all_clean)


async def test_dry_run_writes_nothing_to_rms_and_says_what_it_would_do(tmp_path):
    async with bot_stack(tmp_path, shops_toml=shops(main="dry_run", api="off")) as s:
        clean = s.add_order()
        held = s.add_order(isolated_island=True)
        await s.rt.jobs.cycle()
        assert s.sim.calls_to("confirmOrder") == []
        assert s.sim.calls_to("updateOrderSender") == []
        posts = " ".join(m.text + str(m.blocks) for m in s.slack.messages("C0SHOP1"))
        assert clean in posts and held in posts and "ドライラン" in posts
        assert (await s.rt.core.store.get_order(clean)).stage is Stage.AWAITING


async def test_pause_stops_automatic_confirmation_within_one_cycle(tmp_path):
    async with bot_stack(tmp_path, shops_toml=shops(), admins=ADMIN) as s:
        first = s.add_order()
        await s.rt.jobs.cycle()
        assert [n for n, _ in s.sim.confirm_log] == [first]
        result = await s.slack.send_command("/rms", "auto pause", channel="C0SHOP1", user=ADMIN)
        assert result.status == 200
        second = s.add_order()
        s.clock.advance(seconds=300)
        await s.rt.jobs.cycle()
        assert [n for n, _ in s.sim.confirm_log] == [first]
        await s.crash()  # the pause is stored, not remembered
        await s.restart()
        s.clock.advance(seconds=300)
        await s.rt.jobs.cycle()
        assert [n for n, _ in s.sim.confirm_log] == [first]
        await s.slack.send_command("/rms", "auto resume", channel="C0SHOP1", user=ADMIN)
        s.clock.advance(seconds=300)
        await s.rt.jobs.cycle()
        assert [n for n, _ in s.sim.confirm_log] == [first, second]


async def test_a_request_stored_before_a_pause_is_not_carried_out(tmp_path):
    async with bot_stack(tmp_path, shops_toml=shops(), admins=ADMIN) as s:
        number = s.add_order()
        await intake(s.rt.core, "main")  # decided and stored; the worker has not run
        await s.slack.send_command("/rms", "auto pause", channel="C0SHOP1", user=ADMIN)
        await s.settle()
        assert s.sim.confirm_log == []
        await s.slack.send_command("/rms", "auto resume", channel="C0SHOP1", user=ADMIN)
        s.clock.advance(seconds=300)
        await s.rt.jobs.cycle()  # decided again after the resume
        assert [n for n, _ in s.sim.confirm_log] == [number]


async def test_a_crash_after_intake_decided_confirms_once_after_the_restart(tmp_path):
    async with bot_stack(tmp_path, shops_toml=shops()) as s:
        numbers = [s.add_order() for _ in range(5)]
        await intake(s.rt.core, "main")  # the decision and its request: committed together
        await s.crash()
        await s.restart()
        await s.settle()
        s.clock.advance(seconds=300)
        await s.rt.jobs.cycle()
        assert sorted(n for n, _ in s.sim.confirm_log) == sorted(numbers)
        assert len(s.sim.calls_to("confirmOrder")) == 1


async def test_a_crash_mid_confirmation_never_confirms_twice(tmp_path):
    async with bot_stack(tmp_path, shops_toml=shops()) as s:
        numbers = [s.add_order() for _ in range(3)]
        await intake(s.rt.core, "main")
        from core.store.requests import open_requests

        async with s.rt.core.store.read() as r:
            (request,) = await open_requests(r)
        await s.rt.worker._execute(request)  # confirmed in RMS … then the process dies
        await s.crash()
        await s.restart()
        await s.settle()
        s.clock.advance(seconds=300)
        await s.rt.jobs.cycle()
        assert sorted(n for n, _ in s.sim.confirm_log) == sorted(numbers)


async def test_a_fee_proposal_is_written_with_update_order_sender_and_confirmed_once(tmp_path):
    async with bot_stack(tmp_path, shops_toml=shops(main="off")) as s:
        number = s.add_order("api", postage=-9999)
        await s.rt.jobs.cycle()
        await s.settle()
        updates = s.sim.calls_to("updateOrderSender")
        assert len(updates) == 1
        postage = updates[0].body["PackageModelList"][0]["postagePrice"]
        assert postage in (600, 800)
        assert [n for n, _ in s.sim.confirm_log] == [number]
        await s.crash()
        await s.restart()
        s.clock.advance(seconds=300)
        await s.rt.jobs.cycle()
        assert len(s.sim.calls_to("updateOrderSender")) == 1
        assert [n for n, _ in s.sim.confirm_log] == [number]


async def test_an_order_the_table_cannot_decide_stays_held(tmp_path):
    toml = shops(main="off").replace("default = 800\n", "").replace('"関東" = 600', '"北海道" = 1')
    async with bot_stack(tmp_path, shops_toml=toml) as s:
        number = s.add_order("api", postage=-9999)
        s.sim.state.get(number).model["PackageModelList"][0]["SenderModel"]["prefecture"] = "大阪府"
        await s.rt.jobs.cycle()
        assert s.sim.calls_to("updateOrderSender") == []
        assert s.sim.confirm_log == []
        async with s.rt.core.store.read() as r:
            assert [d.number for d in await shop_decisions(r, "api", ["held"])] == [number]


async def test_a_held_order_is_never_auto_confirmed_later(tmp_path):
    async with bot_stack(tmp_path, shops_toml=shops()) as s:
        number = s.add_order(isolated_island=True)
        await s.rt.jobs.cycle()
        # RMS's flag goes away (e.g. the address was corrected): still held until a person acts
        model = s.sim.state.get(number).model
        model["isolatedIslandFlag"] = 0
        model["PackageModelList"][0]["SenderModel"]["isolatedIslandFlag"] = 0
        for _ in range(3):
            s.clock.advance(seconds=300)
            await s.rt.jobs.cycle()
        assert s.sim.confirm_log == []


async def test_the_watchdog_alerts_once_when_rms_keeps_failing_and_once_on_recovery(tmp_path):
    async with bot_stack(tmp_path, shops_toml=shops(main="off", api="off")) as s:
        await s.rt.jobs.cycle()  # a success to measure from
        s.sim.set_maintenance(True)
        for _ in range(8):  # 40 minutes of failing intake
            s.clock.advance(seconds=300)
            await s.rt.jobs.cycle()
        s.sim.set_maintenance(False)
        for _ in range(2):
            s.clock.advance(seconds=300)
            await s.rt.jobs.cycle()
        await s.settle()
        texts = [m.text for m in s.slack.messages("C0SHOP1")]
        assert len([t for t in texts if "すべて失敗" in t]) == 1
        assert len([t for t in texts if "再び成功" in t]) == 1


async def test_switching_on_decides_stored_orders_once_and_leaves_flagged_ones_to_a_person(
    tmp_path,
):
    from dataclasses import replace

    from core.events import FlagReason

    async with bot_stack(tmp_path, shops_toml=shops(main="off", api="off"), admins=ADMIN) as s:
        waiting, flagged = s.add_order(), s.add_order()
        await s.rt.jobs.cycle()
        async with s.rt.core.store.tx() as tx:  # RMS once answered it with an unknown code
            record = await tx.get_order(flagged)
            odd = replace(
                record, stage=Stage.NEEDS_ACTION, flag_reason=FlagReason.UNKNOWN_ERROR.value
            )
            await tx.save_order(odd, s.clock.now())
        await s.slack.send_command("/rms", "auto main on", channel="C0SHOP1", user=ADMIN)
        s.clock.advance(seconds=300)
        await s.rt.jobs.cycle()
        assert [n for n, _ in s.sim.confirm_log] == [waiting]
        from core.auto import AutoMode, undecided

        assert await undecided(s.rt.core, "main", AutoMode.ON) == []  # not read again for it
        s.clock.advance(seconds=300)
        await s.rt.jobs.cycle()
        assert [n for n, _ in s.sim.confirm_log] == [waiting]


async def test_a_crash_after_an_auto_fee_was_decided_writes_it_once_after_the_restart(tmp_path):
    async with bot_stack(tmp_path, shops_toml=shops(main="off")) as s:
        number = s.add_order("api", postage=-9999)
        await intake(s.rt.core, "api")  # decided: the fee request is stored, nothing sent yet
        assert s.sim.calls_to("updateOrderSender") == []
        await s.crash()
        await s.restart()
        await s.settle()
        s.clock.advance(seconds=300)
        await s.rt.jobs.cycle()
        assert len(s.sim.calls_to("updateOrderSender")) == 1
        assert [n for n, _ in s.sim.confirm_log] == [number]
        await s.settle()
        cards = [m for m in s.slack.messages("C0SHOP2") if number in m.text and "送料" in m.text]
        assert len(cards) == 1 and "自動確認" in cards[0].text  # announced on its card, once


async def test_an_automatic_fee_rms_refuses_is_held_for_a_person(tmp_path):
    async with bot_stack(tmp_path, shops_toml=shops(main="off")) as s:
        number = s.add_order("api", postage=-9999)
        body = {
            "MessageModelList": [
                {
                    "messageType": "ERROR",
                    "messageCode": "ORDER_EXT_API_UPDATE_ORDERSENDER_ERROR_136",
                    "message": "代引料の設定が必須となります。",
                    "orderNumber": number,
                }
            ]
        }
        s.sim.fail_next("updateOrderSender", status=400, body=body)
        await s.rt.jobs.cycle()
        await s.settle()
        assert s.sim.confirm_log == []
        result = await s.slack.send_command("/rms", "held api", channel="C0SHOP2")
        assert number in str(result.json)

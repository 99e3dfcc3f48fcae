"""The hold queue in Slack: one held card per order with its reasons and buttons, 保留のまま with a
note, 承認して確認 through the stored-request path, /rms held, /rms auto, App Home, summary."""

from __future__ import annotations

import json

from handlers.render import ids
from handlers.render.held import KEEP_BLOCK, KEEP_HOLDING, KEEP_INPUT
from tests.e2e.test_auto_confirm import ADMIN, shops
from tests.stack import bot_stack, button


def said(result):
    return json.dumps(result.json, ensure_ascii=False)


def card_of(s, number):
    found = [m for m in s.slack.messages("C0SHOP1") if number in m.text and "保留" in m.text]
    assert len(found) == 1, [m.text for m in s.slack.messages("C0SHOP1")]
    return found[0]


async def test_a_held_order_gets_one_card_with_reasons_and_a_person_confirms_it(tmp_path):
    async with bot_stack(tmp_path, shops_toml=shops()) as s:
        number = s.add_order(isolated_island=True)
        await s.rt.jobs.cycle()
        await s.settle()
        card = card_of(s, number)
        text = str(card.blocks)
        assert "離島あて" in text
        for action in (ids.CONFIRM_ORDER, KEEP_HOLDING, ids.REFETCH_ORDER):
            button(card.blocks, action)
        assert s.sim.confirm_log == []
        await s.slack.click(
            channel="C0SHOP1",
            message_ts=card.ts,
            action_id=ids.CONFIRM_ORDER,
            value=f"main|{number}",
        )
        await s.settle()
        assert [n for n, _ in s.sim.confirm_log] == [number]
        audit = await s.rt.core.store.audit_entries("main")
        assert any(e["actor"] == "U0TANAKA" and e["order_number"] == number for e in audit)


async def test_keep_holding_records_a_note_on_the_card(tmp_path):
    async with bot_stack(tmp_path, shops_toml=shops()) as s:
        number = s.add_order(isolated_island=True)
        await s.rt.jobs.cycle()
        await s.settle()
        card = card_of(s, number)
        await s.slack.click(
            channel="C0SHOP1", message_ts=card.ts, action_id=KEEP_HOLDING, value=f"main|{number}"
        )
        await s.slack.wait_for("views.open")
        modal = s.slack.open_modal("U0TANAKA")
        assert modal is not None
        note = {KEEP_BLOCK: {KEEP_INPUT: {"type": "plain_text_input", "value": "住所確認中"}}}
        assert (await s.slack.submit_view(modal.id, note)).status == 200
        await s.settle()
        assert "住所確認中" in str(card_of(s, number).blocks)
        for _ in range(2):
            s.clock.advance(seconds=300)
            await s.rt.jobs.cycle()
        assert s.sim.confirm_log == []


async def test_fee_modal_is_prefilled_with_the_proposal_and_says_how(tmp_path):
    async with bot_stack(tmp_path, shops_toml=shops(api="dry_run")) as s:
        number = s.add_order("api", postage=-9999)
        await s.rt.jobs.cycle()
        await s.settle()
        card = next(m for m in s.slack.messages("C0SHOP2") if number in str(m.blocks))
        await s.slack.click(
            channel="C0SHOP2",
            message_ts=card.ts,
            action_id=ids.OPEN_FEE_MODAL,
            value=f"api|{number}",
        )
        await s.slack.wait_for("views.open")
        modal = s.slack.open_modal("U0TANAKA")
        assert modal is not None
        field = next(b for b in modal.view["blocks"] if b["type"] == "input")
        assert field["element"]["initial_value"] in ("600", "800")
        assert "送料の提案" in str(modal.view["blocks"])


async def test_rms_held_lists_held_orders_oldest_first_with_reasons_and_deadline(tmp_path):
    async with bot_stack(tmp_path, shops_toml=shops()) as s:
        s.clock.advance(seconds=-3600)
        old = s.add_order(isolated_island=True)
        s.clock.advance(seconds=3600)
        new = s.add_order(settlement_code=2, items=3)
        await s.rt.jobs.cycle()
        result = await s.slack.send_command("/rms", "held main", channel="C0SHOP1")
        body = json.dumps(result.json, ensure_ascii=False)
        assert old in body and body.index(old) < body.index(new)
        assert "確認期限" in body and "離島あて" in body


async def test_auto_mode_is_for_admins_audited_announced_and_shown(tmp_path):
    async with bot_stack(tmp_path, shops_toml=shops(main="off"), admins=ADMIN) as s:
        refused = await s.slack.send_command("/rms", "auto main on", channel="C0SHOP1")
        assert "オン" not in said(refused)
        ok = await s.slack.send_command("/rms", "auto main dry-run", channel="C0SHOP1", user=ADMIN)
        assert "ドライラン" in said(ok)
        await s.settle()
        assert any("ドライラン" in m.text for m in s.slack.messages("C0SHOP1"))
        audit = await s.rt.core.store.audit_entries("main")
        assert any(e["actor"] == ADMIN and e["action"] == "auto_mode" for e in audit)
        assert any(e["actor"] == "U0TANAKA" and e["outcome"] == "denied" for e in audit)
        bad = await s.slack.send_command("/rms", "auto main sometimes", channel="C0SHOP1")
        assert "/rms auto" in said(bad)
        await s.slack.send_command("/rms", "auto pause", channel="C0SHOP1", user=ADMIN)
        home = await s.rt.deps.home(ADMIN)
        assert "一時停止中" in str(home["blocks"][:3])
        await s.slack.send_command("/rms", "auto resume", channel="C0SHOP1", user=ADMIN)
        assert "一時停止中" not in str((await s.rt.deps.home(ADMIN))["blocks"])


async def test_the_summary_counts_automation(tmp_path):
    async with bot_stack(tmp_path, shops_toml=shops()) as s:
        s.add_order()
        s.add_order(isolated_island=True)
        s.add_order("api", postage=-9999)
        await s.rt.jobs.cycle()
        await s.settle()
        from core.summary import build_summary

        now = s.clock.now()
        summary = await build_summary(
            s.rt.core.store, s.rt.core.shops, now.date(), now.tzinfo, now, remember=False
        )
        main = summary.shops[0]
        assert dict(main.confirmed_by).get("auto") == 1
        assert main.held_orders == 1 and dict(main.held)["remote_island"] == 1
        assert summary.total.auto_fee == 1
        from handlers.render.summary import shop_fields

        assert "自動確認 1件" in " ".join(shop_fields(main, now, "ja"))

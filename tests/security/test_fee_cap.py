"""A fee typed in Slack is bounded and confirmed before anything reaches RMS (real bolt app)."""

from __future__ import annotations

import json
import re

from core.intake import intake
from core.model import Stage
from handlers.render import ids
from tests.stack import Stack, bot_stack


def fee_values(modal, typed: str) -> dict:
    """The state of the fee form with ``typed`` in every package's field."""
    blocks = [b["block_id"] for b in modal.view["blocks"] if b["type"] == "input"]
    return {b: {ids.FEE_INPUT: {"type": "plain_text_input", "value": typed}} for b in blocks}


async def open_fee_form(s: Stack, shop: str, channel: str, number: str):
    await intake(s.rt.core, shop)
    await s.rt.deps.publisher.drain()
    card = next(m for m in s.slack.messages(channel) if number in m.text + str(m.blocks))
    await s.slack.click(
        channel=channel, message_ts=card.ts, action_id=ids.OPEN_FEE_MODAL, value=f"{shop}|{number}"
    )
    await s.slack.wait_until(lambda: s.slack.open_modal("U0TANAKA") is not None)
    modal = s.slack.open_modal("U0TANAKA")
    assert modal is not None and modal.callback_id == ids.FEE_MODAL
    return modal


def view_text(modal) -> str:
    return json.dumps(modal.view, ensure_ascii=False)


async def test_a_fee_above_the_cap_is_an_error_on_its_field_and_never_reaches_rms(tmp_path):
    async with bot_stack(tmp_path) as s:
        number = s.add_order("api", postage=-9999)
        modal = await open_fee_form(s, "api", "C0SHOP2", number)
        (block,) = [b["block_id"] for b in modal.view["blocks"] if b["type"] == "input"]
        for typed, words in [
            ("20001", ["20,000円", "「20001」"]),
            ("２０，００１円", ["20,000円"]),
            ("-800", ["マイナス"]),
            ("800.5", ["小数"]),
            ("八百", ["「八百」"]),
            ("", ["入力してください"]),
        ]:
            result = await s.slack.submit_view(modal.id, fee_values(modal, typed))
            assert result.status == 200
            assert result.json["response_action"] == "errors", typed
            assert list(result.json["errors"]) == [block]
            assert all(w in result.json["errors"][block] for w in words), result.json
            assert s.slack.open_modal("U0TANAKA") is modal and modal.errors  # still open
        await s.settle()
        assert s.sim.calls_to("updateOrderSender") == []
        assert s.sim.calls_to("confirmOrder") == []
        assert (await s.rt.core.store.get_order(number)).stage is Stage.NEEDS_ACTION


async def test_the_fee_is_confirmed_with_the_new_total_before_rms_is_written(tmp_path):
    async with bot_stack(tmp_path) as s:
        number = s.add_order("api", postage=-9999)
        modal = await open_fee_form(s, "api", "C0SHOP2", number)
        first = await s.slack.submit_view(modal.id, fee_values(modal, "１，２００円"))
        assert first.json["response_action"] == "update"
        review = s.slack.open_modal("U0TANAKA")
        text = view_text(review)
        assert "送料 1,200円" in text and "商品合計 (税込)" in text
        assert "RMSに送料を書き込み、注文確認通知を送信します" in text
        assert review.view["submit"]["text"] == "確定"
        shown = int(re.search(r"請求額: ([0-9,]+)円", text).group(1).replace(",", ""))
        await s.settle()
        assert s.sim.calls_to("updateOrderSender") == []  # nothing written before 確定

        second = await s.slack.submit_view(review.id, {})
        assert second.status == 200 and not second.json
        await s.settle()
        assert len(s.sim.calls_to("updateOrderSender")) == 1
        assert [n for n, _ in s.sim.confirm_log] == [number]
        model = s.sim.order(number)
        assert [p["postagePrice"] for p in model["PackageModelList"]] == [1200]
        assert model["requestPrice"] == shown  # the total we showed is the one RMS computed


async def test_without_the_api_option_the_confirmation_says_record_only(tmp_path):
    async with bot_stack(tmp_path) as s:
        number = s.add_order("main", postage=-9999)
        modal = await open_fee_form(s, "main", "C0SHOP1", number)
        await s.slack.submit_view(modal.id, fee_values(modal, "800"))
        review = s.slack.open_modal("U0TANAKA")
        assert "送料を記録します（RMSへの書き込みはしません）。RMSで送料を修正してください" in (
            view_text(review)
        )
        await s.slack.submit_view(review.id, {})
        await s.settle()
        assert s.sim.calls_to("updateOrderSender") == []
        record = await s.rt.core.store.get_order(number)
        (package,) = record.snapshot.packages
        assert dict(record.intended_fees) == {package.basket_id: 800}


async def test_a_forged_confirmation_above_the_cap_is_sent_back_to_the_form(tmp_path):
    async with bot_stack(tmp_path) as s:
        number = s.add_order("api", postage=-9999)
        modal = await open_fee_form(s, "api", "C0SHOP2", number)
        await s.slack.submit_view(modal.id, fee_values(modal, "800"))
        review = s.slack.open_modal("U0TANAKA")
        meta = review.view["private_metadata"]
        review.view["private_metadata"] = re.sub(r"=800$", "=500000", meta)  # signed, but forged
        result = await s.slack.submit_view(review.id, {})
        assert result.json["response_action"] == "update"
        assert s.slack.open_modal("U0TANAKA").view["submit"]["text"] == "次へ"
        await s.settle()
        assert s.sim.calls_to("updateOrderSender") == []


async def test_the_cap_is_configurable(tmp_path):
    async with bot_stack(tmp_path, max_postage_yen=30_000) as s:
        number = s.add_order("api", postage=-9999)
        modal = await open_fee_form(s, "api", "C0SHOP2", number)
        too_high = await s.slack.submit_view(modal.id, fee_values(modal, "30001"))
        assert "30,000円" in json.dumps(too_high.json, ensure_ascii=False)
        ok = await s.slack.submit_view(modal.id, fee_values(modal, "25,000"))
        assert ok.json["response_action"] == "update"
        assert "送料 25,000円" in view_text(s.slack.open_modal("U0TANAKA"))

"""Signed Slack requests into the real bolt app; RMS is the simulator; Slack is the emulator."""

from __future__ import annotations

import time

from core.intake import intake
from core.model import Stage
from core.poller import poll
from handlers.render import ids
from tests.stack import bot_stack, button


def said(result):
    """What the ack showed the user (JSON acks decoded)."""
    import json

    return json.dumps(result.json, ensure_ascii=False) if result.json else result.body


def texts(messages):
    return "\n".join(m.text + " " + str(m.blocks) for m in messages)


async def test_confirm_command_is_acked_fast_and_confirms_once(tmp_path):
    async with bot_stack(tmp_path) as s:
        number = s.add_order()
        await intake(s.rt.core, "main")
        started = time.monotonic()
        result = await s.slack.send_command("/confirm", number, channel="C0SHOP1")
        assert result.status == 200
        assert time.monotonic() - started < 3
        await s.settle()
        assert len(s.sim.confirm_log) == 1
        posted = texts(s.slack.messages("C0SHOP1"))
        assert number in posted
        assert "楽天処理中" in posted
        # a second /confirm of the same order never reaches RMS and says who and when
        await s.slack.send_command("/confirm", number, user="U0SATO", channel="C0SHOP1")
        await s.settle()
        assert len(s.sim.calls_to("confirmOrder")) == 1
        assert "<@U0TANAKA>" in texts(s.slack.messages("C0SHOP1"))
        # later, RMS finishes; the digest says 楽天処理済
        s.clock.advance(minutes=31)
        await poll(s.rt.core, "main")
        await s.rt.deps.publisher.drain()
        assert "楽天処理済" in texts(s.slack.messages("C0SHOP1"))
        assert (await s.rt.core.store.get_order(number)).stage is Stage.PROCESSED


async def test_bad_order_number_is_refused_by_name_and_nothing_reaches_rms(tmp_path):
    async with bot_stack(tmp_path) as s:
        result = await s.slack.send_command("/confirm", "12345-2026-1 123456-20261332-0000000001")
        assert result.status == 200
        body = result.body
        assert "12345-2026-1" in body
        assert "123456-20261332-0000000001" in body
        assert s.sim.calls_to("confirmOrder") == []
        assert s.sim.calls_to("getOrder") == []


async def test_forged_stale_and_missing_signatures_get_401(tmp_path):
    from aiohttp import ClientSession

    from sandbox.slack.payloads import sign

    async with bot_stack(tmp_path) as s:
        body = b"command=%2Fconfirm&text=all&user_id=U0TANAKA&channel_id=C0SHOP1&team_id=T0"
        now = int(time.time())
        cases = [sign("wrong-secret", body, now), sign(s.slack.signing_secret, body, now - 600), {}]
        async with ClientSession() as session:
            for headers in cases:
                headers = {**headers, "Content-Type": "application/x-www-form-urlencoded"}
                async with session.post(s.slack.bot_url, data=body, headers=headers) as resp:
                    assert resp.status == 401
        assert s.sim.calls == []


async def test_unauthorized_user_is_refused_and_audited(tmp_path):
    async with bot_stack(tmp_path, confirmers="U0SUZUKI") as s:
        number = s.add_order()
        result = await s.slack.send_command("/confirm", number, user="U0TANAKA")
        assert result.status == 200
        assert "権限" in said(result)
        await s.settle()
        assert s.sim.calls_to("confirmOrder") == []
        audit = await s.rt.core.store.audit_entries("main")
        assert [(a["actor"], a["outcome"]) for a in audit] == [("U0TANAKA", "denied")]


async def test_user_group_members_may_confirm(tmp_path):
    async with bot_stack(tmp_path, confirmers="S0MANAGERS") as s:
        number = s.add_order()
        await s.slack.send_command("/confirm", number, user="U0SUZUKI")
        await s.settle()
        assert len(s.sim.confirm_log) == 1


async def test_confirm_all_asks_first_then_runs_once(tmp_path):
    async with bot_stack(tmp_path) as s:
        for _ in range(3):
            s.add_order()
        s.add_order(postage=-9999)
        await intake(s.rt.core, "main")
        result = await s.slack.send_command("/confirm", "all", channel="C0SHOP1")
        assert "3件" in said(result)
        assert "送料未設定" in said(result)
        prompt = s.slack.ephemerals("U0TANAKA")[-1]
        confirm_all = button(prompt.blocks, ids.CONFIRM_ALL)
        for _ in range(2):  # a double click
            await s.slack.click(
                channel="C0SHOP1",
                message_ts=prompt.ts,
                action_id=ids.CONFIRM_ALL,
                value=confirm_all["value"],
            )
        await s.settle()
        assert len(s.sim.calls_to("confirmOrder")) == 1
        assert len(s.sim.confirm_log) == 3


async def test_fee_modal_resolves_unset_fee_orders_on_both_api_option_paths(tmp_path):
    async with bot_stack(tmp_path) as s:
        with_api = s.add_order("api", postage=-9999)
        without = s.add_order("main", postage=-9999)
        await intake(s.rt.core, "api")
        await intake(s.rt.core, "main")
        await s.rt.deps.publisher.drain()
        for opened, (shop, channel, number) in enumerate(
            (("api", "C0SHOP2", with_api), ("main", "C0SHOP1", without)), start=1
        ):
            card = next(m for m in s.slack.messages(channel) if number in m.text + str(m.blocks))
            assert "送料未設定" in str(card.blocks)
            await s.slack.click(
                channel=channel,
                message_ts=card.ts,
                action_id=ids.OPEN_FEE_MODAL,
                value=f"{shop}|{number}",
            )
            await s.slack.wait_for("views.open", opened)  # the modal opens after the ack
            modal = s.slack.open_modal("U0TANAKA")
            assert modal is not None
            block = next(b["block_id"] for b in modal.view["blocks"] if b["type"] == "input")
            bad = await s.slack.submit_view(
                modal.id, {block: {ids.FEE_INPUT: {"type": "plain_text_input", "value": "abc"}}}
            )
            assert "errors" in said(bad)
            review = await s.slack.submit_view(
                modal.id, {block: {ids.FEE_INPUT: {"type": "plain_text_input", "value": "800"}}}
            )
            assert review.json["response_action"] == "update"  # the new total, then 確定
            ok = await s.slack.submit_view(modal.id, {})
            assert ok.status == 200
            await s.settle()
        assert len(s.sim.sender_updates) == 1  # only the API-option shop writes to RMS
        assert [n for n, _ in s.sim.confirm_log] == [with_api]
        assert (await s.rt.core.store.get_order(with_api)).stage is Stage.PROCESSING
        main_texts = texts(s.slack.messages("C0SHOP1"))
        assert "RMS" in main_texts
        assert (await s.rt.core.store.get_order(without)).intended_fees


async def test_every_error_class_produces_a_remediation_card(tmp_path):
    cases = {401: "認証エラー", 503: "メンテナンス", 400: None}
    async with bot_stack(tmp_path) as s:
        s.rt.core.retry = type(s.rt.core.retry)(attempts=1)
        for status, words in cases.items():
            number = s.add_order()
            await intake(s.rt.core, "main")
            s.sim.fail_next("confirmOrder", status=status)
            await s.slack.send_command("/confirm", number)
            await s.settle()
            if words:
                assert words in texts(s.slack.messages("C0SHOP1")), status


async def test_healthz_reports_status(tmp_path):
    async with bot_stack(tmp_path) as s:
        await intake(s.rt.core, "main")
        from aiohttp import ClientSession

        url = s.slack.bot_url.replace("/slack/events", "/healthz")
        async with ClientSession() as session, session.get(url) as response:
            body = await response.json()
        assert response.status == 200
        assert body == {"ok": True, "mode": "http"}  # what it must not say: tests/security


async def test_confirm_typed_where_the_bot_cannot_post_reports_in_the_shop_channel(tmp_path):
    async with bot_stack(tmp_path) as s:
        number = s.add_order()
        await intake(s.rt.core, "main")
        await s.slack.send_command("/confirm", f"{number} main", channel="D0SOMEDM")
        await s.settle()
        assert len(s.sim.confirm_log) == 1
        assert number in texts(s.slack.messages("C0SHOP1"))

"""Issue 12: living cards, a quiet channel and commands that answer once, truthfully."""

from __future__ import annotations

import json

from core.intake import intake
from core.model import Stage
from core.poller import poll
from handlers.render import ids
from tests.stack import bot_stack

USER = "U0TANAKA"


def shown(message) -> str:
    return message.text + " " + json.dumps(message.blocks, ensure_ascii=False)


def action_ids(message) -> set[str]:
    return {e["action_id"] for b in message.blocks if b["type"] == "actions" for e in b["elements"]}


def answer(result) -> str:
    """What an ack showed (JSON acks decoded)."""
    return json.dumps(result.json, ensure_ascii=False) if result.json else result.body


def posts(slack, channel: str) -> int:
    return sum(1 for c in slack.calls_to("chat.postMessage") if c.params.get("channel") == channel)


def card_of(slack, channel: str, number: str):
    return next(m for m in slack.messages(channel) if number in shown(m))


async def approve_fee(s, channel: str, shop: str, number: str, fee: str, user: str = USER) -> None:
    modal = await _open_fee_modal(s, channel, shop, number, user)
    values = {
        b["block_id"]: {b["element"]["action_id"]: {"type": "plain_text_input", "value": fee}}
        for b in modal.view["blocks"]
        if b["type"] == "input"
    }
    await s.slack.submit_view(modal.id, values, user=user)
    await s.slack.submit_view(modal.id, {}, user=user)
    await s.settle()


async def click(s, channel: str, message, action_id: str, user: str = USER) -> None:
    element = next(
        e
        for b in message.blocks
        if b["type"] == "actions"
        for e in b["elements"]
        if e["action_id"] == action_id
    )
    await s.slack.click(
        channel=channel,
        message_ts=message.ts,
        action_id=action_id,
        value=element.get("value", ""),
        user=user,
    )
    await s.settle()


async def test_a_no_api_card_lives_from_unset_fee_to_processed_with_a_one_click_confirm(tmp_path):
    async with bot_stack(tmp_path) as s:
        number = s.add_order("main", postage=-9999)
        await intake(s.rt.core, "main")
        await s.rt.deps.publisher.drain()
        card = card_of(s.slack, "C0SHOP1", number)
        assert ids.OPEN_FEE_MODAL in action_ids(card)
        await approve_fee(s, "C0SHOP1", "main", number, "800")
        card = card_of(s.slack, "C0SHOP1", number)
        assert f"<@{USER}>" in shown(card) and "800" in shown(card)
        # fixed in RMS, then RMSステータスを取得 on the card: the card now offers 注文確認
        s.sim.set_postage(number, 0, 800)
        await click(s, "C0SHOP1", card, ids.REFETCH_ORDER)
        card = card_of(s.slack, "C0SHOP1", number)
        assert ids.CONFIRM_ORDER in action_ids(card), shown(card)
        assert ids.OPEN_FEE_MODAL not in action_ids(card)
        await click(s, "C0SHOP1", card, ids.CONFIRM_ORDER)
        assert [n for n, _ in s.sim.confirm_log] == [number]
        card = card_of(s.slack, "C0SHOP1", number)
        assert "楽天処理中" in shown(card) and f"<@{USER}>" in shown(card)
        assert ids.CONFIRM_ORDER not in action_ids(card)
        s.clock.advance(minutes=31)
        await poll(s.rt.core, "main")
        await s.rt.deps.publisher.drain()
        card = card_of(s.slack, "C0SHOP1", number)
        assert (await s.rt.core.store.get_order(number)).stage is Stage.PROCESSED
        assert "楽天処理済" in card.blocks[0]["text"]["text"], shown(card)
        assert "変わってから発送" not in shown(card)
        assert action_ids(card) <= {ids.SHOW_DETAILS}
        assert posts(s.slack, "C0SHOP1") == 1  # the card, edited in place; nothing else


async def test_an_api_fee_approval_edits_its_card_and_posts_nothing_else(tmp_path):
    async with bot_stack(tmp_path) as s:
        number = s.add_order("api", postage=-9999)
        await intake(s.rt.core, "api")
        await s.rt.deps.publisher.drain()
        await approve_fee(s, "C0SHOP2", "api", number, "800")
        card = card_of(s.slack, "C0SHOP2", number)
        assert "楽天処理中" in shown(card) and f"<@{USER}>" in shown(card)
        await s.rt.deps.publisher.drain()
        assert posts(s.slack, "C0SHOP2") == 1


async def test_new_orders_alone_post_nothing_and_a_flagged_order_only_its_card(tmp_path):
    async with bot_stack(tmp_path) as s:
        normal = [s.add_order("main") for _ in range(3)]
        flagged = s.add_order("main", postage=-9999)
        await intake(s.rt.core, "main")
        await s.rt.deps.publisher.drain()
        assert posts(s.slack, "C0SHOP1") == 1
        assert flagged in shown(s.slack.messages("C0SHOP1")[0])
        s.sim.set_progress(normal[0], 900)  # the customer cancels: worth a digest line
        s.clock.advance(minutes=20)
        await intake(s.rt.core, "main")
        await s.rt.deps.publisher.drain()
        digest = s.slack.messages("C0SHOP1")[-1]
        assert normal[0] in shown(digest), shown(digest)


async def test_a_second_confirm_answers_only_the_asker_once_and_truthfully(tmp_path):
    async with bot_stack(tmp_path) as s:
        number = s.add_order()
        await intake(s.rt.core, "main")
        await s.slack.send_command("/confirm", number, channel="C0SHOP1")
        await s.settle()
        before = posts(s.slack, "C0SHOP1")
        await s.slack.send_command("/confirm", number, user="U0SATO", channel="C0SHOP1")
        await s.settle()
        assert posts(s.slack, "C0SHOP1") == before
        seen = [
            e.text + json.dumps(e.blocks, ensure_ascii=False) for e in s.slack.ephemerals("U0SATO")
        ]
        assert len(seen) == 1, seen
        assert "既に" in seen[0] and f"<@{USER}>" in seen[0]
        assert "受け付けました" not in seen[0]
        assert len(s.sim.calls_to("confirmOrder")) == 1


async def test_the_status_placeholder_is_replaced_by_the_result(tmp_path):
    async with bot_stack(tmp_path) as s:
        number = s.add_order()
        await intake(s.rt.core, "main")
        await s.slack.send_command("/rms-status", number, channel="C0SHOP1")
        await s.settle()
        seen = [e.text + json.dumps(e.blocks, ensure_ascii=False) for e in s.slack.ephemerals(USER)]
        assert len(seen) == 1, seen
        assert number in seen[0] and "取得しています" not in seen[0]


async def test_a_shop_is_named_by_key_or_display_name_and_an_unknown_one_is_refused(tmp_path):
    async with bot_stack(tmp_path) as s:
        number = s.add_order("api")
        await intake(s.rt.core, "api")
        by_name = await s.slack.send_command("/rms", "pending API店", channel="C0SHOP1")
        assert number in answer(by_name), answer(by_name)
        by_key = await s.slack.send_command("/rms", "pending api", channel="C0SHOP1")
        assert number in answer(by_key)
        here = await s.slack.send_command("/rms", "pending", channel="C0SHOP2")
        assert number in answer(here)
        unknown = await s.slack.send_command("/rms", "pending second", channel="C0SHOP1")
        assert "店舗が見つかりません: second" in answer(unknown), answer(unknown)
        assert "API店" in answer(unknown) and "メイン店" in answer(unknown)
        confirm = await s.slack.send_command("/confirm", f"{number} API店", channel="D0SOMEDM")
        assert "店舗" not in answer(confirm)
        await s.settle()
        assert [n for n, _ in s.sim.confirm_log] == [number]


async def test_rms_help_lists_every_command_with_an_example(tmp_path):
    async with bot_stack(tmp_path) as s:
        result = await s.slack.send_command("/rms", "help", channel="C0SHOP1")
        for command in (
            "/confirm",
            "/rms-status",
            "/rms pending",
            "/rms flagged",
            "/rms candidates",
            "/rms bundle",
            "/rms unbundle",
            "/rms summary",
            "/rms license",
        ):
            assert command in answer(result), command


async def test_app_home_buttons_answer_in_app_home(tmp_path):
    async with bot_stack(tmp_path) as s:
        number = s.add_order("api")
        await intake(s.rt.core, "api")
        await s.slack.open_app_home(USER)
        await s.slack.wait_for("views.publish", 1)
        home = s.slack.home(USER)
        await s.slack.click_view(home.id, ids.HOME_PENDING, value="api")
        await s.slack.wait_for("views.publish", 2)
        home = s.slack.home(USER)
        assert number in json.dumps(home.view["blocks"], ensure_ascii=False)
        assert s.slack.ephemerals(USER) == []


async def test_lists_count_age_from_the_rms_order_time_and_the_deadline_from_cancel_due(
    tmp_path,
):
    from datetime import timedelta

    async with bot_stack(tmp_path) as s:
        number = s.add_order(ordered_at=s.clock.now() - timedelta(days=13, hours=2))
        await intake(s.rt.core, "main")
        s.clock.advance(minutes=2)
        listed = answer(await s.slack.send_command("/rms", "pending", channel="C0SHOP1"))
        assert number in listed
        assert "注文から13日" in listed, listed
        assert "確認期限まで1日" in listed, listed
        assert "この状態になって" not in listed


async def test_status_all_reports_only_what_changed_and_sums_up_the_rest_in_one_line(tmp_path):
    async with bot_stack(tmp_path) as s:
        done = [s.add_order() for _ in range(3)]
        waiting = [s.add_order() for _ in range(2)]
        await intake(s.rt.core, "main")
        await s.slack.send_command("/confirm", " ".join(done), channel="C0SHOP1")
        await s.settle()
        s.clock.advance(hours=2)
        for _ in range(3):
            await poll(s.rt.core, "main")
        for n in done:
            assert (await s.rt.core.store.get_order(n)).stage is Stage.PROCESSED
        s.sim.set_progress(waiting[0], 900)  # cancelled meanwhile: the only change
        await s.slack.send_command("/rms-status", "all", user="U0SATO", channel="C0SHOP1")
        await s.settle()
        [result] = [
            e.text + json.dumps(e.blocks, ensure_ascii=False) for e in s.slack.ephemerals("U0SATO")
        ]
        assert waiting[0] in result
        assert not any(n in result for n in done), result
        assert "楽天処理済になりました" not in result
        assert "変化なし" in result and "楽天処理済 3件" in result, result


async def _open_fee_modal(s, channel: str, shop: str, number: str, user: str):
    card = card_of(s.slack, channel, number)
    opened = len(s.slack.calls_to("views.open"))
    await s.slack.click(
        channel=channel,
        message_ts=card.ts,
        action_id=ids.OPEN_FEE_MODAL,
        value=f"{shop}|{number}",
        user=user,
    )
    await s.slack.wait_for("views.open", opened + 1)
    return s.slack.open_modal(user)


async def test_a_stale_approval_says_who_approved_which_fee_and_that_the_input_was_not_applied(
    tmp_path,
):
    async with bot_stack(tmp_path) as s:
        number = s.add_order("api", postage=-9999)
        await intake(s.rt.core, "api")
        await s.rt.deps.publisher.drain()
        late = await _open_fee_modal(s, "C0SHOP2", "api", number, USER)  # 田中 opens the form
        await approve_fee(s, "C0SHOP2", "api", number, "900", user="U0SATO")  # 佐藤 is faster
        card_before = shown(card_of(s.slack, "C0SHOP2", number))
        values = {
            b["block_id"]: {b["element"]["action_id"]: {"type": "plain_text_input", "value": "700"}}
            for b in late.view["blocks"]
            if b["type"] == "input"
        }
        await s.slack.submit_view(late.id, values, user=USER)
        await s.slack.submit_view(late.id, {}, user=USER)
        await s.settle()
        told = " ".join(
            e.text + json.dumps(e.blocks, ensure_ascii=False) for e in s.slack.ephemerals(USER)
        )
        assert "<@U0SATO>" in told and "900円" in told, told
        assert "700円" in told and "反映していません" in told, told
        assert shown(card_of(s.slack, "C0SHOP2", number)) == card_before
        assert len(s.sim.sender_updates) == 1
        assert posts(s.slack, "C0SHOP2") == 1


async def test_the_managers_summary_reads_like_a_report_not_a_counter(tmp_path):
    from datetime import timedelta

    from core.licenses import check_license
    from core.summary import build_summary
    from handlers.render.summary import summary_messages

    async with bot_stack(tmp_path, summary_channel="C0SUMMARY") as s:
        s.clock.advance(hours=1)  # 10:00 JST
        old = s.add_order("main", postage=-9999, ordered_at=s.clock.now() - timedelta(days=13))
        fee = s.add_order("api", postage=-9999)
        sent = [s.add_order("main") for _ in range(2)]
        in_rms = s.add_order("main")
        await intake(s.rt.core, "main")
        await intake(s.rt.core, "api")
        await s.rt.deps.publisher.drain()
        s.sim.set_progress(in_rms, 200)  # a colleague confirms one directly in RMS
        s.clock.advance(minutes=30)
        await approve_fee(s, "C0SHOP2", "api", fee, "900", user="U0SATO")
        await s.slack.send_command("/confirm", " ".join(sent), channel="C0SHOP1")
        await s.settle()
        s.clock.advance(hours=1)
        for shop in ("main", "api"):
            for _ in range(3):
                await poll(s.rt.core, shop)
        s.sim.state.keys["SL-main-key"].expires = s.clock.now() + timedelta(days=5)
        await check_license(s.rt.core, "main", s.clock.now())
        now = s.clock.now()
        day = (now + timedelta(hours=9)).date()
        from zoneinfo import ZoneInfo

        summary = await build_summary(
            s.rt.core.store, s.rt.core.shops, day, ZoneInfo("Asia/Tokyo"), now
        )
        text = "\n".join(json.dumps(m, ensure_ascii=False) for m in summary_messages(summary, "ja"))
        assert "受注金額" in text and "円" in text, text
        assert "ボットで確認" in text and "RMSで直接確認" in text, text
        assert "注文→確認" in text and "確認→楽天処理済" in text and "中央値" in text, text
        assert old in text and "注文から13日" in text, text
        assert "<@U0SATO>" in text and "900円" in text, text
        assert "前日比" not in text, text  # no previous day to compare with
        assert "最長 0分" not in text
        assert "ライセンスキー (メイン店)" in text, text


async def test_confirm_typed_for_a_carded_order_edits_the_card_and_answers_the_asker(tmp_path):
    async with bot_stack(tmp_path) as s:
        number = s.add_order("main", postage=-9999)
        await intake(s.rt.core, "main")
        await s.rt.deps.publisher.drain()
        await approve_fee(s, "C0SHOP1", "main", number, "800")
        s.sim.set_postage(number, 0, 800)
        await s.slack.send_command("/rms-status", number, channel="C0SHOP1")
        await s.settle()
        await s.slack.send_command("/confirm", number, user="U0SATO", channel="C0SHOP1")
        await s.settle()
        [answer_] = [
            e.text + json.dumps(e.blocks, ensure_ascii=False) for e in s.slack.ephemerals("U0SATO")
        ]
        assert "受け付けました" not in answer_ and number in answer_, answer_
        assert "楽天処理中" in shown(card_of(s.slack, "C0SHOP1", number))
        assert posts(s.slack, "C0SHOP1") == 1


async def test_a_bulk_confirm_report_lives_on_instead_of_a_later_processed_digest(tmp_path):
    from tests.stack import confirm_all

    async with bot_stack(tmp_path) as s:
        numbers = [s.add_order() for _ in range(3)]
        await intake(s.rt.core, "main")
        await confirm_all(s.slack, "C0SHOP1", USER)
        await s.settle()
        [report] = s.slack.messages("C0SHOP1")
        assert "楽天処理中" in shown(report)
        s.clock.advance(minutes=31)
        for _ in range(3):
            await poll(s.rt.core, "main")
        await s.rt.deps.publisher.drain()
        [report] = s.slack.messages("C0SHOP1")  # edited in place; no digest repeats it
        assert report.edited
        assert "楽天処理済" in shown(report) and "変わってから発送" not in shown(report)
        assert all(n in shown(report) for n in numbers)
        assert posts(s.slack, "C0SHOP1") == 1

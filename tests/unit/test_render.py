"""Rendering core values into Slack messages: Japanese by default, within Block Kit limits."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from slack_sdk.models.blocks import Block
from slack_sdk.models.views import View

from core.events import FlagReason
from core.model import UNSET_FEE, Address, Item, OrderRecord, Package, Person, RmsOrder, Stage
from core.outcomes import ErrorInfo, OrderOutcome, Outcome, Reason, Report
from core.remediation import (
    CATALOGUE,
    MANUAL_FEE_STEPS,
    PREVENT_UNSET_FEE_STEPS,
    lookup,
)
from handlers.render import blocks as bk
from handlers.render import ids
from handlers.render.i18n import (
    count,
    flag_reason_text,
    jst,
    outcome_label,
    reason_label,
    reason_text,
    stage_label,
    t,
    who,
    yen,
    yen_total,
)
from handlers.render.orders import (
    bad_order_number,
    confirm_all_prompt,
    confirm_report,
    error_message,
    fee_modal,
    flag_card,
    flagged_list,
    help_message,
    license_modal,
    order_details,
    pending_list,
    progress_message,
    refetch_report,
    remediation_card,
)
from handlers.render.texts import TEXTS

NOW = datetime(2026, 11, 28, 5, 5, tzinfo=UTC)  # 14:05 JST
SHOP = "tea"
SHOP_NAME = "お茶の店"
NUMBER = "123456-20261128-0000000001"


# ---------------------------------------------------------------- builders


def _orderer() -> Person:
    return Person(
        "山田",
        "太郎",
        "ヤマダ",
        "タロウ",
        "090-1234-5678",
        Address("100-0001", "東京都", "千代田区千代田", "1-1 <b>&"),
    )


def _fee_unset_order(number: str = NUMBER, due: date = date(2026, 11, 30)) -> RmsOrder:
    island = Person(
        "比嘉",
        "花子",
        "ヒガ",
        "ハナコ",
        "098-000-0000",
        Address("907-0001", "沖縄県", "石垣市", "字大浜1"),
    )
    return RmsOrder(
        number=number,
        progress=100,
        ordered_at=datetime(2026, 11, 27, 22, 15, tzinfo=UTC),
        orderer=_orderer(),
        cancel_due=due,
        settlement="クレジットカード",
        delivery_name="宅配便",
        goods_price=6700,
        postage_price=UNSET_FEE,
        total_price=UNSET_FEE,
        request_price=UNSET_FEE,
        packages=(
            Package(
                1001,
                UNSET_FEE,
                recipient=island,
                isolated_island=True,
                items=(
                    Item(1, "有機緑茶 100g", "tea-100", 2, 1200, 1296, "サイズ:大\nのし:あり"),
                    Item(2, "急須 <特選>", "pot-1", 1, 3500, 3780),
                ),
            ),
            Package(1002, UNSET_FEE, recipient=_orderer(), items=(Item(3, "ほうじ茶", "hj-1"),)),
        ),
        remarks="[配送日時指定:]\n12/1 午前中\n<!channel> よろしく",
    )


def _record(number: str = NUMBER, **changes: Any) -> OrderRecord:
    record = OrderRecord(
        number=number,
        shop=SHOP,
        stage=Stage.NEEDS_ACTION,
        snapshot=_fee_unset_order(number),
        stage_since=NOW - timedelta(hours=3),
        flag_reason=FlagReason.SHIPPING_FEE_UNSET,
    )
    return replace(record, **changes)


def _numbers(n: int) -> list[str]:
    return [f"123456-20261128-{i:010d}" for i in range(n)]


# ---------------------------------------------------------------- Slack structure checks


def _walk(node: Any) -> Iterator[dict[str, Any]]:
    if isinstance(node, dict):
        yield node
        for value in node.values():
            yield from _walk(value)
    elif isinstance(node, list):
        for value in node:
            yield from _walk(value)


def _texts(message: dict[str, Any]) -> str:
    """Every visible string of a message or view, joined."""
    parts = [message.get("text", "")] if isinstance(message.get("text"), str) else []
    for node in _walk(message.get("blocks", [])):
        if node.get("type") in ("mrkdwn", "plain_text"):
            parts.append(node["text"])
    return "\n".join(parts)


def _buttons(message: dict[str, Any]) -> list[dict[str, Any]]:
    return [n for n in _walk(message.get("blocks", [])) if n.get("type") == "button"]


def _assert_valid_message(message: dict[str, Any]) -> None:
    assert message["text"], "a fallback text is required"
    blocks = message["blocks"]
    assert 0 < len(blocks) <= 50
    assert len(json.dumps(blocks, ensure_ascii=False)) <= 12_000
    for block in blocks:
        parsed = Block.parse(block)
        assert parsed is not None, block
        parsed.validate_json()
        if block["type"] == "section" and "text" in block:
            assert len(block["text"]["text"]) <= 3000
        if block["type"] == "header":
            assert len(block["text"]["text"]) <= 150
    for button in _buttons(message):
        assert len(button["value"]) <= 2000
        assert len(button["text"]["text"]) <= 75


def _assert_valid_view(view: dict[str, Any]) -> None:
    View(**view).validate_json()
    assert len(view["title"]["text"]) <= 24
    assert len(view["blocks"]) <= 100


def _fee_texts(message: dict[str, Any]) -> list[str]:
    """Lines and fields that show a fee: 送料 / 合計 / 請求額 …"""
    labels = ("送料", "合計", "請求額", "代引料", "決済手数料", "Shipping", "Total", "billed")
    found = []
    for text in _texts(message).split("\n"):
        if any(label in text for label in labels):
            found.append(text)
    return found


# ---------------------------------------------------------------- flag card


def test_flag_card_for_unset_fee_order_shows_what_a_clerk_needs_in_japanese() -> None:
    message = flag_card(_record(), SHOP_NAME, api_option=True, lang="ja", now=NOW)
    _assert_valid_message(message)
    text = _texts(message)
    assert message["blocks"][0]["text"]["text"] == "⚠️ 要対応: 送料未設定の注文です"
    for label in ("注文日時", "確認期限", "注文者", "支払方法", "送付先 1", "送付先 2"):
        assert label in text
    assert NUMBER in text
    assert "11/28 07:15" in text  # 22:15 UTC is 07:15 JST the next day
    assert "山田 太郎 (ヤマダ タロウ)" in text
    assert "090-1234-5678" not in text  # phone numbers are never posted (issue 10 item 7)
    assert "🏝️ 離島" in text and "沖縄県石垣市字大浜1" in text
    assert "[サイズ:大 / のし:あり]" in text and "2 × 1,200円" in text
    assert "クレジットカード" in text
    assert "商品合計" in text and "6,700円" in text
    assert "送料が「-9,999円」(未設定)" in text  # staff's words, in the explanation only


def test_unset_fee_reads_as_soryo_misettei_never_as_minus_9999() -> None:
    message = flag_card(_record(), SHOP_NAME, api_option=False, lang="ja", now=NOW)
    text = _texts(message)
    assert "-9999" not in text
    fee_lines = _fee_texts(message)
    assert fee_lines
    for line in fee_lines:
        if line.startswith(("送料:", "*送料*")) or "合計" in line or "請求額" in line:
            assert "-9,999" not in line and "-9999" not in line, line
    assert "送料: *⚠️ 送料未設定*" in text
    assert "未確定" in text  # totals derived from the unset fee


def test_user_data_is_escaped_so_it_cannot_mention_or_link() -> None:
    text = _texts(flag_card(_record(), SHOP_NAME, api_option=True, now=NOW))
    assert "<!channel>" not in text and "&lt;!channel&gt;" in text
    assert "急須 &lt;特選&gt;" in text and "1-1 &lt;b&gt;&amp;" in text


def test_flag_card_buttons_open_the_fee_modal_refetch_and_show_details() -> None:
    message = flag_card(_record(), SHOP_NAME, api_option=True, now=NOW)
    by_action = {b["action_id"]: b for b in _buttons(message)}
    assert set(by_action) == {ids.OPEN_FEE_MODAL, ids.REFETCH_ORDER, ids.SHOW_DETAILS}
    assert by_action[ids.OPEN_FEE_MODAL]["text"]["text"] == "送料を入力して承認…"
    assert by_action[ids.OPEN_FEE_MODAL]["style"] == "primary"
    assert by_action[ids.REFETCH_ORDER]["text"]["text"] == "RMSステータスを取得"
    assert ids.unpack_value(by_action[ids.SHOW_DETAILS]["value"], 2) == (SHOP, NUMBER)


def test_flag_card_says_what_happens_next_with_and_without_the_api_option() -> None:
    with_api = _texts(flag_card(_record(), SHOP_NAME, api_option=True, now=NOW))
    without = _texts(flag_card(_record(), SHOP_NAME, api_option=False, now=NOW))
    assert "RMSに送料を書き込み" in with_api and "注文確認通知を送信します" in with_api
    assert "RMSで対象の注文を開く" in without and "[RMSステータスを取得]" in without
    # one instruction each: the no-API card never asks to approve, its button records
    assert "承認" not in without and "送料を記録" in without
    assert "送料を入力して承認" in with_api
    for text in (with_api, without):
        assert "離島他の扱い" in text  # the one-time prevention setting, in one line


def test_deadline_two_days_away_is_escalated_and_a_far_one_is_not() -> None:
    near = _texts(flag_card(_record(), SHOP_NAME, api_option=True, now=NOW))
    assert "11/30 (あと2日)" in near and "🔴 確認期限まであと2日です" in near
    far_record = _record(snapshot=_fee_unset_order(due=date(2026, 12, 10)))
    far = _texts(flag_card(far_record, SHOP_NAME, api_option=True, now=NOW))
    assert "12/10 (あと12日)" in far and "🔴" not in far


def test_bundled_order_card_never_offers_confirmation() -> None:
    for reason in (FlagReason.BUNDLE_RULE, FlagReason.SHIPPING_FEE_UNSET):
        record = _record(bundle_id="B-1", flag_reason=reason)
        message = flag_card(record, SHOP_NAME, api_option=True, now=NOW)
        _assert_valid_message(message)
        actions = {b["action_id"] for b in _buttons(message)}
        assert ids.CONFIRM_ORDER not in actions and ids.OPEN_FEE_MODAL not in actions
        assert "同梱中: 変更は同梱を解除してから" in _texts(message)
    header = flag_card(
        _record(bundle_id="B-1", flag_reason=FlagReason.BUNDLE_RULE), SHOP_NAME, api_option=True
    )["blocks"][0]["text"]["text"]
    assert header == "⚠️ 要対応: 同梱中の注文です"


def test_bundled_order_whose_fee_became_set_still_gets_no_confirm_button() -> None:
    record = _record(bundle_id="B-1")
    outcome = OrderOutcome(NUMBER, Outcome.REFRESHED, Stage.AWAITING)
    message = flag_card(record, SHOP_NAME, api_option=False, resolved=outcome)
    assert ids.CONFIRM_ORDER not in {b["action_id"] for b in _buttons(message)}


def test_unknown_error_card_keeps_the_raw_code_and_text() -> None:
    record = _record(
        flag_reason=FlagReason.UNKNOWN_ERROR, error_code="XYZ_999", error_message="謎のエラー"
    )
    message = flag_card(record, SHOP_NAME, api_option=True, now=NOW)
    _assert_valid_message(message)
    text = _texts(message)
    assert message["blocks"][0]["text"]["text"] == "⚠️ 要対応: RMSが不明なエラーを返しました"
    assert "`XYZ_999`" in text and "謎のエラー" in text and "サポート" in text


def test_resolved_card_with_api_option_says_fee_written_and_confirmation_sent() -> None:
    outcome = OrderOutcome(NUMBER, Outcome.CONFIRMED, Stage.PROCESSING)
    message = flag_card(
        _record(),
        SHOP_NAME,
        api_option=True,
        resolved=outcome,
        actor="U123",
        fees={1001: 1200, 1002: 800},
    )
    _assert_valid_message(message)
    text = _texts(message)
    assert (
        "✅ 送料 1,200円 + 800円 を反映し、注文確認通知を送信しました (楽天処理中) — <@U123>"
        in text
    )
    assert "楽天処理済】に変わってから発送" in text
    assert not [b for b in _buttons(message) if b["action_id"] == ids.OPEN_FEE_MODAL]


def test_resolved_card_without_api_option_lists_the_manual_rms_steps() -> None:
    record = _record(intended_fees={1001: 800, 1002: 800})
    outcome = OrderOutcome(NUMBER, Outcome.FEE_RECORDED, Stage.NEEDS_ACTION)
    message = flag_card(record, SHOP_NAME, api_option=False, resolved=outcome, actor="U123")
    _assert_valid_message(message)
    text = _texts(message)
    assert "📝 送料 800円 + 800円 を記録しました" in text
    assert "RMSで送料を修正してから [RMSステータスを取得] を押してください" in text
    for step in MANUAL_FEE_STEPS:
        assert step.ja in text
    assert ids.REFETCH_ORDER in {b["action_id"] for b in _buttons(message)}


def test_fee_still_unset_keeps_the_actionable_card_with_the_news_on_top() -> None:
    outcome = OrderOutcome(
        NUMBER, Outcome.REFUSED, Stage.NEEDS_ACTION, reason=Reason.FEE_STILL_UNSET
    )
    message = flag_card(_record(), SHOP_NAME, api_option=False, resolved=outcome, now=NOW)
    assert "RMSではまだ送料未設定" in _texts(message)
    assert ids.OPEN_FEE_MODAL in {b["action_id"] for b in _buttons(message)}


def test_resolved_failure_shows_its_remediation_and_a_retry() -> None:
    error = ErrorInfo("auth", "ES01-01", "Un-Authorised", ("retried:3",))
    outcome = OrderOutcome(NUMBER, Outcome.FAILED, Stage.ERROR, error=error)
    message = flag_card(_record(), SHOP_NAME, api_option=True, resolved=outcome)
    _assert_valid_message(message)
    text = _texts(message)
    assert "認証エラー" in text and "`ES01-01`" in text and "自動で3回再試行しました" in text
    assert "/rms license" in text and "5〜30分" in text
    assert "再試行" in [b["text"]["text"] for b in _buttons(message)]


def test_order_details_show_everything_including_the_six_prevention_steps() -> None:
    message = order_details(_record(intended_fees={1001: 900}), "ja", now=NOW)
    _assert_valid_message(message)
    text = _texts(message)
    for step in PREVENT_UNSET_FEE_STEPS:
        assert step.ja in text
    assert "送付先1の送料" in text and "PackageModelList" not in text  # the staff's words
    assert "税込 1,296円" in text and "宅配便" in text and "900円" in text


# ---------------------------------------------------------------- modals


def test_fee_modal_has_one_input_per_package_and_says_what_submit_does() -> None:
    record = _record(intended_fees={1002: 800})
    view = fee_modal(record, True, "ja", "meta-1")
    _assert_valid_view(view)
    assert view["callback_id"] == ids.FEE_MODAL and view["private_metadata"] == "meta-1"
    assert view["title"]["text"] == "送料の入力" and view["submit"]["text"] == "次へ"
    assert view["close"]["text"] == "キャンセル"
    inputs = [b for b in view["blocks"] if b["type"] == "input"]
    assert [b["block_id"] for b in inputs] == ["fee_1001", "fee_1002"]
    assert all(b["element"]["action_id"] == ids.FEE_INPUT for b in inputs)
    assert inputs[0]["label"]["text"].startswith("送料 (円) — 送付先: 比嘉 花子 沖縄県")
    assert "initial_value" not in inputs[0]["element"]  # -9999 is never prefilled
    assert inputs[1]["element"]["initial_value"] == "800"
    assert inputs[0]["element"]["placeholder"]["text"] == "例: 800"
    assert "RMSに送料を書き込み" in _texts(view)
    assert "RMSへの書き込みはしません" in _texts(fee_modal(record, False, "ja", "m"))
    assert ids.basket_id_of(inputs[0]["block_id"]) == 1001


def test_license_modal_is_never_prefilled_and_explains_storage_and_delay() -> None:
    view = license_modal(SHOP_NAME, "ja", "meta")
    _assert_valid_view(view)
    (field,) = [b for b in view["blocks"] if b["type"] == "input"]
    assert field["block_id"] == ids.LICENSE_BLOCK
    assert field["element"]["action_id"] == ids.LICENSE_INPUT
    assert "initial_value" not in field["element"]
    text = _texts(view)
    assert "暗号化" in text and "5〜30分" in text


# ---------------------------------------------------------------- reports


def _mixed_report(n: int) -> Report:
    outcomes = []
    for i, number in enumerate(_numbers(n)):
        kind = i % 6
        if kind == 0:
            outcomes.append(OrderOutcome(number, Outcome.CONFIRMED, Stage.PROCESSING))
        elif kind == 1:
            outcomes.append(
                OrderOutcome(number, Outcome.ALREADY_CONFIRMED, Stage.PROCESSING, by="U777", at=NOW)
            )
        elif kind == 2:
            outcomes.append(OrderOutcome(number, Outcome.REFUSED, reason=Reason.FEE_UNSET))
        elif kind == 3:
            error = ErrorInfo("rate_limited", None, "Forbidden-Exceeded QPS Limitation")
            outcomes.append(OrderOutcome(number, Outcome.FAILED, Stage.ERROR, error=error))
        elif kind == 4:
            outcomes.append(OrderOutcome(number, Outcome.PENDING, Stage.SENDING))
        else:
            outcomes.append(OrderOutcome(number, Outcome.ADOPTED, Stage.PROCESSED))
    return Report(SHOP, "U123", "confirm", tuple(outcomes))


def test_already_confirmed_says_who_and_when_and_points_to_the_rms_admin_screen() -> None:
    outcome = OrderOutcome(NUMBER, Outcome.ALREADY_CONFIRMED, Stage.PROCESSING, by="U777", at=NOW)
    messages = confirm_report(Report(SHOP, "U123", "confirm", (outcome,)), shop_name=SHOP_NAME)
    assert len(messages) == 1
    text = _texts(messages[0])
    assert "既に注文確認済みです (<@U777>, 11/28 14:05)" in text
    assert "注文確認は楽天の仕様上一度しかできません" in text
    assert "変更はRMSの管理画面から行ってください" in text
    assert "APIオプションご契約の場合は送料等をAPIで更新できます" in text
    assert "⛔ 送信しませんでした 1件" in text


def test_confirm_report_groups_results_in_the_staffs_words() -> None:
    messages = confirm_report(_mixed_report(12), shop_name=SHOP_NAME)
    text = "\n".join(_texts(m) for m in messages)
    for heading in (
        "✅ 注文確認通知を送信 (楽天処理中) 2件",
        "↩️ 確認済み (RMSで確認済みを反映) 2件",
        "⛔ 送信しませんでした 4件",
        "❌ エラー 2件",
        "⏳ 結果確認中 2件",
    ):
        assert heading in text
    assert "送料未設定 (-9,999円) のため送信しませんでした" in text
    assert "Forbidden-Exceeded QPS Limitation" in text


def test_150_order_report_splits_into_thread_replies_without_losing_an_order() -> None:
    report = _mixed_report(150)
    messages = confirm_report(report, "ja", shop_name=SHOP_NAME)
    assert len(messages) > 1
    for message in messages:
        _assert_valid_message(message)
    main = _texts(messages[0])
    assert "スレッドに表示します" in main
    for section in (b for b in messages[0]["blocks"] if b["type"] == "section"):
        assert section["text"]["text"].count("• `") <= 20
    everything = "\n".join(_texts(m) for m in messages)
    for number in _numbers(150):
        assert f"`{number}`" in everything, number


def test_retry_buttons_carry_every_failed_number_within_2000_characters() -> None:
    error = ErrorInfo("unavailable", "500", "Internal Server Error", ("retried:3", "refetched"))
    numbers = _numbers(300)
    outcomes = tuple(OrderOutcome(n, Outcome.FAILED, Stage.ERROR, error=error) for n in numbers)
    messages = confirm_report(Report(SHOP, "U1", "confirm", outcomes), shop_name=SHOP_NAME)
    retry: list[str] = []
    refetch: list[str] = []
    for message in messages:
        _assert_valid_message(message)
        for button in _buttons(message):
            shop, packed = ids.unpack_value(button["value"], 2)
            assert shop == SHOP
            target = retry if button["action_id"] == ids.RETRY_CONFIRM else refetch
            target += ids.unpack_numbers(packed)
    assert retry == numbers and refetch == numbers


def test_refetch_report_says_what_changed_for_each_order() -> None:
    numbers = _numbers(4)
    outcomes = (
        OrderOutcome(numbers[0], Outcome.ADOPTED, Stage.PROCESSED),
        OrderOutcome(numbers[1], Outcome.REFRESHED, Stage.CANCELLED),
        OrderOutcome(numbers[2], Outcome.REFRESHED, Stage.PROCESSED),
        OrderOutcome(numbers[3], Outcome.REFUSED, reason=Reason.UNKNOWN_ORDER),
    )
    (message,) = refetch_report(Report(SHOP, "U1", "refetch", outcomes), shop_name=SHOP_NAME)
    _assert_valid_message(message)
    text = _texts(message)
    assert "RMSステータスの取得結果 — お茶の店" in text
    assert f"`{numbers[0]}` — RMSで直接確認済みでした" in text
    assert f"`{numbers[1]}` — キャンセルされました" in text
    assert f"`{numbers[2]}` — 楽天処理済になりました。発送できます" in text
    assert "見つかりませんでした" in text


def test_remediation_card_explains_cause_what_the_bot_did_and_the_steps() -> None:
    error = ErrorInfo("maintenance", "503", "API In Maintenance", ("retried:3", "refetched"))
    numbers = _numbers(45)
    messages = remediation_card(error, numbers, SHOP_NAME, "ja", shop=SHOP)
    for message in messages:
        _assert_valid_message(message)
    main = _texts(messages[0])
    for part in (
        "何が起きたか",
        "ボットが行ったこと",
        "対応方法",
        "`503`",
        "日曜 2:00〜8:00",
        "自動で3回再試行しました",
        "RMSステータスを取得しました",
        "対象の注文 45件",
    ):
        assert part in main
    assert main.count("• `") == 20 and "他25件" in main
    everything = "\n".join(_texts(m) for m in messages)
    assert all(n in everything for n in numbers)
    assert {b["action_id"] for b in _buttons(messages[0])} == {ids.RETRY_CONFIRM, ids.REFETCH_MANY}


def test_remediation_card_offers_only_the_buttons_its_entry_allows() -> None:
    (message,) = remediation_card(ErrorInfo("license_check_failed"), [], SHOP_NAME)
    assert _buttons(message) == []
    assert "license.expiryDate.get" in _texts(message)


# ---------------------------------------------------------------- prompts, lists, help


def test_confirm_all_prompt_asks_with_exclusions_and_a_confirm_dialog() -> None:
    excluded = {Reason.FEE_UNSET: 2, Reason.BUNDLED: 1}
    message = confirm_all_prompt(12, excluded, SHOP_NAME, "ja", "tea|12|tok")
    _assert_valid_message(message)
    text = _texts(message)
    assert "注文確認待ち *12件* に注文確認通知を送信しますか？" in text
    assert "(除外: 送料未設定 2件, 同梱 1件)" in text
    confirm, cancel = _buttons(message)
    assert confirm["action_id"] == ids.CONFIRM_ALL and confirm["style"] == "primary"
    assert confirm["confirm"]["text"]["text"] and confirm["value"] == "tea|12|tok"
    assert cancel["action_id"] == ids.CANCEL_ALL
    nothing = confirm_all_prompt(0, {}, SHOP_NAME, "ja", "v")
    assert _buttons(nothing) == [] and "ありません" in _texts(nothing)


def test_progress_message_counts_done_of_total() -> None:
    message = progress_message(100, 250, "ja")
    _assert_valid_message(message)
    assert "注文確認通知を送信中… 100/250" in _texts(message)
    assert "250/250" in _texts(progress_message(250, 250))


def test_pending_and_flagged_lists_cap_at_twenty_with_the_rest_counted() -> None:
    records = [_record(n) for n in _numbers(25)]
    flagged = flagged_list(records, "ja", SHOP_NAME, now=NOW)
    _assert_valid_message(flagged)
    fee_buttons = [b for b in _buttons(flagged) if b["action_id"] == ids.OPEN_FEE_MODAL]
    assert len(fee_buttons) == 20 and "他5件" in _texts(flagged)
    pending = pending_list(
        [replace(r, stage=Stage.AWAITING) for r in records], "ja", SHOP_NAME, now=NOW
    )
    _assert_valid_message(pending)
    text = _texts(pending)
    assert (
        "注文確認待ち — お茶の店 (25件)" in text
        and "注文から6時間" in text  # from RMS's order time, not the stage
        and "他5件" in text
    )
    assert "ありません" in _texts(pending_list([], "ja", SHOP_NAME))


def test_flagged_list_gives_a_bundled_order_details_instead_of_the_fee_button() -> None:
    message = flagged_list([_record(bundle_id="B-1")], "ja", SHOP_NAME)
    assert [b["action_id"] for b in _buttons(message)] == [ids.SHOW_DETAILS]


def test_help_lists_every_command_with_an_example() -> None:
    message = help_message("ja")
    _assert_valid_message(message)
    text = _texts(message)
    for command in (
        "/confirm 123456-20261128-0000000001",
        "/confirm all [shop]",
        "/rms-status <番号…|all> [shop]",
        "/rms pending",
        "/rms flagged",
        "/rms bundle A B",
        "/rms unbundle A",
        "/rms summary",
        "/rms license",
    ):
        assert command in text


def test_input_error_names_the_bad_token_and_escapes_it() -> None:
    message = bad_order_number("12345-2026-1", "ja")
    assert "注文番号の形式が正しくありません: 12345-2026-1 (例: 123456-20261128-0000000001)" in (
        _texts(message)
    )
    assert "&lt;!here&gt;" in _texts(error_message("<!here>"))


# ---------------------------------------------------------------- English


def test_english_output_when_lang_is_en() -> None:
    card = _texts(flag_card(_record(), SHOP_NAME, api_option=False, lang="en", now=NOW))
    assert "Needs action: shipping fee not set" in card and "fee not set" in card
    assert "¥6,700" in card and "not determined" in card and "2 days left" in card
    assert "要対応" not in card
    outcome = OrderOutcome(NUMBER, Outcome.ALREADY_CONFIRMED, Stage.PROCESSING, by="U7", at=NOW)
    (report,) = confirm_report(Report(SHOP, "U1", "confirm", (outcome,)), "en", shop_name="Tea")
    text = _texts(report)
    assert "Already confirmed (<@U7>, 11/28 14:05)" in text and "admin screen" in text
    assert fee_modal(_record(), True, "en", "m")["submit"]["text"] == "Next"
    assert "/rms-status <numbers…|all> [shop]" in _texts(help_message("en"))


# ---------------------------------------------------------------- remediation catalogue


@pytest.mark.parametrize(
    ("code", "key"),
    [
        ("ES01-01", "auth"),
        ("GA0001", "auth"),
        ("ES04-01", "function_disabled"),
        ("ORDER_EXT_API_CONFIRM_ORDER_ERROR_102", "cancelled"),
        ("ORDER_EXT_API_CONFIRM_ORDER_ERROR_103", "not_confirmable"),
        ("ORDER_EXT_API_CONFIRM_ORDER_ERROR_105", "postage_unset"),
        ("該当の注文は注文確認ができる状態ではありませんでした", "not_confirmable"),
        ("Forbidden-Exceeded QPS Limitation", "rate_limited"),
        ("API In Maintenance", "maintenance"),
        ("maintenance", "maintenance"),
        ("unavailable", "unavailable"),
        ("SOMETHING_NEW_999", "unknown"),
        ("", "unknown"),
    ],
)
def test_remediation_lookup_by_key_raw_code_or_phrase(code: str, key: str) -> None:
    assert lookup(code).key == key


def test_every_remediation_entry_has_both_languages_and_steps() -> None:
    required = {
        "auth",
        "function_disabled",
        "rate_limited",
        "maintenance",
        "unavailable",
        "protocol",
        "rejected",
        "not_confirmable",
        "cancelled",
        "postage_unset",
        "unknown",
        "license_check_failed",
    }
    assert required <= set(CATALOGUE)
    for entry in CATALOGUE.values():
        assert entry.title.ja and entry.title.en and entry.cause.ja and entry.cause.en
        assert entry.steps and all(step.ja and step.en for step in entry.steps)
    assert "新しいライセンスキーを発行" in " ".join(s.ja for s in lookup("auth").steps)
    assert "5〜30分" in " ".join(s.ja for s in lookup("auth").steps)
    assert len(PREVENT_UNSET_FEE_STEPS) == 6 and "離島他の扱い" in PREVENT_UNSET_FEE_STEPS[3].ja


# ---------------------------------------------------------------- i18n and blocks


def test_every_label_exists_in_both_languages() -> None:
    for stage in Stage:
        assert stage_label(stage, "ja") != stage_label(stage, "en")
    assert stage_label(Stage.PROCESSED, "ja") == "楽天処理済"
    assert stage_label(Stage.PROCESSED, "en") == "Rakuten processed (ready to ship)"
    for reason in Reason:
        assert reason_label(reason, "ja") and reason_label(reason, "en")
        assert reason_text(reason, "ja") != reason_text(reason, "en")
    for flag in FlagReason:
        assert flag_reason_text(flag, "ja") != flag_reason_text(flag, "en")
    for outcome in Outcome:
        assert outcome_label(outcome, "ja") != outcome_label(outcome, "en")
    for key, (ja, en) in TEXTS.items():
        assert ja and en, key
        assert re.findall(r"{(\w+)}", ja) == re.findall(r"{(\w+)}", en) or key == "btn_part"


def test_money_time_and_people_formatting() -> None:
    assert yen(1234) == "1,234円" and yen(1234, "en") == "¥1,234"
    assert yen(UNSET_FEE) == "送料未設定" and yen(UNSET_FEE, "en") == "fee not set"
    assert yen_total(UNSET_FEE) == "未確定" and yen_total(0) == "0円"
    assert jst(datetime(2026, 11, 28, 5, 5, tzinfo=UTC)) == "11/28 14:05"
    assert jst(datetime(2026, 11, 28, 14, 5)) == "11/28 14:05"  # naive is JST already
    assert count(3) == "3件" and count(1, "en") == "1 order"
    assert who("U123") == "<@U123>" and who("rms") == "RMS" and who("<x>") == "&lt;x&gt;"
    assert t("no_such_key") == "no_such_key"


def test_blocks_enforce_slack_limits() -> None:
    assert bk.section("あ" * 5000)["text"]["text"].endswith("…")
    assert len(bk.section("あ" * 5000)["text"]["text"]) == 3000
    assert len(bk.header("h" * 200)["text"]["text"]) == 150
    assert len(bk.button("b" * 100, "a", "v")["text"]["text"]) == 75
    with pytest.raises(ValueError):
        bk.button("ok", "a", "v" * 2001)
    assert bk.escape("a & <b> c") == "a &amp; &lt;b&gt; c"
    many = [bk.section(f"line {i} " + "x" * 500) for i in range(130)]
    chunks = bk.split_blocks([bk.header("title"), *many])
    assert sum(len(c) for c in chunks) == 131
    for chunk in chunks:
        assert len(chunk) <= 50
        assert sum(bk.block_size(b) for b in chunk) <= bk.MAX_MESSAGE_CHARS
        assert chunk[-1]["type"] != "header"


def test_button_values_pack_and_unpack() -> None:
    assert ids.pack_value(SHOP, NUMBER) == f"{SHOP}|{NUMBER}"
    assert ids.unpack_value("tea|12|tok", 3) == ("tea", "12", "tok")
    with pytest.raises(ValueError):
        ids.unpack_value("tea", 2)
    values = ids.chunk_numbers(SHOP, _numbers(200))
    assert all(len(v) <= 2000 for v in values) and len(values) > 1
    assert [n for v in values for n in ids.unpack_numbers(ids.unpack_value(v, 2)[1])] == _numbers(
        200
    )

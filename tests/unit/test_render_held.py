"""Auto-confirm's Slack messages (pure): valid Block Kit, both languages, the right buttons."""

from __future__ import annotations

from dataclasses import replace

import pytest

from core.holds import HoldReason
from core.model import Stage
from handlers.render import ids
from handlers.render.held import (
    KEEP_HOLDING,
    MAX_LIST,
    auto_status,
    dry_run_post,
    held_card,
    held_list,
    keep_modal,
    watchdog_alert,
)
from tests.unit.test_render import NOW, SHOP_NAME, _assert_valid_message, _buttons, _record, _texts


@pytest.mark.parametrize("lang", ["ja", "en"])
def test_a_held_card_names_its_reasons_and_offers_the_fee_modal_for_a_missing_fee(lang) -> None:
    reasons = [HoldReason.FEE_UNSET.value, HoldReason.REMOTE_ISLAND.value]
    card = held_card(_record(), reasons, SHOP_NAME, lang, now=NOW, proposal_how=("1: ¥600 = 関東",))
    _assert_valid_message(card)
    actions = [b["action_id"] for b in _buttons(card)]
    assert actions == [ids.OPEN_FEE_MODAL, KEEP_HOLDING, ids.REFETCH_ORDER]
    text = _texts(card)
    assert ("離島あて" if lang == "ja" else "remote island") in text and "関東" in text


def test_a_held_card_without_a_fee_problem_offers_approve_and_confirm() -> None:
    awaiting = _record()
    order = replace(awaiting.snapshot, postage_price=500, packages=())
    record = replace(awaiting, stage=Stage.AWAITING, flag_reason=None, snapshot=order)
    card = held_card(record, ["gift"], SHOP_NAME, "ja", now=NOW, note="電話確認中", noted_by="U1")
    _assert_valid_message(card)
    assert [b["action_id"] for b in _buttons(card)][0] == ids.CONFIRM_ORDER
    assert "承認して確認" in _texts(card) and "電話確認中" in _texts(card)


def test_lists_and_posts_stay_within_block_kit_limits() -> None:
    many = [(_record(f"123456-20261128-{i:010d}"), ["remarks"], "") for i in range(MAX_LIST + 5)]
    message = held_list(SHOP_NAME, many, "ja", NOW)
    _assert_valid_message(message)
    assert "+5" in _texts(message) and "確認期限" in _texts(message)
    numbers = [r.number for r, _, _ in many]
    _assert_valid_message(dry_run_post(SHOP_NAME, numbers, {numbers[0]: ["gift"]}, "en"))
    _assert_valid_message(auto_status([(SHOP_NAME, "dry_run")], True, "ja"))
    for check in ("silent", "failing", "held"):
        data = {"check": check, "minutes": 200, "since": NOW.isoformat(), "held": 6, "total": 10}
        _assert_valid_message(watchdog_alert("watchdog_alert", data, SHOP_NAME, "ja"))
    assert keep_modal(numbers[0], "en", "main|x")["type"] == "modal"

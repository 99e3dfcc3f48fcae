"""The fee typed into the Slack modal: parsing, bounds, the modal's state and the new total."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime
from typing import Any

import pytest

from core.errors import InvalidInputError
from core.lifecycle import DEFAULT_MAX_POSTAGE_YEN, Policy, check_fees
from core.model import UNSET_FEE, Item, OrderRecord, Package, RmsOrder, Stage
from core.order_total import COUPONS, GOODS, PAYMENT_CHARGE, POINTS, POSTAGE, new_total
from handlers.messages import say
from handlers.parsing import (
    FEE_ERRORS,
    FeeModalState,
    parse_fee,
    parse_fee_state,
    parse_fees,
)
from handlers.render import ids
from handlers.render.modals import fee_modal, fee_review_modal, total_text
from tests.unit.test_render import _assert_valid_view

CAP = 20_000

ACCEPTED = [
    ("800", 800),
    ("0", 0),
    ("20000", 20_000),
    ("1,000", 1_000),
    ("1,000円", 1_000),
    ("1000 円", 1_000),
    ("¥1,000", 1_000),
    ("¥ 1,000", 1_000),
    ("￥1000", 1_000),
    ("\\800", 800),  # a JIS keyboard's yen key
    ("１０００", 1_000),
    ("１，０００円", 1_000),
    ("  800\n", 800),
    ("\u3000８００\u3000", 800),  # ideographic spaces around full-width digits
    ("0800", 800),
    ("12,345", 12_345),
]

REFUSED = [
    ("", "fee_empty"),
    ("   ", "fee_empty"),
    (None, "fee_empty"),
    ("-1", "fee_negative"),
    ("－８００", "fee_negative"),
    ("−800", "fee_negative"),
    ("-1,000円", "fee_negative"),
    ("800.5", "fee_decimal"),
    ("1,000.00", "fee_decimal"),
    ("８００．５", "fee_decimal"),
    ("20001", "fee_too_high"),
    ("20,001円", "fee_too_high"),
    ("999999999999999", "fee_too_high"),
    ("9" * 5000, "fee_too_high"),  # never handed to int()
    ("abc", "fee_not_number"),
    ("800yen", "fee_not_number"),
    ("8 00", "fee_not_number"),
    ("10,00", "fee_not_number"),  # not a thousands grouping: a typo, not a number
    ("1,0000", "fee_not_number"),
    ("800.", "fee_not_number"),
    ("1e3", "fee_not_number"),
    ("0x20", "fee_not_number"),
    ("円", "fee_not_number"),
    ("¥", "fee_not_number"),
    ("八百", "fee_not_number"),
    ("800円円", "fee_not_number"),
]


@pytest.mark.parametrize(("typed", "expected"), ACCEPTED)
def test_fee_text_is_read_as_whole_yen(typed: str, expected: int) -> None:
    assert parse_fee(typed, CAP) == expected


@pytest.mark.parametrize(("typed", "kind"), REFUSED)
def test_anything_else_is_refused_with_what_was_wrong(typed: str | None, kind: str) -> None:
    with pytest.raises(InvalidInputError) as caught:
        parse_fee(typed, CAP)
    found, _, shown = str(caught.value).partition(":")
    assert found == kind
    if typed and typed.strip():
        assert shown and len(shown) <= 40  # names what was typed, clipped


def test_the_cap_is_the_setting_not_a_constant() -> None:
    assert parse_fee("5000", 5000) == 5000
    with pytest.raises(InvalidInputError, match="fee_too_high"):
        parse_fee("5001", 5000)
    assert DEFAULT_MAX_POSTAGE_YEN == 20_000 == Policy().max_postage_yen


@pytest.mark.parametrize("kind", FEE_ERRORS)
def test_every_fee_error_has_a_japanese_and_an_english_message(kind: str) -> None:
    ja = say(kind, "ja", text="20001", max="20,000円")
    en = say(kind, "en", text="20001", max="¥20,000")
    assert ja != en and ja and en
    if kind != "fee_empty":
        assert "20001" in ja and "20001" in en
    if kind in ("fee_too_high", "fee_empty"):
        assert "20,000円" in ja and "¥20,000" in en


def test_parse_fees_reports_each_package_on_its_own() -> None:
    fees, problems = parse_fees({1: "800", 2: "20001", 4: "x"}, [1, 2, 3, 4], CAP)
    assert fees == {1: 800}
    assert {b: str(e).split(":")[0] for b, e in problems.items()} == {
        2: "fee_too_high",
        3: "fee_empty",  # a package without a field (forged form) is an error, not a 0
        4: "fee_not_number",
    }


def test_core_refuses_a_fee_above_its_cap_too() -> None:
    order = _order()
    assert check_fees(order, {1001: "800", 1002: "500"}, CAP).problems == ()
    assert check_fees(order, {1001: "20001", 1002: "500"}, CAP).problems == ("1001",)
    assert check_fees(order, {1001: "9" * 5000, 1002: "500"}, CAP).problems == ("1001",)


def test_modal_state_round_trips_through_private_metadata() -> None:
    entry = FeeModalState("main", "123456-20261128-0000000001", "C0SHOP1", "1.2")
    assert entry.pack() == "main|123456-20261128-0000000001|C0SHOP1|1.2"
    assert parse_fee_state(entry.pack()) == entry
    review = entry.pack({1001: 800, 1002: 0})
    assert review.endswith("|1001=800,1002=0")
    assert parse_fee_state(review).fees == {1001: 800, 1002: 0}
    assert parse_fee_state(review).pack() == review
    for bad in ("", "main|x", "main|n|c|t|1001=-5", "main|n|c|t|a=1", "a|b|c|d|e|f"):
        with pytest.raises(ValueError):
            parse_fee_state(bad)


# ---------------------------------------------------------------- the new total


def _order(**changes: Any) -> RmsOrder:
    item = Item(1, "お茶", price=1000, price_tax_incl=1080, units=2)
    order = RmsOrder(
        number="123456-20261128-0000000001",
        progress=100,
        ordered_at=datetime(2026, 11, 28, 9, 0),
        goods_price=3000,
        postage_price=UNSET_FEE,
        total_price=UNSET_FEE,
        request_price=UNSET_FEE,
        packages=(
            Package(1001, UNSET_FEE, items=(item,)),
            Package(1002, 500, items=(replace(item, item_detail_id=2, units=1),)),
        ),
    )
    return replace(order, **changes)


def test_new_total_adds_goods_fees_and_charges_and_takes_off_coupons_and_points() -> None:
    total = new_total(
        _order(
            payment_charge=330,
            coupon_total=200,
            points_used=100,
        ),
        {1001: 800, 1002: 500},
    )
    assert [(p.key, p.amount) for p in total.parts] == [
        (GOODS, 3240),  # 1,080 × 3, tax included (goodsPrice follows the items' tax flag)
        (POSTAGE, 1300),
        (PAYMENT_CHARGE, 330),
        (COUPONS, -200),
        (POINTS, -100),
    ]
    assert total.total == 3240 + 1300 + 330 - 200 - 100
    text = total_text(total, "ja")
    assert text.splitlines() == [
        "商品合計 (税込): 3,240円",
        "＋ 送料: 1,300円",
        "＋ 決済手数料: 330円",
        "－ クーポン: 200円",
        "－ ポイント利用: 100円",
        "＝ *請求額: 4,570円*",
    ]
    assert "Order total: ¥4,570" in total_text(total, "en")


def test_points_never_make_the_total_negative() -> None:
    total = new_total(_order(points_used=99_999), {1001: 0, 1002: 0})
    assert total.total == 0


def test_an_unknown_part_is_said_and_no_total_is_invented() -> None:
    unknown_charge = new_total(_order(payment_charge=UNSET_FEE), {1001: 800, 1002: 500})
    assert unknown_charge.total is None and unknown_charge.unknown == (PAYMENT_CHARGE,)
    text = total_text(unknown_charge, "ja")
    assert "決済手数料: 不明" in text and "請求額: 不明" in text and "RMSで確認" in text
    assert "unknown" in total_text(unknown_charge, "en")
    old = _order(wrapping_price=None, buyer_fee=None, coupon_total=None, points_used=None)
    no_model = new_total(old, {1001: 800, 1002: 500})  # stored by a version without charges
    assert no_model.total is None and set(no_model.unknown) == {
        GOODS,
        "buyer_fee",
        COUPONS,
        POINTS,
    }


def test_the_review_view_shows_fees_total_and_effect_and_keeps_the_fees() -> None:
    record = OrderRecord(
        number="123456-20261128-0000000001",
        shop="api",
        stage=Stage.NEEDS_ACTION,
        snapshot=_order(),
        stage_since=datetime(2026, 11, 28, 9, 0),
    )
    meta = FeeModalState("api", record.number, "C0SHOP2", "1.2").pack({1001: 800, 1002: 500})
    api = fee_review_modal(record, {1001: 800, 1002: 500}, True, "ja", meta)
    _assert_valid_view(api)
    text = str(api)
    assert api["callback_id"] == ids.FEE_MODAL and api["private_metadata"] == meta
    assert api["submit"]["text"] == "確定" and api["title"]["text"] == "送料の確認"
    assert "送料 800円" in text and "請求額: 4,540円" in text
    assert "RMSに送料を書き込み、注文確認通知を送信します" in text
    assert not [b for b in api["blocks"] if b["type"] == "input"]
    manual = str(fee_review_modal(record, {1001: 800, 1002: 500}, False, "ja", meta))
    assert "送料を記録します（RMSへの書き込みはしません）。RMSで送料を修正してください" in manual
    en = str(fee_review_modal(record, {1001: 800, 1002: 500}, False, "en", meta))
    assert "Records the fee (nothing is written to RMS). Fix the fee in RMS." in en
    entry = fee_modal(record, True, "ja", "m", max_fee=5000)
    assert entry["submit"]["text"] == "次へ"
    assert "0〜5,000円" in str(entry) and "RMSに送料を書き込み" in str(entry)

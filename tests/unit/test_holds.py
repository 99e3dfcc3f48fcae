"""Hold rules: every rule alone, switched off, and combined (pure, table-driven)."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

import pytest

from core.holds import Facts, HoldReason, HoldRules, extra_remarks, facts_of, hold_reasons
from core.model import Address, Item, Package, Person, RmsOrder

CLEAN = Facts(
    fee_unset=False,
    remarks_extra="",
    total=5_000,
    settlement_code=1,
    items=frozenset({"tea-01", "tea"}),
    remote_island=False,
    gift=False,
    caution=0,
    order_type=1,
    people=("山田 太郎", "03-1111-2222", "東京都千代田区1-1"),
)
H = HoldReason

CASES: list[tuple[str, dict[str, Any], HoldRules, tuple[HoldReason, ...]]] = [
    ("clean order", {}, HoldRules(), ()),
    ("-9,999 fee", {"fee_unset": True}, HoldRules(), (H.FEE_UNSET,)),
    (
        "-9,999 fee with every rule off",
        {"fee_unset": True},
        HoldRules(remarks=False, remote_island=False, gift=False, caution=False),
        (H.FEE_UNSET,),
    ),
    ("buyer remarks", {"remarks_extra": "赤いリボンで"}, HoldRules(), (H.REMARKS,)),
    ("remarks rule off", {"remarks_extra": "赤いリボンで"}, HoldRules(remarks=False), ()),
    (
        "remarks without a keyword",
        {"remarks_extra": "よろしく"},
        HoldRules(remarks_keywords=("至急", "キャンセル")),
        (),
    ),
    (
        "remarks with a keyword (width-insensitive)",
        {"remarks_extra": "ｷｬﾝｾﾙするかも"},
        HoldRules(remarks_keywords=("キャンセル",)),
        (H.REMARKS,),
    ),
    ("total below threshold", {}, HoldRules(total_at_least=5_001), ()),
    ("total at threshold", {}, HoldRules(total_at_least=5_000), (H.TOTAL,)),
    (
        "listed payment method",
        {"settlement_code": 9},
        HoldRules(payment_methods=(9,)),
        (H.PAYMENT,),
    ),
    ("COD under amount", {"settlement_code": 2}, HoldRules(cod_over=5_000), ()),
    (
        "COD over amount",
        {"settlement_code": 2, "total": 5_001},
        HoldRules(cod_over=5_000),
        (H.PAYMENT,),
    ),
    ("card over COD amount", {"total": 9_999}, HoldRules(cod_over=5_000), ()),
    ("listed item", {}, HoldRules(items=("tea",)), (H.ITEM,)),
    ("unlisted item", {}, HoldRules(items=("coffee",)), ()),
    ("remote island", {"remote_island": True}, HoldRules(), (H.REMOTE_ISLAND,)),
    ("remote island off", {"remote_island": True}, HoldRules(remote_island=False), ()),
    ("gift", {"gift": True}, HoldRules(), (H.GIFT,)),
    ("gift off", {"gift": True}, HoldRules(gift=False), ()),
    ("同梱 candidate", {"bundle_candidate": True}, HoldRules(), (H.BUNDLE_CANDIDATE,)),
    ("同梱 off", {"bundle_candidate": True}, HoldRules(bundle_candidate=False), ()),
    ("caution flag", {"caution": 1}, HoldRules(), (H.CAUTION,)),
    ("caution off", {"caution": 2}, HoldRules(caution=False), ()),
    ("reservation", {"order_type": 6}, HoldRules(), (H.RESERVATION,)),
    ("subscription", {"order_type": 4}, HoldRules(), (H.RESERVATION,)),
    ("reservation off", {"order_type": 5}, HoldRules(reservation=False), ()),
    ("blocklisted phone", {}, HoldRules(blocklist=("0311112222",)), (H.BLOCKLIST,)),
    ("blocklisted address", {}, HoldRules(blocklist=("千代田区",)), (H.BLOCKLIST,)),
    ("not blocklisted", {}, HoldRules(blocklist=("大阪府",)), ()),
    (
        "every rule at once: OR, in a fixed order",
        {
            "fee_unset": True,
            "remarks_extra": "x",
            "settlement_code": 2,
            "total": 99_999,
            "remote_island": True,
            "gift": True,
            "bundle_candidate": True,
            "caution": 1,
            "order_type": 6,
        },
        HoldRules(total_at_least=10_000, cod_over=0, items=("tea",), blocklist=("山田",)),
        tuple(H)[:-1],  # all but KEPT, which only a person sets
    ),
    ("two rules", {"gift": True, "remote_island": True}, HoldRules(), (H.REMOTE_ISLAND, H.GIFT)),
]


@pytest.mark.parametrize(
    ("facts", "rules", "expected"), [c[1:] for c in CASES], ids=[c[0] for c in CASES]
)
def test_hold_rules(
    facts: dict[str, Any], rules: HoldRules, expected: tuple[HoldReason, ...]
) -> None:
    assert hold_reasons(replace(CLEAN, **facts), rules) == expected


@pytest.mark.parametrize(
    ("remarks", "extra"),
    [
        ("[配送日時指定:]\n2026-12-05(土)\n\n\n", ""),
        ("[配送日時指定:]\n\n\n", ""),
        ("[配送日時指定:]\n2026-12-05(土)\n\n午前中に届けてください", "午前中に届けてください"),
        ("[その他要望:]\n至急", "[その他要望:]\n至急"),
        ("", ""),
    ],
)
def test_standard_remark_lines_are_not_the_buyers_words(remarks: str, extra: str) -> None:
    assert extra_remarks(remarks) == extra


def _order(raw: dict[str, Any], **kw: Any) -> RmsOrder:
    me = Person("山田", "太郎", phone="03-1111-2222", address=Address(prefecture="東京都"))
    package = Package(1, 500, recipient=me, items=(Item(1, "茶", "tea-01"),))
    base: dict[str, Any] = {"packages": (package,), "orderer": me, "total_price": 3_000}
    return RmsOrder(
        "111111-20261201-0000000001", 100, datetime(2026, 12, 1, tzinfo=UTC), raw=raw, **(base | kw)
    )


def test_facts_read_what_the_stored_snapshot_does_not_keep() -> None:
    raw = {
        "cautionDisplayType": 1,
        "orderType": 6,
        "OrdererModel": {"prefecture": "東京都", "city": "千代田区", "subAddress": "1-1"},
        "PackageModelList": [
            {
                "ItemModelList": [
                    {"manageNumber": "tea", "SkuModelList": [{"merchantDefinedSkuId": "SKU9"}]}
                ]
            }
        ],
    }
    facts = facts_of(_order(raw))
    assert (facts.caution, facts.order_type) == (1, 6)
    assert {"tea", "SKU9", "tea-01"} <= facts.items
    assert "東京都千代田区1-1" in facts.people
    assert not facts.gift


def test_a_recipient_other_than_the_orderer_is_a_gift() -> None:
    other = Person("佐藤", "花子", address=Address(prefecture="大阪府"))
    gift = _order({}, packages=(Package(1, 500, recipient=other),))
    assert facts_of(gift).gift
    assert facts_of(_order({"giftCheckFlag": 1})).gift


def test_every_rule_names_itself_in_staff_japanese_and_english() -> None:
    from handlers.render.auto_texts import HOLD_REASONS

    assert set(HOLD_REASONS) == {r.value for r in HoldReason}

"""Hold rules for auto-confirm: pure functions of one fresh RMS snapshot (no I/O, no clock).

Semantics: the rules are OR-ed — an order is held when ANY enabled rule matches, and the card
names every rule that matched. Inside one rule the listed values are OR-ed too (any listed
item, any keyword, any payment method); a rule's own conditions are AND-ed (代引き AND over
the amount). The -9,999 fee rule is always on: it cannot be switched off.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from core.model import RmsOrder

COD_SETTLEMENT = 2  # 代金引換
CAUTION_NONE = 0  # cautionDisplayType: 0 none, 1 注意喚起, 2 キャンセル確定
NORMAL_ORDER_TYPE = 1  # orderType: 1 通常購入, 4 定期購入, 5 頒布会, 6 予約商品
# RMS writes the buyer's choices into remarks as "[見出し:]" lines followed by their values;
# those are the standard lines. Anything else is what the buyer typed.
STANDARD_HEADERS = ("配送日時指定", "お届け日時指定", "のし", "ギフト", "ラッピング", "領収書")


class HoldReason(StrEnum):
    """Why auto-confirm held an order (a rule's name; shown in staff Japanese and English)."""

    FEE_UNSET = "fee_unset"  # -9,999: always held
    REMARKS = "remarks"  # the buyer wrote something in 備考 (or a listed keyword)
    TOTAL = "total"  # total at or above the shop's threshold
    PAYMENT = "payment"  # a listed payment method (e.g. 代引き over an amount)
    ITEM = "item"  # a listed item number, SKU or 商品管理番号
    REMOTE_ISLAND = "remote_island"  # 離島
    GIFT = "gift"  # recipient differs from the orderer
    BUNDLE_CANDIDATE = "bundle_candidate"  # another open order could be 同梱 with it
    CAUTION = "caution"  # RMS 顧客・配送対応注意表示 (cautionDisplayType)
    RESERVATION = "reservation"  # 予約 / 定期購入 / 頒布会
    BLOCKLIST = "blocklist"  # orderer or address on the shop's blocklist
    KEPT = "kept"  # a person chose 保留のまま


@dataclass(frozen=True, slots=True)
class HoldRules:
    """A shop's hold rules (SHOPS_FILE ``[shops.<key>.holds]``); defaults hold the odd ones."""

    remarks: bool = True
    remarks_keywords: tuple[str, ...] = ()  # set: only remarks with one of these are held
    total_at_least: int | None = None
    payment_methods: tuple[int, ...] = ()  # settlementMethodCode held at any amount
    cod_over: int | None = None  # 代金引換 held when the total is above this
    items: tuple[str, ...] = ()  # itemNumber, manageNumber or SKU id
    remote_island: bool = True
    gift: bool = True
    bundle_candidate: bool = True
    caution: bool = True
    reservation: bool = True
    blocklist: tuple[str, ...] = ()  # orderer names, phone numbers or address fragments


@dataclass(frozen=True, slots=True)
class Facts:
    """What the rules read from one order; ``raw`` fields are read here and never stored."""

    fee_unset: bool
    remarks_extra: str  # the buyer's own text, standard lines removed
    total: int
    settlement_code: int | None
    items: frozenset[str]
    remote_island: bool
    gift: bool
    caution: int
    order_type: int
    people: tuple[str, ...]  # orderer name, phone, address lines (for the blocklist)
    bundle_candidate: bool = False


def extra_remarks(remarks: str) -> str:
    """The remarks without RMS's standard "[見出し:]" lines and their values."""
    kept: list[str] = []
    in_standard = False
    for line in remarks.replace("\r\n", "\n").split("\n"):
        text = line.strip()
        if text.startswith("[") and text.endswith(":]"):
            in_standard = text[1:-2].strip() in STANDARD_HEADERS
            if not in_standard:
                kept.append(text)
            continue
        if not text:
            in_standard = False  # a blank line ends a standard block's values
            continue
        if not in_standard:
            kept.append(text)
    return "\n".join(kept)


def _norm(text: str) -> str:
    return "".join(unicodedata.normalize("NFKC", text).split()).replace("-", "").lower()


def facts_of(order: RmsOrder, *, bundle_candidate: bool = False) -> Facts:
    """Read the facts from a fresh getOrder snapshot (``order.raw`` holds the full models)."""
    raw: Mapping[str, Any] = order.raw
    items: set[str] = set()
    for package in raw.get("PackageModelList") or []:
        for item in package.get("ItemModelList") or []:
            for key in ("itemNumber", "manageNumber"):
                if item.get(key):
                    items.add(str(item[key]))
            for sku in item.get("SkuModelList") or []:
                for key in ("variantId", "merchantDefinedSkuId"):
                    if sku.get(key):
                        items.add(str(sku[key]))
    items.update(i.item_number for p in order.packages for i in p.items if i.item_number)
    orderer = raw.get("OrdererModel") or {}
    address = "".join(str(orderer.get(k) or "") for k in ("prefecture", "city", "subAddress"))
    phone = "".join(str(orderer.get(f"phoneNumber{i}") or "") for i in (1, 2, 3))
    people = [order.orderer.name, order.orderer.phone or phone, address]
    people += [p.recipient.address.one_line() for p in order.packages]
    return Facts(
        fee_unset=order.fee_unset,
        remarks_extra=extra_remarks(order.remarks),
        total=order.total_price,
        settlement_code=order.settlement_code,
        items=frozenset(items),
        remote_island=bool(raw.get("isolatedIslandFlag"))
        or any(p.isolated_island for p in order.packages),
        gift=bool(raw.get("giftCheckFlag")) or _recipient_differs(order),
        caution=int(raw.get("cautionDisplayType") or CAUTION_NONE),
        order_type=int(raw.get("orderType") or NORMAL_ORDER_TYPE),
        people=tuple(p for p in people if p),
        bundle_candidate=bundle_candidate,
    )


def _recipient_differs(order: RmsOrder) -> bool:
    """A gift: some package goes to someone other than the orderer (name or prefecture)."""
    me = order.orderer
    return any(
        _norm(p.recipient.name) != _norm(me.name)
        or (p.recipient.address.prefecture or me.address.prefecture) != me.address.prefecture
        for p in order.packages
    )


def hold_reasons(facts: Facts, rules: HoldRules) -> tuple[HoldReason, ...]:
    """Every rule that holds this order, in a fixed order; empty means confirm it."""
    found: list[HoldReason] = []
    if facts.fee_unset:
        found.append(HoldReason.FEE_UNSET)
    if rules.remarks and facts.remarks_extra:
        keywords = rules.remarks_keywords
        if not keywords or any(_norm(k) in _norm(facts.remarks_extra) for k in keywords):
            found.append(HoldReason.REMARKS)
    if rules.total_at_least is not None and facts.total >= rules.total_at_least:
        found.append(HoldReason.TOTAL)
    cod = facts.settlement_code == COD_SETTLEMENT
    if facts.settlement_code in rules.payment_methods or (
        cod and rules.cod_over is not None and facts.total > rules.cod_over
    ):
        found.append(HoldReason.PAYMENT)
    if rules.items and facts.items & set(rules.items):
        found.append(HoldReason.ITEM)
    if rules.remote_island and facts.remote_island:
        found.append(HoldReason.REMOTE_ISLAND)
    if rules.gift and facts.gift:
        found.append(HoldReason.GIFT)
    if rules.bundle_candidate and facts.bundle_candidate:
        found.append(HoldReason.BUNDLE_CANDIDATE)
    if rules.caution and facts.caution != CAUTION_NONE:
        found.append(HoldReason.CAUTION)
    if rules.reservation and facts.order_type != NORMAL_ORDER_TYPE:
        found.append(HoldReason.RESERVATION)
    if rules.blocklist and _blocked(facts.people, rules.blocklist):
        found.append(HoldReason.BLOCKLIST)
    return tuple(found)


def _blocked(people: tuple[str, ...], blocklist: tuple[str, ...]) -> bool:
    values = [_norm(p) for p in people]
    return any(_norm(b) and _norm(b) in v for b in blocklist for v in values)

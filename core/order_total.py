"""The order total a shipping fee would give; an unknown part stays unknown."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from core.model import UNSET_FEE, RmsOrder

GOODS, POSTAGE, COD_FEE, PAYMENT_CHARGE, BUYER_FEE, COUPONS, POINTS = (
    "goods",
    "postage",
    "cod_fee",
    "payment_charge",
    "buyer_fee",
    "coupons",
    "points",
)


@dataclass(frozen=True, slots=True)
class TotalPart:
    """One term of 請求額: a deduction has a negative amount; None means RMS did not tell us."""

    key: str
    amount: int | None


@dataclass(frozen=True, slots=True)
class NewTotal:
    """商品合計 + 送料 … = 請求額, as RMS will compute it once the fee is written."""

    parts: tuple[TotalPart, ...]

    @property
    def unknown(self) -> tuple[str, ...]:
        """The parts we cannot know (the total is then unknown too)."""
        return tuple(p.key for p in self.parts if p.amount is None)

    @property
    def total(self) -> int | None:
        """請求額 (requestPrice): never below 0 (points can pay for everything)."""
        if self.unknown:
            return None
        return max(sum(p.amount or 0 for p in self.parts), 0)


def new_total(order: RmsOrder, fees: Mapping[int, int]) -> NewTotal:
    """requestPrice = items (tax incl.) + wrapping + postage + COD fee + payment charge
    + buyer fee − coupons − points.

    Items come from the packages (priceTaxIncl × units) because goodsPrice follows each item's
    own tax flag; the rest from the snapshot's charges. Terms that are 0 are left out, except
    the goods and the postage, which are always shown.
    """
    parts = [
        TotalPart(GOODS, _goods(order)),
        TotalPart(POSTAGE, sum(fees.get(p.basket_id, 0) for p in order.packages)),
        TotalPart(COD_FEE, _known(order.delivery_price)),
        TotalPart(PAYMENT_CHARGE, _known(order.payment_charge)),
        TotalPart(BUYER_FEE, order.buyer_fee),
        TotalPart(COUPONS, _negated(order.coupon_total)),
        TotalPart(POINTS, _negated(order.points_used)),
    ]
    return NewTotal(
        tuple(p for p in parts if p.key in (GOODS, POSTAGE) or p.amount is None or p.amount != 0)
    )


def _known(amount: int | None) -> int | None:
    return None if amount is None or amount == UNSET_FEE else amount


def _negated(amount: int | None) -> int | None:
    return None if amount is None else -amount


def _goods(order: RmsOrder) -> int | None:
    items = [i for p in order.packages for i in p.items]
    if not items:
        return _known(order.goods_price)
    if order.wrapping_price is None:
        return None
    return sum(i.price_tax_incl * i.units for i in items) + order.wrapping_price

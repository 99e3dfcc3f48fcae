"""Money: recompute package and order totals and TaxSummaryModelList, -9999 aware."""

from __future__ import annotations

import math
from collections.abc import Iterable
from typing import Any

from sandbox.rms.catalog import UNSET

Json = dict[str, Any]


def _sum_or_unset(values: Iterable[int]) -> int:
    values = list(values)
    return UNSET if UNSET in values else sum(values)


def recompute_totals(model: Json) -> None:
    """Recompute package and order totals and TaxSummaryModelList.

    goodsPrice follows each item's own tax flag; totalPrice is tax-inclusive items + postage; any
    unset (-9999) postage makes the dependent totals -9999, as RMS reports them.
    """
    packages = [p for p in model["PackageModelList"] if not p.get("packageDeleteFlag")]
    by_rate: dict[float, int] = {}
    for package in packages:
        items = [i for i in package["ItemModelList"] if not i.get("deleteItemFlag")]
        package["goodsPrice"] = sum(i["price"] * i["units"] for i in items)
        incl = sum(i["priceTaxIncl"] * i["units"] for i in items)
        postage = package["postagePrice"]
        package["totalPrice"] = UNSET if postage == UNSET else incl + postage
        for item in items:
            rate = float(item["taxRate"])
            by_rate[rate] = by_rate.get(rate, 0) + item["priceTaxIncl"] * item["units"]
        if postage != UNSET:
            rate = float(package["postageTaxRate"])
            by_rate[rate] = by_rate.get(rate, 0) + postage
    postage = _sum_or_unset(p["postagePrice"] for p in packages)
    delivery = _sum_or_unset(p["deliveryPrice"] for p in packages)
    total = _sum_or_unset(p["totalPrice"] for p in packages)
    charge = model["paymentCharge"]
    coupons = model["couponAllTotalPrice"]
    points = (model.get("PointModel") or {}).get("usedPoint") or 0
    model["goodsPrice"] = sum(p["goodsPrice"] for p in packages)
    model["postagePrice"] = postage
    model["deliveryPrice"] = delivery
    model["totalPrice"] = total
    unknown = UNSET in (total, delivery, charge)
    requested = max(total + delivery + charge - coupons - points, 0)
    model["requestPrice"] = UNSET if unknown else requested
    summary = []
    extra_rate = float(model.get("paymentChargeTaxRate") or 0.1)
    for rate in sorted(by_rate, reverse=True):
        extra = (0 if delivery == UNSET else delivery) + charge if rate == extra_rate else 0
        req = by_rate[rate] + extra
        summary.append(
            {
                "taxRate": rate,
                "reqPrice": UNSET if unknown else req,
                "reqPriceTax": UNSET if unknown else math.floor(req * rate / (1 + rate)),
                "totalPrice": UNSET if total == UNSET else by_rate[rate],
                "paymentCharge": charge if rate == extra_rate else 0,
                "couponPrice": 0,
                "point": 0,
            }
        )
    model["TaxSummaryModelList"] = summary

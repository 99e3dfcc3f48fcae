"""Build realistic OrderModel JSON (the getOrder version 10 superset) for a new order."""

from __future__ import annotations

import math
import random
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from sandbox.rms.catalog import (
    ADDRESSES,
    CARD_BRANDS,
    COD_FEE,
    ISLAND_ADDRESSES,
    ITEMS,
    JST,
    PEOPLE,
    SELECTIVE_SETTLEMENTS,
    SETTLEMENT_NAMES,
    fmt_datetime,
)
from sandbox.rms.totals import recompute_totals

Json = dict[str, Any]


def _person(rng: random.Random, *, island: bool = False) -> Json:
    family, first, family_kana, first_kana = rng.choice(PEOPLE)
    zip1, zip2, pref, city, sub, tel1, tel2 = rng.choice(ISLAND_ADDRESSES if island else ADDRESSES)
    return {
        "zipCode1": zip1,
        "zipCode2": zip2,
        "prefecture": pref,
        "city": city,
        "subAddress": sub,
        "familyName": family,
        "firstName": first,
        "familyNameKana": family_kana,
        "firstNameKana": first_kana,
        "phoneNumber1": tel1,
        "phoneNumber2": tel2,
        "phoneNumber3": f"{rng.randrange(10000):04d}",
    }


def _orderer(rng: random.Random, overrides: Json | None) -> Json:
    model = _person(rng)
    model.update(
        {
            "emailAddress": f"{rng.getrandbits(128):032x}s{rng.randrange(10)}@pc.fw.rakuten.ne.jp",
            "sex": rng.choice(("男", "女")),
            "birthYear": rng.randrange(1950, 2005),
            "birthMonth": rng.randrange(1, 13),
            "birthDay": rng.randrange(1, 29),
        }
    )
    model.update(overrides or {})
    return model


def _settlement(rng: random.Random, code: int) -> Json:
    card = code == 1
    return {
        "settlementMethodCode": code,
        "settlementMethod": SETTLEMENT_NAMES.get(code, "その他"),
        "rpaySettlementFlag": 0 if code in SELECTIVE_SETTLEMENTS else 1,
        "cardName": rng.choice(CARD_BRANDS) if card else None,
        "cardNumber": f"XXXX-XXXX-XXXX-{rng.randrange(10000):04d}" if card else None,
        "cardOwner": "XXXXXXXX XXXXXXXX" if card else None,
        "cardYm": f"{rng.randrange(2027, 2034)}-{rng.randrange(1, 13):02d}" if card else None,
        "cardPayType": 0 if card else None,
        "cardInstallmentDesc": None,
    }


def _item(rng: random.Random, item_detail_id: int) -> Json:
    name, manage, price, incl_tax, rate, choice = rng.choice(ITEMS)
    number = f"{manage}-{rng.randrange(100):02d}"
    return {
        "itemDetailId": item_detail_id,
        "itemName": name,
        "itemId": rng.randrange(10**7, 10**8),
        "itemNumber": number,
        "manageNumber": manage,
        "price": price,
        "units": rng.choice((1, 1, 2)),
        "includePostageFlag": 0,
        "includeTaxFlag": incl_tax,
        "includeCashOnDeliveryPostageFlag": 0,
        "selectedChoice": choice,
        "pointRate": 1,
        "pointType": 0,
        "inventoryType": 1,
        "delvdateInfo": "3営業日以内に発送",
        "restoreInventoryFlag": 0,
        "dealFlag": 0,
        "drugFlag": 0,
        "deleteItemFlag": 0,
        "taxRate": rate,
        "priceTaxIncl": price if incl_tax else math.floor(price * (1 + rate)),
        "isSingleItemShipping": 0,
        "SkuModelList": [{"variantId": number, "merchantDefinedSkuId": None, "skuInfo": choice}],
    }


def build_order_model(
    rng: random.Random,
    next_id: Callable[[], int],
    *,
    number: str,
    ordered_at: datetime,
    postages: list[int],
    settlement_code: int,
    prepay: bool,
    orderer: Json | None,
    recipient: Json | None,
    items: int,
    isolated_island: bool,
) -> Json:
    """Return a fresh orderProgress-100 OrderModel with consistent totals."""
    buyer = _orderer(rng, orderer)
    cod = settlement_code == 2
    packages = []
    for index, postage in enumerate(postages):
        if recipient is not None or isolated_island or index > 0:
            sender = _person(rng, island=isolated_island)
        else:
            sender = {k: v for k, v in buyer.items() if k in _person_keys()}
        sender.update(recipient or {})
        sender["isolatedIslandFlag"] = 1 if isolated_island else 0
        basket_id = next_id()
        ids = [basket_id] + [next_id() for _ in range(max(items, 1) - 1)]
        packages.append(
            {
                "basketId": basket_id,
                "postagePrice": postage,
                "postageTaxRate": 0.1,
                "deliveryPrice": COD_FEE if cod else 0,
                "deliveryTaxRate": 0.1,
                "goodsPrice": 0,
                "totalPrice": 0,
                "noshi": None,
                "defaultDeliveryCompanyCode": "1001",
                "dropOffFlag": 0,
                "dropOffLocation": None,
                "packageDeleteFlag": 0,
                "SenderModel": sender,
                "ItemModelList": [_item(rng, i) for i in ids],
                "ShippingModelList": [],
                "DeliveryCvsModel": None,
            }
        )
    ordered_jst = ordered_at.astimezone(JST)
    wish = ordered_jst.date() + timedelta(days=rng.randrange(3, 8))
    remarks = "[配送日時指定:]\n" + (f"{wish.isoformat()}\n\n\n" if rng.random() < 0.5 else "\n\n")
    due_dates = []
    if prepay:
        due = (ordered_jst.date() + timedelta(days=7)).isoformat()
        due_dates = [{"dueDateType": 0, "dueDate": due}]
    model: Json = {
        "orderNumber": number,
        "orderProgress": 100,
        "subStatusId": None,
        "subStatusName": None,
        "orderDatetime": fmt_datetime(ordered_at),
        "shopOrderCfmDatetime": None,
        "orderFixDatetime": None,
        "shippingInstDatetime": None,
        "shippingCmplRptDatetime": None,
        "cancelDueDate": (ordered_jst.date() + timedelta(days=14)).isoformat(),
        "deliveryDate": None,
        "shippingTerm": None,
        "remarks": remarks,
        "giftCheckFlag": 0,
        "severalSenderFlag": 1 if len(packages) > 1 else 0,
        "equalSenderFlag": 1
        if len(packages) == 1 and recipient is None and not isolated_island
        else 0,
        "isolatedIslandFlag": 1 if isolated_island else 0,
        "rakutenMemberFlag": 1,
        "carrierCode": 0,
        "emailCarrierCode": 0,
        "orderType": 1,
        "reserveNumber": None,
        "reserveDeliveryCount": None,
        "cautionDisplayType": 0,
        "cautionDisplayDetailType": None,
        "rakutenConfirmFlag": 0,
        "goodsPrice": 0,
        "goodsTax": 0,
        "postagePrice": 0,
        "deliveryPrice": 0,
        "paymentCharge": 0,
        "paymentChargeTaxRate": 0.1,
        "totalPrice": 0,
        "requestPrice": 0,
        "couponAllTotalPrice": 0,
        "couponShopPrice": 0,
        "couponOtherPrice": 0,
        "additionalFeeOccurAmountToUser": 0,
        "additionalFeeOccurAmountToShop": 0,
        "asurakuFlag": 0,
        "drugFlag": 0,
        "dealFlag": 0,
        "isTaxRecalc": 0,
        "deliveryCertPrgFlag": 0,
        "oneDayOperationFlag": 0,
        "membershipType": 0,
        "memo": None,
        "operator": None,
        "mailPlugSentence": None,
        "modifyFlag": 0,
        "receiptIssueCount": 0,
        "receiptIssueHistoryList": [],
        "socialGiftFlag": 0,
        "OrdererModel": buyer,
        "SettlementModel": _settlement(rng, settlement_code),
        "DeliveryModel": {"deliveryName": "宅配便", "deliveryClass": None},
        "PointModel": {"usedPoint": 0},
        "WrappingModel1": None,
        "WrappingModel2": None,
        "PackageModelList": packages,
        "CouponModelList": None,
        "ChangeReasonModelList": [],
        "TaxSummaryModelList": [],
        "DueDateModelList": due_dates,
        "SocialGiftModel": None,
    }
    recompute_totals(model)
    return model


def _person_keys() -> frozenset[str]:
    return frozenset(
        {
            "zipCode1",
            "zipCode2",
            "prefecture",
            "city",
            "subAddress",
            "familyName",
            "firstName",
            "familyNameKana",
            "firstNameKana",
            "phoneNumber1",
            "phoneNumber2",
            "phoneNumber3",
        }
    )

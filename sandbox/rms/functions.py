"""The RakutenPay order functions as pure (state, shop, body, now) -> (status, JSON) handlers."""

from __future__ import annotations

import copy
import math
from collections.abc import Callable
from datetime import datetime
from typing import Any

from sandbox.rms.catalog import UNSET
from sandbox.rms.faults import BATCH_400_WITH_PER_ORDER_MESSAGES
from sandbox.rms.messages import Reply, bad, error, is_int, message, missing, numbers_errors
from sandbox.rms.records import Shop
from sandbox.rms.search import search_order
from sandbox.rms.state import RmsState
from sandbox.rms.totals import recompute_totals
from sandbox.rms.versions import version_view


def get_order(state: RmsState, shop: Shop, body: dict[str, Any], now: datetime) -> Reply:
    p = "GET_ORDER"
    errors = numbers_errors(p, body)
    version = body.get("version")
    if version is None:
        errors.append(missing(p, "version"))
    elif not is_int(version) or not 3 <= version <= 10:
        errors.append(bad(p, "version"))
    if errors:
        return 400, {"MessageModelList": errors, "OrderModelList": None}
    version = int(body["version"])
    found, absent = [], []
    for number in dict.fromkeys(body["orderNumberList"]):
        order = state.find(shop, number)
        if order is None:
            absent.append(
                message(
                    "INFO",
                    "ORDER_EXT_API_GET_ORDER_INFO_102",
                    "受注情報が取得できませんでした。",
                    number,
                )
            )
        else:
            found.append(version_view(order.model, version))
    head = message(
        "INFO",
        "ORDER_EXT_API_GET_ORDER_INFO_101",
        f"受注情報取得に成功しました。(取得件数{len(found)}件)",
    )
    reply: dict[str, Any] = {"version": version} if version >= 6 else {}
    reply.update({"MessageModelList": [head, *absent], "OrderModelList": found})
    return 200, reply


# --- confirmOrder --------------------------------------------------------------------------
def confirm_order(state: RmsState, shop: Shop, body: dict[str, Any], now: datetime) -> Reply:
    errors = numbers_errors("CONFIRM_ORDER", body)
    if errors:
        return 400, {"MessageModelList": errors}
    results, refused = [], False
    for number in body["orderNumberList"]:
        ok, code, text = state.confirm(shop, number, now)
        refused = refused or not ok
        results.append(message("INFO" if ok else "ERROR", code, text, number))
    # Mixed results are documented only by analogy as 200; the quirk answers
    # 400 instead, with the same per-order messages, so the client can be tested against both.
    strict = refused and BATCH_400_WITH_PER_ORDER_MESSAGES in state.quirks
    return (400 if strict else 200), {"MessageModelList": results}


# --- updateOrderSender ---------------------------------------------------------------------
def update_order_sender(state: RmsState, shop: Shop, body: dict[str, Any], now: datetime) -> Reply:
    p = "UPDATE_ORDERSENDER"
    number = body.get("orderNumber")
    packages = body.get("PackageModelList")
    errors = []
    if number is None:
        errors.append(missing(p, "orderNumber"))
    if packages is None:
        errors.append(missing(p, "PackageModelList"))
    elif not isinstance(packages, list) or not all(isinstance(x, dict) for x in packages):
        errors.append(bad(p, "PackageModelList"))
    elif any(x.get("basketId") is None for x in packages):
        errors.append(missing(p, "basketId"))
    elif not all(is_int(x["basketId"]) for x in packages):
        errors.append(bad(p, "basketId"))
    if errors:
        return 400, {"MessageModelList": errors}
    packages = list(body["PackageModelList"])
    order = state.find(shop, number)
    if order is None:
        return 400, {"MessageModelList": [error(p, "101", "指定された注文番号は存在しません。")]}
    if order.progress not in (100, 200, 300):
        return 400, {
            "MessageModelList": [
                error(p, "102", "該当の注文は送付先情報の更新ができる状態ではありませんでした。")
            ]
        }
    by_id = {x["basketId"]: x for x in order.model["PackageModelList"]}
    if any(x["basketId"] not in by_id for x in packages):
        return 400, {"MessageModelList": [error(p, "103", "basketIdが不正です。")]}
    before = order.model["totalPrice"]
    draft = _apply_sender(order.model, packages)
    after = draft["totalPrice"]
    if UNSET not in (before, after) and after < before and body.get("reductionReason") is None:
        return 400, {"MessageModelList": [missing(p, "reductionReason")]}
    order.model.clear()
    order.model.update(draft)
    state.sender_updates.append((order.number, body))
    return 200, {
        "MessageModelList": [
            message(
                "INFO",
                "ORDER_EXT_API_UPDATE_ORDERSENDER_INFO_101",
                "送付先情報の更新設定が完了しました。",
                order.number,
            )
        ]
    }


_PACKAGE_FIELDS = (
    "postagePrice",
    "postageTaxRate",
    "deliveryPrice",
    "deliveryTaxRate",
    "noshi",
    "packageDeleteFlag",
)
_ITEM_FIELDS = ("price", "units", "deleteItemFlag")


def _apply_sender(model: dict[str, Any], packages: list[dict[str, Any]]) -> dict[str, Any]:
    """Return a recomputed copy of ``model`` with the request's package and item edits applied."""
    draft = copy.deepcopy(model)
    by_id = {x["basketId"]: x for x in draft["PackageModelList"]}
    for sent in packages:
        target = by_id[sent["basketId"]]
        _copy_fields(sent, target, _PACKAGE_FIELDS)
        if isinstance(sent.get("SenderModel"), dict):
            target["SenderModel"].update(
                {k: v for k, v in sent["SenderModel"].items() if k in target["SenderModel"]}
            )
        items = {i["itemDetailId"]: i for i in target["ItemModelList"]}
        for sent_item in sent.get("ItemModelList") or ():
            item = items.get(sent_item.get("itemDetailId"))
            if item is not None:
                _copy_fields(sent_item, item, _ITEM_FIELDS)
                if "price" in sent_item:
                    rate = 0 if item["includeTaxFlag"] else item["taxRate"]
                    item["priceTaxIncl"] = math.floor(item["price"] * (1 + rate))
    recompute_totals(draft)
    return draft


def _copy_fields(source: dict[str, Any], target: dict[str, Any], names: tuple[str, ...]) -> None:
    for name in names:
        if name in source:
            target[name] = source[name]


FUNCTIONS: dict[str, Callable[[RmsState, Shop, dict[str, Any], datetime], Reply]] = {
    "searchOrder": search_order,
    "getOrder": get_order,
    "confirmOrder": confirm_order,
    "updateOrderSender": update_order_sender,
}
PREFIXES = {
    "searchOrder": "SEARCH_ORDER",
    "getOrder": "GET_ORDER",
    "confirmOrder": "CONFIRM_ORDER",
    "updateOrderSender": "UPDATE_ORDERSENDER",
}

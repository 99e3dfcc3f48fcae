"""searchOrder: validation, filtering, sorting and paging with RMS's limits."""

from __future__ import annotations

import math
import re
from datetime import datetime, timedelta
from typing import Any

from sandbox.rms.messages import Reply, bad, error, is_int, message, missing
from sandbox.rms.records import Shop
from sandbox.rms.state import RmsState

SEARCH_CAP = 15_000
MAX_PAGE_SIZE = 1000
MAX_WINDOW = timedelta(days=63)
MAX_LOOKBACK = timedelta(days=730)
_DATETIME = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\+0900")
_DATE_FIELDS = {
    1: "orderDatetime",
    2: "shopOrderCfmDatetime",
    3: "orderFixDatetime",
    4: "shippingInstDatetime",
    5: "shippingCmplRptDatetime",
    6: "orderFixDatetime",
}


def search_order(state: RmsState, shop: Shop, body: dict[str, Any], now: datetime) -> Reply:
    errors, bounds = _search_errors(body, now)
    if errors:
        return 400, {
            "orderNumberList": None,
            "MessageModelList": errors,
            "PaginationResponseModel": None,
        }
    start, end = bounds
    page_model = body.get("PaginationRequestModel") or {}
    size = page_model.get("requestRecordsAmount") or 30
    page = page_model.get("requestPage") or 1
    field = _DATE_FIELDS[body["dateType"]]
    progress = set(body.get("orderProgressList") or ())
    settlement = body.get("settlementMethod")
    hits = []
    for order in state.orders.values():
        stamp = order.model.get(field)
        if order.shop_id != shop.shop_id or stamp is None:
            continue
        at = datetime.strptime(stamp, "%Y-%m-%dT%H:%M:%S%z")
        if not start <= at <= end or (progress and order.progress not in progress):
            continue
        if settlement and order.model["SettlementModel"]["settlementMethodCode"] != settlement:
            continue
        hits.append((at, order.number))
    sorts = page_model.get("SortModelList") or [{}]
    hits.sort(reverse=sorts[0].get("sortDirection") == 2)
    if not hits:
        none = message(
            "INFO", "ORDER_EXT_API_SEARCH_ORDER_INFO_102", "注文検索に成功しました。(検索結果０件)"
        )
        return 200, {
            "orderNumberList": [],
            "MessageModelList": [none],
            "PaginationResponseModel": {
                "totalRecordsAmount": None,
                "totalPages": None,
                "requestPage": None,
            },
        }
    reachable = hits[:SEARCH_CAP]
    numbers = [n for _, n in reachable[(page - 1) * size : page * size]]
    return 200, {
        "orderNumberList": numbers,
        "MessageModelList": [
            message("INFO", "ORDER_EXT_API_SEARCH_ORDER_INFO_101", "注文検索に成功しました。")
        ],
        "PaginationResponseModel": {
            "totalRecordsAmount": len(hits),
            "totalPages": math.ceil(len(hits) / size),
            "requestPage": page,
        },
    }


def _search_errors(body: dict[str, Any], now: datetime) -> tuple[list[Any], Any]:
    p = "SEARCH_ORDER"
    errors = []
    if body.get("dateType") is None:
        errors.append(missing(p, "dateType"))
    elif not is_int(body["dateType"]) or body["dateType"] not in _DATE_FIELDS:
        errors.append(bad(p, "dateType"))
    stamps = {}
    for name in ("startDatetime", "endDatetime"):
        value = body.get(name)
        if value is None:
            errors.append(missing(p, name))
        elif value == "":
            errors.append(error(p, "010", f"{name}の値を指定して下さい。"))
        elif not isinstance(value, str) or not _DATETIME.fullmatch(value):
            errors.append(bad(p, name))
        else:
            try:
                stamps[name] = datetime.strptime(value, "%Y-%m-%dT%H:%M:%S%z")
            except ValueError:
                errors.append(bad(p, name))
    if len(stamps) == 2:
        start, end = stamps["startDatetime"], stamps["endDatetime"]
        if end < start:
            errors.append(error(p, "012", "endDatetimeはstartDatetime以降を指定して下さい。"))
        elif end - start > MAX_WINDOW:
            errors.append(error(p, "013", "検索期間は63日以内で指定して下さい。"))
        if start < now - MAX_LOOKBACK:
            errors.append(error(p, "014", "startDatetimeは730日以内を指定して下さい。"))
    progress = body.get("orderProgressList")
    if progress is not None and (
        not isinstance(progress, list)
        or any(not is_int(v) or v not in range(100, 1000, 100) for v in progress)
    ):
        errors.append(bad(p, "orderProgressList"))
    page_model = body.get("PaginationRequestModel")
    if page_model is not None:
        if not isinstance(page_model, dict):
            errors.append(bad(p, "PaginationRequestModel"))
        else:
            size = page_model.get("requestRecordsAmount")
            if size is not None and (not is_int(size) or not 1 <= size <= MAX_PAGE_SIZE):
                errors.append(error(p, "015", "requestRecordsAmountは1〜1000で指定して下さい。"))
            page = page_model.get("requestPage")
            if page is not None and (not is_int(page) or page < 1):
                errors.append(bad(p, "requestPage"))
    return errors, (stamps.get("startDatetime"), stamps.get("endDatetime"))

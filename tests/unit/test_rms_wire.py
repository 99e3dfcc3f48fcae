"""RMS wire models, request builders, datetime rules and the HTTP-answer translation table."""

from __future__ import annotations

import copy
import json
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from pydantic import ValidationError

from core import errors
from core.model import UNSET_FEE
from core.rms.translate import interpret, validate
from core.rms.wire import (
    JST,
    MAX_WINDOW,
    GetOrderResponse,
    LicenseExpiryResponse,
    OrderModel,
    SearchOrderResponse,
    format_rms_datetime,
    halve,
    search_windows,
    update_sender_body,
)


def _sample_order() -> dict[str, Any]:
    """Shaped like the official ver9 sample: one package, postage 500."""
    return {
        "orderNumber": "123456-20240624-0000670258",
        "orderProgress": 100,
        "subStatusId": None,
        "subStatusName": None,
        "orderDatetime": "2024-06-24T13:40:33+0900",
        "shopOrderCfmDatetime": None,
        "orderFixDatetime": None,
        "shippingInstDatetime": None,
        "cancelDueDate": "2024-07-08",
        "remarks": "[配送日時指定:]\n2024-06-25(火)\n",
        "goodsPrice": 1500,
        "postagePrice": 500,
        "deliveryPrice": 0,
        "paymentCharge": 0,
        "totalPrice": 2150,
        "requestPrice": 0,
        "couponAllTotalPrice": 0,
        "OrdererModel": {
            "zipCode1": "150",
            "zipCode2": "0002",
            "prefecture": "東京都",
            "city": "渋谷区",
            "subAddress": "渋谷２丁目２１−１",
            "familyName": "山田",
            "firstName": "花子",
            "familyNameKana": "ヤマダ",
            "firstNameKana": "ハナコ",
            "phoneNumber1": "03",
            "phoneNumber2": "5468",
            "phoneNumber3": None,
            "emailAddress": "abc@pc.fw.rakuten.ne.jp",
            "sex": "女",
        },
        "SettlementModel": {
            "settlementMethodCode": 1,
            "settlementMethod": "クレジットカード",
            "rpaySettlementFlag": 1,
            "cardNumber": "XXXX-XXXX-XXXX-0134",
        },
        "DeliveryModel": {"deliveryName": "宅配便", "deliveryClass": None},
        "PointModel": {"usedPoint": 2150},
        "WrappingModel1": None,
        "WrappingModel2": None,
        "PackageModelList": [
            {
                "basketId": 10001,
                "postagePrice": 500,
                "postageTaxRate": 0.1,
                "deliveryPrice": 0,
                "goodsPrice": 1500,
                "totalPrice": 2150,
                "noshi": None,
                "SenderModel": {
                    "zipCode1": "150",
                    "zipCode2": "0002",
                    "prefecture": "東京都",
                    "city": "渋谷区",
                    "subAddress": "渋谷２丁目２１−１",
                    "familyName": "山田",
                    "firstName": "花子",
                    "phoneNumber1": "03",
                    "phoneNumber2": "5468",
                    "phoneNumber3": "0000",
                    "isolatedIslandFlag": 0,
                },
                "ItemModelList": [
                    {
                        "itemDetailId": 10001,
                        "itemName": "ステンレス タンブラー",
                        "itemNumber": "tumbler-420",
                        "price": 1500,
                        "units": 1,
                        "includeTaxFlag": 0,
                        "taxRate": 0.1,
                        "priceTaxIncl": 1650,
                        "selectedChoice": "カラー:ネイビー",
                        "SkuModelList": [{"variantId": "v1", "skuInfo": "カラー:ネイビー"}],
                    }
                ],
                "ShippingModelList": [],
            }
        ],
        "CouponModelList": None,
        "ChangeReasonModelList": [],
        "TaxSummaryModelList": [{"taxRate": 0.1, "reqPrice": 0, "point": 0}],
        "someFieldFromVersion11": {"ignored": True},
    }


def _multi_package_unset_order() -> dict[str, Any]:
    """Two destinations, one with undetermined postage (-9999), wrapping and a coupon."""
    order = _sample_order()
    order["orderNumber"] = "123456-20240625-0000670301"
    second = copy.deepcopy(order["PackageModelList"][0])
    second.update({"basketId": 10005, "postagePrice": UNSET_FEE, "totalPrice": UNSET_FEE})
    second["SenderModel"].update({"prefecture": "沖縄県", "isolatedIslandFlag": 1})
    order["PackageModelList"].append(second)
    order.update({"postagePrice": UNSET_FEE, "totalPrice": UNSET_FEE, "requestPrice": UNSET_FEE})
    order["WrappingModel1"] = {"title": 1, "name": "包装紙", "price": 200, "includeTaxFlag": 1}
    order["CouponModelList"] = [{"couponCode": "C1", "couponPrice": 100, "couponUnit": 1}]
    return order


# --- parsing -----------------------------------------------------------------------------------
def test_sample_order_becomes_a_domain_order() -> None:
    raw = _sample_order()
    order = OrderModel.model_validate(raw).to_domain()
    assert order.number == "123456-20240624-0000670258"
    assert order.progress == 100
    assert order.ordered_at == datetime(2024, 6, 24, 13, 40, 33, tzinfo=JST)
    assert order.ordered_at.utcoffset() == timedelta(hours=9)
    assert order.cancel_due == date(2024, 7, 8)
    assert order.confirmed_at is None
    assert order.orderer.name == "山田 花子"
    assert order.orderer.phone == "03-5468"
    assert order.orderer.address.one_line() == "〒150-0002 東京都渋谷区渋谷２丁目２１−１"
    assert (order.settlement, order.settlement_code) == ("クレジットカード", 1)
    assert order.delivery_name == "宅配便"
    assert (order.goods_price, order.postage_price, order.total_price) == (1500, 500, 2150)
    [package] = order.packages
    assert (package.basket_id, package.postage_price) == (10001, 500)
    assert not package.isolated_island
    [item] = package.items
    assert (item.name, item.price, item.price_tax_incl, item.units) == (
        "ステンレス タンブラー",
        1500,
        1650,
        1,
    )
    assert not order.fee_unset
    assert order.raw is raw


def test_unset_postage_of_one_package_is_reported() -> None:
    order = OrderModel.model_validate(_multi_package_unset_order()).to_domain()
    assert [p.postage_price for p in order.packages] == [500, UNSET_FEE]
    assert order.packages[1].isolated_island
    assert order.fee_unset
    assert order.unset_fee_fields() == ("postagePrice", "PackageModelList[10005].postagePrice")


def test_nulls_and_missing_optional_keys_are_tolerated() -> None:
    raw = {
        "orderNumber": "123456-20240624-0000000001",
        "orderProgress": 300,
        "orderDatetime": "2024-06-24T13:40:33+0900",
        "shopOrderCfmDatetime": "2024-06-24T14:00:00+0900",
        "orderFixDatetime": "2024-06-24T14:31:07+0900",
        "cancelDueDate": None,
        "remarks": None,
        "OrdererModel": None,
        "SettlementModel": None,
        "DeliveryModel": None,
        "goodsPrice": None,
        "postagePrice": None,
        "PackageModelList": [
            {"basketId": 1, "postagePrice": None, "SenderModel": None, "ItemModelList": None}
        ],
        "CouponModelList": None,
    }
    order = OrderModel.model_validate(raw).to_domain()
    assert order.fixed_at == datetime(2024, 6, 24, 5, 31, 7, tzinfo=UTC)
    assert order.cancel_due is None
    assert order.remarks == ""
    assert order.orderer.name == ""
    assert order.settlement_code is None
    assert order.goods_price == 0
    assert order.postage_price == UNSET_FEE  # null postage is as undetermined as -9999
    assert order.packages[0].items == ()


@pytest.mark.parametrize("missing", ["orderNumber", "orderProgress", "orderDatetime"])
def test_an_order_without_a_required_key_is_invalid(missing: str) -> None:
    raw = _sample_order()
    del raw[missing]
    with pytest.raises(ValidationError):
        OrderModel.model_validate(raw)


@pytest.mark.parametrize(
    "stamp",
    [
        "2024-06-24T13:40:33+0900",
        "2024-06-24T13:40:33+09:00",
        "2024-06-24T04:40:33Z",
        "2024-06-24T13:40:33",
    ],
)
def test_datetimes_in_every_offset_spelling_mean_the_same_instant(stamp: str) -> None:
    raw = _sample_order() | {"orderDatetime": stamp}
    order = OrderModel.model_validate(raw).to_domain()
    assert order.ordered_at == datetime(2024, 6, 24, 4, 40, 33, tzinfo=UTC)


def test_get_order_answer_with_missing_numbers_returns_only_found_orders() -> None:
    body = {
        "version": 10,
        "MessageModelList": [
            {
                "messageType": "INFO",
                "messageCode": "ORDER_EXT_API_GET_ORDER_INFO_101",
                "message": "受注情報取得に成功しました。(取得件数1件)",
            },
            {
                "messageType": "INFO",
                "messageCode": "ORDER_EXT_API_GET_ORDER_INFO_102",
                "message": "受注情報が取得できませんでした。",
                "orderNumber": "x",
            },
        ],
        "OrderModelList": [_sample_order()],
    }
    answer = GetOrderResponse.model_validate(body)
    assert [o.number for o in answer.to_domain()] == ["123456-20240624-0000670258"]
    assert answer.error_codes() == ()


def test_empty_search_answer_has_no_numbers() -> None:
    body = {
        "orderNumberList": [],
        "MessageModelList": [
            {
                "messageType": "INFO",
                "messageCode": "ORDER_EXT_API_SEARCH_ORDER_INFO_102",
                "message": "注文検索に成功しました。(検索結果０件)",
            }
        ],
        "PaginationResponseModel": {
            "totalRecordsAmount": None,
            "totalPages": None,
            "requestPage": None,
        },
    }
    answer = SearchOrderResponse.model_validate(body)
    assert answer.numbers == []
    assert answer.pagination is not None and answer.pagination.total_records is None


def test_licence_expiry_without_zone_is_tokyo_time() -> None:
    answer = LicenseExpiryResponse.model_validate({"expiryDate": "2026-11-28T23:59:59"})
    assert answer.expiry == datetime(2026, 11, 28, 14, 59, 59, tzinfo=UTC)


# --- request side ------------------------------------------------------------------------------
def test_request_datetimes_are_jst_without_colon() -> None:
    assert format_rms_datetime(datetime(2026, 1, 31, 15, 0, 1, 999, tzinfo=UTC)) == (
        "2026-02-01T00:00:01+0900"
    )
    assert format_rms_datetime(datetime(2026, 2, 1, 0, 0, 1)) == "2026-02-01T00:00:01+0900"  # noqa: DTZ001


def test_a_short_range_is_one_window() -> None:
    start = datetime(2026, 1, 1, tzinfo=JST)
    assert search_windows(start, start + MAX_WINDOW) == [(start, start + MAX_WINDOW)]


def test_a_long_range_is_split_into_contiguous_windows_of_at_most_63_days() -> None:
    start = datetime(2025, 1, 1, 0, 0, 0, 500, tzinfo=JST)
    end = start + timedelta(days=200)
    windows = search_windows(start, end)
    assert len(windows) == 4
    assert windows[0][0] == start.replace(microsecond=0)
    assert windows[-1][1] == end.replace(microsecond=0)
    for (_, stop), (following, _) in zip(windows, windows[1:], strict=False):
        assert following - stop == timedelta(seconds=1)
    assert all(b - a <= MAX_WINDOW for a, b in windows)


def test_an_inverted_range_is_refused() -> None:
    now = datetime(2026, 1, 1, tzinfo=UTC)
    with pytest.raises(ValueError):
        search_windows(now, now - timedelta(seconds=1))


def test_halving_covers_the_window_without_overlap() -> None:
    start = datetime(2026, 1, 1, tzinfo=JST)
    (a, b), (c, d) = halve(start, start + timedelta(days=10))
    assert (a, d) == (start, start + timedelta(days=10))
    assert b == start + timedelta(days=5) and c == b + timedelta(seconds=1)
    assert halve(start, start) == [(start, start)]


def test_update_sender_body_changes_only_the_given_postage() -> None:
    raw = _multi_package_unset_order()
    before = copy.deepcopy(raw)
    body = update_sender_body(raw, {10005: 1200})
    assert raw == before  # the snapshot is never mutated
    assert body["orderNumber"] == raw["orderNumber"]
    first, second = body["PackageModelList"]
    assert first == raw["PackageModelList"][0]
    assert second == raw["PackageModelList"][1] | {"postagePrice": 1200}
    assert body["WrappingModel1"] == raw["WrappingModel1"]
    assert body["CouponModelList"] == raw["CouponModelList"]
    assert "WrappingModel2" not in body  # null models are not sent
    json.dumps(body, ensure_ascii=False)


def test_update_sender_body_refuses_an_unknown_basket() -> None:
    with pytest.raises(ValueError, match="basket"):
        update_sender_body(_sample_order(), {999: 500})


# --- translation of HTTP answers ---------------------------------------------------------------
NOW = datetime(2026, 11, 28, tzinfo=UTC)
_ENVELOPE_400 = {
    "orderNumberList": None,
    "PaginationResponseModel": None,
    "MessageModelList": [
        {
            "messageType": "ERROR",
            "messageCode": "ORDER_EXT_API_SEARCH_ORDER_ERROR_009",
            "message": "dateTypeの項目を指定して下さい。",
        },
        {
            "messageType": "ERROR",
            "messageCode": "ORDER_EXT_API_SEARCH_ORDER_ERROR_011",
            "message": "startDatetimeの書式が不正です。",
        },
    ],
}


@pytest.mark.parametrize(
    ("status", "body", "expected"),
    [
        (
            401,
            {"Results": {"errorCode": "ES01-01", "message": "Un-Authorised"}},
            errors.RmsAuthError,
        ),
        (401, "Unauthorized", errors.RmsAuthError),
        (
            400,
            {"Results": {"errorCode": "GA0001", "errorMessage": "Un-Authorised"}},
            errors.RmsAuthError,
        ),
        (
            200,
            {"Results": {"errorCode": "ES04-01", "message": "Bad Request"}},
            errors.RmsFunctionDisabledError,
        ),
        (
            400,
            {"Results": {"errorCode": "ES04-01", "errorMessage": "Bad Request"}},
            errors.RmsFunctionDisabledError,
        ),
        (403, "Forbidden-Exceeded QPS Limitation", errors.RmsRateLimitedError),
        (429, {}, errors.RmsRateLimitedError),
        (400, "Exceeded QPS Limitation", errors.RmsRateLimitedError),
        (503, {"message": "API In Maintenance"}, errors.RmsMaintenanceError),
        (503, "<html><body>メンテナンス中</body></html>", errors.RmsMaintenanceError),
        (500, "<html>error</html>", errors.RmsUnavailableError),
        (502, {}, errors.RmsUnavailableError),
        (400, _ENVELOPE_400, errors.RmsRejectedError),
        (415, "", errors.RmsRejectedError),
        (200, "<html><body>ok</body></html>", errors.RmsProtocolError),
        (200, '{"orderNumberList": ["1"', errors.RmsProtocolError),
        (200, "", errors.RmsProtocolError),
    ],
)
def test_every_failing_answer_maps_to_one_error(
    status: int, body: Any, expected: type[errors.RmsError]
) -> None:
    raw = body if isinstance(body, str) else json.dumps(body)
    with pytest.raises(expected) as caught:
        interpret("searchOrder", status, raw.encode(), None, NOW, ())
    assert type(caught.value) is expected
    assert caught.value.status == status


def test_rejection_carries_every_error_code() -> None:
    with pytest.raises(errors.RmsRejectedError) as caught:
        interpret("searchOrder", 400, json.dumps(_ENVELOPE_400).encode(), None, NOW, ())
    assert caught.value.codes == (
        "ORDER_EXT_API_SEARCH_ORDER_ERROR_009",
        "ORDER_EXT_API_SEARCH_ORDER_ERROR_011",
    )


def test_qps_words_inside_a_successful_json_answer_are_just_data() -> None:
    body = {"orderNumberList": [], "remarks": "QPS", "MessageModelList": []}
    assert interpret("searchOrder", 200, json.dumps(body).encode(), None, NOW, ()) == body


@pytest.mark.parametrize(
    ("header", "seconds"), [("7", 7.0), ("Sat, 28 Nov 2026 00:00:30 GMT", 30.0)]
)
def test_rate_limit_carries_retry_after(header: str, seconds: float) -> None:
    with pytest.raises(errors.RmsRateLimitedError) as caught:
        interpret("getOrder", 429, b"", header, NOW, ())
    assert caught.value.retry_after == seconds


def test_credentials_never_reach_the_error_message() -> None:
    body = b"<html>bad header ESA c2VjcmV0OmtleQ== for secret:key</html>"
    with pytest.raises(errors.RmsUnavailableError) as caught:
        interpret("getOrder", 500, body, None, NOW, ("secret", "key", "c2VjcmV0OmtleQ=="))
    assert "secret" not in str(caught.value) and "c2VjcmV0" not in str(caught.value)


def test_a_body_missing_required_keys_is_a_protocol_error() -> None:
    with pytest.raises(errors.RmsProtocolError, match="orderNumberList"):
        validate(SearchOrderResponse, {"MessageModelList": []}, "searchOrder")
    with pytest.raises(errors.RmsProtocolError):
        validate(GetOrderResponse, [1, 2], "getOrder")


def test_the_other_terms_of_the_total_are_read_from_the_order_model() -> None:
    from core.rms.wire import OrderModel

    model = OrderModel.model_validate(
        {
            "orderNumber": "123456-20261128-0000000001",
            "orderProgress": 100,
            "orderDatetime": "2026-11-28T09:00:00+0900",
            "couponAllTotalPrice": 200,
            "additionalFeeOccurAmountToUser": 50,
            "PointModel": {"usedPoint": 100},
            "WrappingModel1": {"price": 300, "deleteWrappingFlag": 0},
            "WrappingModel2": {"price": 500, "deleteWrappingFlag": 1},
        }
    )
    order = model.to_domain()
    assert (order.coupon_total, order.buyer_fee, order.points_used, order.wrapping_price) == (
        200,
        50,
        100,
        300,
    )

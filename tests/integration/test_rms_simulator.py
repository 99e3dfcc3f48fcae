"""The RMS simulator itself, driven over loopback with raw aiohttp requests (no client library)."""

from __future__ import annotations

import asyncio
import base64
import json
from datetime import timedelta
from typing import Any

import aiohttp
import pytest
from aiohttp.test_utils import TestClient, TestServer

from sandbox.rms import RmsSimulator
from sandbox.rms.catalog import JST
from tests.fakes import FakeClock

SHOP, SECRET, KEY = "123456", "SP123456_secret", "SL123456_key"
OTHER_SHOP, OTHER_SECRET, OTHER_KEY = "654321", "SP654321_secret", "SL654321_key"
JSON_UTF8 = "application/json; charset=utf-8"


def esa(secret: str = SECRET, key: str = KEY) -> str:
    return "ESA " + base64.b64encode(f"{secret}:{key}".encode()).decode()


def stamp(value: Any) -> str:
    return value.astimezone(JST).strftime("%Y-%m-%dT%H:%M:%S+0900")


@pytest.fixture
def sim(clock: FakeClock) -> RmsSimulator:
    simulator = RmsSimulator(clock, requests_per_second=None)
    simulator.add_shop(SHOP, SECRET, KEY)
    simulator.add_shop(OTHER_SHOP, OTHER_SECRET, OTHER_KEY)
    return simulator


@pytest.fixture
async def serve():
    clients: list[TestClient] = []

    async def start(simulator: RmsSimulator) -> TestClient:
        client = TestClient(TestServer(simulator.make_app()))
        await client.start_server()
        clients.append(client)
        return client

    yield start
    for client in clients:
        await client.close()


@pytest.fixture
async def client(sim: RmsSimulator, serve) -> TestClient:
    return await serve(sim)


async def call(
    client: TestClient,
    function: str,
    body: Any,
    *,
    auth: str | None = None,
    content_type: str = JSON_UTF8,
    **kwargs: Any,
) -> tuple[int, Any, str]:
    headers = {"Authorization": auth or esa(), "Content-Type": content_type}
    data = json.dumps(body, ensure_ascii=False).encode()
    resp = await client.post(f"/es/2.0/order/{function}/", data=data, headers=headers, **kwargs)
    text = await resp.text()
    try:
        payload = json.loads(text)
    except ValueError:
        payload = text
    return resp.status, payload, resp.headers.get("Content-Type", "")


def search_body(clock: FakeClock, **extra: Any) -> dict[str, Any]:
    body = {
        "dateType": 1,
        "startDatetime": stamp(clock.now() - timedelta(days=30)),
        "endDatetime": stamp(clock.now() + timedelta(days=1)),
    }
    body.update(extra)
    return body


def codes(payload: dict[str, Any]) -> list[str]:
    return [m["messageCode"] for m in payload["MessageModelList"]]


# --- gateway: auth, permissions, content type, QPS, maintenance --------------------------------
async def test_unknown_key_is_401_with_es01_01_body(client: TestClient) -> None:
    status, body, ctype = await call(client, "getOrder", {}, auth=esa(key="SLnope"))
    assert status == 401
    assert body == {"Results": {"errorCode": "ES01-01", "message": "Un-Authorised"}}
    assert ctype == "application/json;charset=utf-8"


@pytest.mark.parametrize("auth", ["ESA not*base64", "Basic " + esa()[4:], esa(secret="SPwrong")])
async def test_bad_credentials_are_401(client: TestClient, auth: str) -> None:
    status, body, _ = await call(client, "searchOrder", {}, auth=auth)
    assert (status, body["Results"]["errorCode"]) == (401, "ES01-01")


async def test_key_works_until_235959_jst_of_its_expiry_date(sim, client, clock) -> None:
    expiry = sim.state.keys[KEY].expires
    assert (expiry.astimezone(JST).hour, expiry.astimezone(JST).minute) == (23, 59)
    assert expiry.astimezone(JST).date() == (clock.now().astimezone(JST) + timedelta(90)).date()
    clock.advance((expiry - clock.now()).total_seconds())
    assert (await call(client, "getOrder", {"orderNumberList": ["x"], "version": 10}))[0] == 200
    clock.advance(1)
    assert (await call(client, "getOrder", {"orderNumberList": ["x"], "version": 10}))[0] == 401


async def test_new_key_is_unauthorised_until_activated_and_old_key_keeps_working(
    sim, client, clock
) -> None:
    sim.issue_key(SHOP, "SLnew", activates_after=timedelta(minutes=20))
    body = {"orderNumberList": ["x"], "version": 10}
    assert (await call(client, "getOrder", body, auth=esa(key="SLnew")))[0] == 401
    assert (await call(client, "getOrder", body))[0] == 200
    clock.advance(minutes=20)
    assert (await call(client, "getOrder", body, auth=esa(key="SLnew")))[0] == 200


async def test_old_key_can_die_when_a_new_one_is_issued(sim, client) -> None:
    sim.issue_key(SHOP, "SLnew", old_key_dies=True)
    body = {"orderNumberList": ["x"], "version": 10}
    assert (await call(client, "getOrder", body))[0] == 401
    assert (await call(client, "getOrder", body, auth=esa(key="SLnew")))[0] == 200


async def test_disabled_function_is_es04_01(clock, serve) -> None:
    sim = RmsSimulator(clock, requests_per_second=None)
    sim.add_shop(
        SHOP, SECRET, KEY, disabled_functions=frozenset({"rpay.order.confirmOrder", "getOrder"})
    )
    client = await serve(sim)
    for function in ("confirmOrder", "getOrder"):
        status, body, _ = await call(client, function, {"orderNumberList": ["x"], "version": 10})
        assert status == 400
        assert body == {"Results": {"errorCode": "ES04-01", "message": "Bad Request"}}
    assert (await call(client, "searchOrder", search_body(clock)))[0] == 200


async def test_content_type_without_charset_is_415(client: TestClient) -> None:
    status, _, _ = await call(client, "searchOrder", {}, content_type="application/json")
    assert status == 415
    status, _, _ = await call(
        client, "searchOrder", {}, content_type="application/json;charset=UTF-8"
    )
    assert status == 400  # accepted, then validated


async def test_routes_method_and_trailing_slash(client: TestClient, clock) -> None:
    headers = {"Authorization": esa(), "Content-Type": JSON_UTF8}
    resp = await client.get("/es/2.0/order/searchOrder/", headers=headers)
    assert resp.status == 405
    resp = await client.post("/es/2.0/order/cancelOrder/", data=b"{}", headers=headers)
    assert resp.status == 404
    data = json.dumps(search_body(clock)).encode()
    resp = await client.post("/es/2.0/order/searchOrder", data=data, headers=headers)
    assert resp.status == 200


@pytest.mark.parametrize("qps_status", [403, 429])
async def test_qps_limit_then_ok_after_the_clock_advances(clock, serve, qps_status) -> None:
    qps_clock = FakeClock()
    sim = RmsSimulator(clock, qps_clock=qps_clock, qps_status=qps_status)
    sim.add_shop(SHOP, SECRET, KEY)
    sim.add_shop(OTHER_SHOP, OTHER_SECRET, OTHER_KEY)
    client = await serve(sim)
    assert (await call(client, "searchOrder", search_body(clock)))[0] == 200
    status, body, _ = await call(client, "searchOrder", search_body(clock))
    assert status == qps_status
    assert "Forbidden-Exceeded QPS Limitation" in json.dumps(body)
    other = await call(client, "searchOrder", search_body(clock), auth=esa(OTHER_SECRET, OTHER_KEY))
    assert other[0] == 200  # the bucket is per licence key
    qps_clock.advance(0.5)
    assert (await call(client, "searchOrder", search_body(clock)))[0] == qps_status
    qps_clock.advance(0.5)
    assert (await call(client, "searchOrder", search_body(clock)))[0] == 200


async def test_maintenance_json_and_html(sim, client, clock) -> None:
    sim.set_maintenance(True)
    status, body, _ = await call(client, "searchOrder", search_body(clock))
    assert status == 503
    assert body == {"Results": {"errorCode": "MAINTENANCE", "message": "API In Maintenance"}}
    sim.set_maintenance(True, html=True)
    status, body, ctype = await call(client, "searchOrder", search_body(clock))
    assert status == 503
    assert ctype.startswith("text/html")
    assert "<html" in body
    sim.set_maintenance(False)
    assert (await call(client, "searchOrder", search_body(clock)))[0] == 200


# --- searchOrder ---------------------------------------------------------------------------
async def test_search_pages_1200_orders_1000_per_page_oldest_first(sim, client, clock) -> None:
    start = clock.now() - timedelta(days=20)
    expected = [sim.add_order(SHOP, ordered_at=start + timedelta(minutes=i)) for i in range(1200)]
    sim.add_order(OTHER_SHOP, ordered_at=start)
    pages = []
    for page in (1, 2):
        body = search_body(
            clock, PaginationRequestModel={"requestRecordsAmount": 1000, "requestPage": page}
        )
        status, payload, _ = await call(client, "searchOrder", body)
        assert status == 200
        assert codes(payload) == ["ORDER_EXT_API_SEARCH_ORDER_INFO_101"]
        assert payload["PaginationResponseModel"] == {
            "totalRecordsAmount": 1200,
            "totalPages": 2,
            "requestPage": page,
        }
        pages.append(payload["orderNumberList"])
    assert [len(p) for p in pages] == [1000, 200]
    assert pages[0] + pages[1] == expected


async def test_search_defaults_to_30_per_page_and_filters_progress(sim, client, clock) -> None:
    for _ in range(40):
        sim.add_order(SHOP, ordered_at=clock.now() - timedelta(hours=1))
    done = sim.add_order(SHOP, ordered_at=clock.now() - timedelta(hours=1), progress=300)
    status, payload, _ = await call(client, "searchOrder", search_body(clock))
    assert (status, len(payload["orderNumberList"])) == (200, 30)
    status, payload, _ = await call(
        client, "searchOrder", search_body(clock, orderProgressList=[300])
    )
    assert payload["orderNumberList"] == [done]


async def test_results_beyond_the_cap_are_unreachable(sim, client, clock, monkeypatch) -> None:
    monkeypatch.setattr("sandbox.rms.search.SEARCH_CAP", 50)
    for _ in range(60):
        sim.add_order(SHOP, ordered_at=clock.now() - timedelta(hours=1))
    body = search_body(clock, PaginationRequestModel={"requestRecordsAmount": 40, "requestPage": 2})
    status, payload, _ = await call(client, "searchOrder", body)
    assert status == 200
    assert len(payload["orderNumberList"]) == 10
    assert payload["PaginationResponseModel"]["totalRecordsAmount"] == 60


async def test_empty_search_is_200_info_102_with_null_pagination(client, clock) -> None:
    status, payload, _ = await call(client, "searchOrder", search_body(clock))
    assert status == 200
    assert payload == {
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


@pytest.mark.parametrize(
    "bad",
    [
        "2026-11-01T00:00:00+09:00",
        "2026-11-01T00:00:00Z",
        "2026-11-01 00:00:00+0900",
        "2026-11-01T00:00:00.000+0900",
        "2026-11-01T00:00:00",
    ],
)
async def test_bad_datetime_format_is_error_011(client, clock, bad) -> None:
    status, payload, _ = await call(client, "searchOrder", search_body(clock, startDatetime=bad))
    assert status == 400
    assert payload["orderNumberList"] is None
    assert payload["PaginationResponseModel"] is None
    assert payload["MessageModelList"] == [
        {
            "messageType": "ERROR",
            "messageCode": "ORDER_EXT_API_SEARCH_ORDER_ERROR_011",
            "message": "startDatetimeの書式が不正です。",
        }
    ]


async def test_search_validation_errors(client, clock) -> None:
    body = search_body(clock)
    del body["dateType"]
    status, payload, _ = await call(client, "searchOrder", body)
    assert status == 400
    assert payload["MessageModelList"][0]["message"] == "dateTypeの項目を指定して下さい。"
    too_wide = search_body(
        clock, startDatetime=stamp(clock.now() - timedelta(days=64)), endDatetime=stamp(clock.now())
    )
    assert (await call(client, "searchOrder", too_wide))[0] == 400
    too_old = search_body(
        clock,
        startDatetime=stamp(clock.now() - timedelta(days=731)),
        endDatetime=stamp(clock.now() - timedelta(days=700)),
    )
    assert (await call(client, "searchOrder", too_old))[0] == 400
    big_page = search_body(clock, PaginationRequestModel={"requestRecordsAmount": 1001})
    assert (await call(client, "searchOrder", big_page))[0] == 400


# --- getOrder ------------------------------------------------------------------------------
async def test_get_order_returns_a_realistic_order_model(sim, client) -> None:
    number = sim.add_order(SHOP, items=2)
    status, payload, _ = await call(
        client, "getOrder", {"orderNumberList": [number], "version": 10}
    )
    assert status == 200
    assert payload["version"] == 10
    assert payload["MessageModelList"] == [
        {
            "messageType": "INFO",
            "messageCode": "ORDER_EXT_API_GET_ORDER_INFO_101",
            "message": "受注情報取得に成功しました。(取得件数1件)",
        }
    ]
    (order,) = payload["OrderModelList"]
    assert order == sim.order(number)
    assert order["orderNumber"] == number
    assert order["orderDatetime"].endswith("+0900")
    assert order["cancelDueDate"] == "2026-12-12"
    package = order["PackageModelList"][0]
    assert len(package["ItemModelList"]) == 2
    assert package["ItemModelList"][0]["itemDetailId"] == package["basketId"]
    incl = sum(i["priceTaxIncl"] * i["units"] for i in package["ItemModelList"])
    assert order["totalPrice"] == package["totalPrice"] == incl + 500
    assert order["requestPrice"] == order["totalPrice"]
    assert order["OrdererModel"]["emailAddress"].endswith("@pc.fw.rakuten.ne.jp")
    assert order["SettlementModel"]["settlementMethod"] == "クレジットカード"
    assert order["DeliveryModel"]["deliveryName"] == "宅配便"
    assert sum(t["totalPrice"] for t in order["TaxSummaryModelList"]) == order["totalPrice"]


async def test_get_order_version_gates_fields(sim, client) -> None:
    number = sim.add_order(SHOP)
    _, payload, _ = await call(client, "getOrder", {"orderNumberList": [number], "version": 3})
    assert "version" not in payload
    item = payload["OrderModelList"][0]["PackageModelList"][0]["ItemModelList"][0]
    assert "SkuModelList" not in item


async def test_get_order_rejects_more_than_100_numbers(sim, client) -> None:
    body = {"orderNumberList": [f"{SHOP}-20261128-{i:010d}" for i in range(101)], "version": 10}
    status, payload, _ = await call(client, "getOrder", body)
    assert status == 400
    assert payload["MessageModelList"][0]["messageType"] == "ERROR"
    assert payload["OrderModelList"] is None


async def test_get_order_without_version_is_error_009(sim, client) -> None:
    status, payload, _ = await call(client, "getOrder", {"orderNumberList": ["x"]})
    assert status == 400
    assert codes(payload) == ["ORDER_EXT_API_GET_ORDER_ERROR_009"]


async def test_unknown_and_foreign_numbers_get_info_102_each(sim, client) -> None:
    mine = sim.add_order(SHOP)
    theirs = sim.add_order(OTHER_SHOP)
    unknown = f"{SHOP}-20261128-0000000001"
    body = {"orderNumberList": [mine, theirs, unknown], "version": 10}
    status, payload, _ = await call(client, "getOrder", body)
    assert status == 200
    assert [o["orderNumber"] for o in payload["OrderModelList"]] == [mine]
    assert payload["MessageModelList"][0]["message"].endswith("(取得件数1件)")
    assert payload["MessageModelList"][1:] == [
        {
            "messageType": "INFO",
            "messageCode": "ORDER_EXT_API_GET_ORDER_INFO_102",
            "message": "受注情報が取得できませんでした。",
            "orderNumber": n,
        }
        for n in (theirs, unknown)
    ]


# --- confirmOrder and the lifecycle ---------------------------------------------------------
async def test_confirm_answers_per_order(sim, client, clock) -> None:
    ok = sim.add_order(SHOP)
    cancelled = sim.add_order(SHOP, progress=900)
    moved = sim.add_order(SHOP, progress=200)
    unset = sim.add_order(SHOP, postage=[500, -9999], packages=2)
    unknown = f"{SHOP}-20261128-0000000001"
    status, payload, _ = await call(
        client, "confirmOrder", {"orderNumberList": [ok, cancelled, moved, unset, unknown]}
    )
    assert status == 200
    prefix = "ORDER_EXT_API_CONFIRM_ORDER_"
    got = {
        m["orderNumber"]: (m["messageType"], m["messageCode"].removeprefix(prefix))
        for m in payload["MessageModelList"]
    }
    assert got == {
        ok: ("INFO", "INFO_101"),
        cancelled: ("ERROR", "ERROR_102"),
        moved: ("ERROR", "ERROR_103"),
        unset: ("ERROR", "ERROR_105"),
        unknown: ("ERROR", "ERROR_101"),
    }
    texts = {m["orderNumber"]: m["message"] for m in payload["MessageModelList"]}
    assert texts[ok] == "注文確認に成功しました。"
    assert texts[moved] == "該当の注文は注文確認ができる状態ではありませんでした。"
    assert sim.confirm_log == [(ok, clock.now())]
    order = sim.order(ok)
    assert order["orderProgress"] == 200
    assert order["shopOrderCfmDatetime"] == stamp(clock.now())
    assert order["cancelDueDate"] is None
    assert order["ChangeReasonModelList"][-1]["changeType"] == 8
    assert sim.order(unset)["orderProgress"] == 100


async def test_confirm_rejects_more_than_100_numbers(sim, client) -> None:
    body = {"orderNumberList": [sim.add_order(SHOP) for _ in range(101)]}
    status, payload, _ = await call(client, "confirmOrder", body)
    assert status == 400
    assert payload["MessageModelList"][0]["messageType"] == "ERROR"
    assert sim.confirm_log == []


async def test_confirmed_order_reaches_300_after_processing_delay(sim, client, clock) -> None:
    number = sim.add_order(SHOP)
    await call(client, "confirmOrder", {"orderNumberList": [number]})
    confirmed = clock.now()
    clock.advance(minutes=29)
    assert sim.order(number)["orderProgress"] == 200
    clock.advance(minutes=5)
    _, payload, _ = await call(client, "getOrder", {"orderNumberList": [number], "version": 10})
    order = payload["OrderModelList"][0]
    assert order["orderProgress"] == 300
    assert order["orderFixDatetime"] == stamp(confirmed + timedelta(minutes=30))
    assert order["shippingInstDatetime"] == order["orderFixDatetime"]


async def test_prepay_order_stays_200_until_paid(sim, client, clock) -> None:
    number = sim.add_order(SHOP, settlement_code=9, prepay=True)
    await call(client, "confirmOrder", {"orderNumberList": [number]})
    clock.advance(days=3)
    assert sim.order(number)["orderProgress"] == 200
    sim.mark_paid(number)
    assert sim.order(number)["orderProgress"] == 300


async def test_payment_ng_ends_cancelled(sim, client, clock) -> None:
    number = sim.add_order(SHOP, payment_ng=True)
    await call(client, "confirmOrder", {"orderNumberList": [number]})
    clock.advance(minutes=31)
    assert sim.order(number)["orderProgress"] == 900


async def test_unconfirmed_order_is_cancelled_after_its_due_date(sim, client, clock) -> None:
    number = sim.add_order(SHOP)
    due = sim.order(number)["cancelDueDate"]
    clock.advance(days=14)
    assert sim.order(number)["orderProgress"] == 100
    assert clock.now().astimezone(JST).date().isoformat() == due
    clock.advance(hours=15)  # past 23:59:59 JST of the due date
    _, payload, _ = await call(client, "confirmOrder", {"orderNumberList": [number]})
    assert payload["MessageModelList"][0]["messageCode"].endswith("ERROR_102")
    assert sim.order(number)["orderProgress"] == 900


# --- updateOrderSender ---------------------------------------------------------------------
async def test_update_sender_sets_postage_and_recomputes_totals(sim, client) -> None:
    number = sim.add_order(SHOP, packages=2, postage=[500, -9999])
    order = sim.order(number)
    assert (order["postagePrice"], order["totalPrice"], order["requestPrice"]) == (-9999,) * 3
    packages = order["PackageModelList"]
    packages[1]["postagePrice"] = 800
    status, payload, _ = await call(
        client, "updateOrderSender", {"orderNumber": number, "PackageModelList": packages}
    )
    assert status == 200
    assert payload["MessageModelList"] == [
        {
            "messageType": "INFO",
            "messageCode": "ORDER_EXT_API_UPDATE_ORDERSENDER_INFO_101",
            "message": "送付先情報の更新設定が完了しました。",
            "orderNumber": number,
        }
    ]
    after = sim.order(number)
    items = sum(p["totalPrice"] - p["postagePrice"] for p in after["PackageModelList"])
    assert after["postagePrice"] == 1300
    assert after["totalPrice"] == after["requestPrice"] == items + 1300
    assert all(t["reqPrice"] != -9999 for t in after["TaxSummaryModelList"])
    assert sim.sender_updates == [(number, {"orderNumber": number, "PackageModelList": packages})]
    _, payload, _ = await call(client, "confirmOrder", {"orderNumberList": [number]})
    assert payload["MessageModelList"][0]["messageType"] == "INFO"


async def test_update_sender_minus_9999_unsets_and_decrease_needs_a_reason(sim, client) -> None:
    number = sim.add_order(SHOP, postage=800)
    basket = sim.order(number)["PackageModelList"][0]["basketId"]
    body = {
        "orderNumber": number,
        "PackageModelList": [{"basketId": basket, "postagePrice": -9999}],
    }
    assert (await call(client, "updateOrderSender", body))[0] == 200
    assert sim.order(number)["postagePrice"] == -9999
    assert sim.order(number)["TaxSummaryModelList"][0]["reqPrice"] == -9999
    sim.set_postage(number, 0, 800)
    body["PackageModelList"][0]["postagePrice"] = 500
    status, payload, _ = await call(client, "updateOrderSender", body)
    assert (status, codes(payload)) == (400, ["ORDER_EXT_API_UPDATE_ORDERSENDER_ERROR_009"])
    status, _, _ = await call(client, "updateOrderSender", {**body, "reductionReason": 10})
    assert status == 200
    assert sim.order(number)["postagePrice"] == 500


async def test_update_sender_is_refused_outside_100_to_300(sim, client) -> None:
    number = sim.add_order(SHOP, progress=900)
    basket = sim.order(number)["PackageModelList"][0]["basketId"]
    body = {"orderNumber": number, "PackageModelList": [{"basketId": basket, "postagePrice": 500}]}
    status, payload, _ = await call(client, "updateOrderSender", body)
    assert status == 400
    assert payload["MessageModelList"][0]["messageType"] == "ERROR"
    status, payload, _ = await call(client, "updateOrderSender", {"orderNumber": number})
    assert (status, codes(payload)) == (400, ["ORDER_EXT_API_UPDATE_ORDERSENDER_ERROR_009"])
    assert sim.sender_updates == []


# --- fault injection -----------------------------------------------------------------------
async def test_apply_first_confirms_then_answers_500(sim, client) -> None:
    number = sim.add_order(SHOP)
    sim.fail_next("confirmOrder", apply_first=True)
    status, _, _ = await call(client, "confirmOrder", {"orderNumberList": [number]})
    assert status == 500
    assert sim.order(number)["orderProgress"] == 200
    assert [n for n, _ in sim.confirm_log] == [number]
    _, payload, _ = await call(client, "confirmOrder", {"orderNumberList": [number]})
    assert payload["MessageModelList"][0]["messageCode"].endswith("ERROR_103")
    assert len(sim.confirm_log) == 1
    assert [c.status for c in sim.calls_to("confirmOrder")] == [500, 200]


async def test_faults_are_fifo_per_function_and_star_matches_any(sim, client, clock) -> None:
    number = sim.add_order(SHOP)
    sim.fail_next("getOrder", 2, status=503, content_type="text/html")
    sim.fail_next("*", status=401)
    body = {"orderNumberList": [number], "version": 10}
    status, _, _ = await call(client, "confirmOrder", {"orderNumberList": [number]})
    assert status == 401
    assert sim.order(number)["orderProgress"] == 100  # not applied
    for _ in range(2):
        status, text, ctype = await call(client, "getOrder", body)
        assert (status, ctype.split(";")[0]) == (503, "text/html")
    assert (await call(client, "getOrder", body))[0] == 200
    sim.fail_next("searchOrder", status=200, body="{broken")
    status, text, _ = await call(client, "searchOrder", search_body(clock))
    assert (status, text) == (200, "{broken")


async def test_delayed_fault_lets_the_client_time_out(sim, client) -> None:
    sim.fail_next("getOrder", delay=0.3)
    with pytest.raises(asyncio.TimeoutError):
        await call(
            client,
            "getOrder",
            {"orderNumberList": ["x"], "version": 10},
            timeout=aiohttp.ClientTimeout(total=0.05),
        )
    assert sim.calls_to("getOrder")[0].status == 500


# --- licence API ---------------------------------------------------------------------------
async def test_licence_expiry_endpoint(sim, client, clock) -> None:
    url = "/es/1.0/license-management/license-key/expiry-date"
    resp = await client.get(url, params={"licenseKey": KEY}, headers={"Authorization": esa()})
    assert resp.status == 200
    expected = (clock.now().astimezone(JST) + timedelta(days=90)).strftime("%Y-%m-%dT23:59:59")
    assert await resp.json() == {"expiryDate": expected}
    resp = await client.get(url, headers={"Authorization": esa()})
    assert resp.status == 400
    assert (await resp.json())["Results"]["errorCode"] == "DR0005"
    resp = await client.post(url, params={"licenseKey": KEY}, headers={"Authorization": esa()})
    assert resp.status == 405
    sim.fail_next("license", status=503)
    resp = await client.get(url, params={"licenseKey": KEY}, headers={"Authorization": esa()})
    assert resp.status == 503
    clock.advance(days=91)
    resp = await client.get(url, params={"licenseKey": KEY}, headers={"Authorization": esa()})
    assert resp.status == 401
    assert [c.status for c in sim.calls_to("license")] == [200, 400, 405, 503, 401]


# --- control API ---------------------------------------------------------------------------
async def test_control_api_drives_the_simulator(sim, client) -> None:
    resp = await client.post("/_sim/orders", json={"shop_id": SHOP, "postage": -9999})
    number = (await resp.json())["number"]
    assert number.startswith(f"{SHOP}-20261128-")
    resp = await client.get("/_sim/orders", params={"shop": SHOP})
    assert (await resp.json())["orders"][0]["postage"] == -9999
    await client.post(f"/_sim/orders/{number}/progress", json={"progress": 900})
    assert sim.order(number)["orderProgress"] == 900
    await client.post("/_sim/maintenance", json={"on": True})
    assert sim.maintenance
    await client.post("/_sim/fail", json={"function": "getOrder", "status": 500})
    assert sim.faults.entries[0].status == 500
    resp = await client.post("/_sim/orders/nope/paid")
    assert resp.status == 404
    resp = await client.get("/_sim/calls")
    assert (await resp.json()) == {"calls": []}

"""RmsHttpClient against the RMS simulator over loopback (aioresponses for what it cannot send)."""

from __future__ import annotations

import base64
import json
import logging
import random
import re
import socket
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import aiohttp
import pytest
from aiohttp.test_utils import TestServer
from aioresponses import CallbackResult, aioresponses

from core import errors
from core.model import MAX_NUMBERS_PER_CALL, UNSET_FEE
from core.ports import RmsApi
from core.rms.client import CONFIRM_PATH, SEARCH_PATH, RmsHttpClient
from core.rms.wire import JST
from sandbox.rms import RmsSimulator
from tests.compat_aioresponses import mocked_http
from tests.fakes import FakeClock

SHOP = "123456"
SECRET = "SP123456_secret_0000"
KEY = "SL123456_licence_0001"
RMS_DATETIME = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\+0900")


@pytest.fixture
def sim(clock: FakeClock) -> RmsSimulator:
    simulator = RmsSimulator(clock, qps_clock=clock, seed=7)
    simulator.add_shop(SHOP, SECRET, KEY)
    return simulator


@pytest.fixture
async def server(sim: RmsSimulator) -> AsyncIterator[TestServer]:
    test_server = TestServer(sim.make_app())
    await test_server.start_server()
    try:
        yield test_server
    finally:
        await test_server.close()


@pytest.fixture
async def session() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as client_session:
        yield client_session


@pytest.fixture
def connect(
    session: aiohttp.ClientSession, server: TestServer, clock: FakeClock
) -> Callable[..., RmsHttpClient]:
    def make(**overrides: Any) -> RmsHttpClient:
        options: dict[str, Any] = {
            "service_secret": SECRET,
            "license_key": KEY,
            "clock": clock,
            "timeout": 2.0,
            "rng": random.Random(0),
        }
        options.update(overrides)
        return RmsHttpClient(session, base_url=str(server.make_url("")), **options)

    return make


@pytest.fixture
def client(connect: Callable[..., RmsHttpClient]) -> RmsHttpClient:
    return connect()


@pytest.fixture
def http_mock(monkeypatch: pytest.MonkeyPatch) -> Iterator[aioresponses]:
    with mocked_http(monkeypatch) as mock:
        yield mock


def _last_two_weeks(clock: FakeClock) -> dict[str, Any]:
    return {"start": clock.now() - timedelta(days=14), "end": clock.now()}


# --- searchOrder -------------------------------------------------------------------------------
async def test_search_finds_orders_of_the_given_progress_oldest_first(
    client: RmsHttpClient, sim: RmsSimulator, clock: FakeClock
) -> None:
    now = clock.now()
    late = sim.add_order(SHOP, ordered_at=now - timedelta(hours=1))
    early = sim.add_order(SHOP, ordered_at=now - timedelta(days=3))
    sim.add_order(SHOP, ordered_at=now - timedelta(days=2), progress=300)
    numbers = await client.search_order_numbers(progress=[100], **_last_two_weeks(clock))
    assert numbers == [early, late]
    [call] = sim.calls_to("searchOrder")
    assert call.body["dateType"] == 1
    assert call.body["orderProgressList"] == [100]
    assert RMS_DATETIME.fullmatch(call.body["startDatetime"])
    assert call.body["endDatetime"] == (now.astimezone(JST).strftime("%Y-%m-%dT%H:%M:%S+0900"))
    assert call.body["PaginationRequestModel"] == {
        "requestRecordsAmount": 1000,
        "requestPage": 1,
        "SortModelList": [{"sortColumn": 1, "sortDirection": 1}],
    }


async def test_an_empty_search_is_an_empty_list(client: RmsHttpClient, clock: FakeClock) -> None:
    assert await client.search_order_numbers(progress=[100], **_last_two_weeks(clock)) == []


async def test_search_reads_every_page(
    client: RmsHttpClient, sim: RmsSimulator, clock: FakeClock
) -> None:
    start = clock.now() - timedelta(days=5)
    expected = [sim.add_order(SHOP, ordered_at=start + timedelta(minutes=i)) for i in range(2500)]
    numbers = await client.search_order_numbers(progress=[100], start=start, end=clock.now())
    assert numbers == expected
    pages = [c.body["PaginationRequestModel"]["requestPage"] for c in sim.calls_to("searchOrder")]
    assert pages == [1, 2, 3]


async def test_a_long_range_is_searched_in_windows_of_63_days(
    client: RmsHttpClient, sim: RmsSimulator, clock: FakeClock
) -> None:
    start = clock.now() - timedelta(days=150)
    expected = [sim.add_order(SHOP, ordered_at=start + timedelta(days=d)) for d in (1, 70, 140)]
    numbers = await client.search_order_numbers(progress=[], start=start, end=clock.now())
    assert numbers == expected
    calls = sim.calls_to("searchOrder")
    assert len(calls) == 3
    assert all(c.status == 200 and "orderProgressList" not in c.body for c in calls)


async def test_a_window_beyond_the_15000_cap_is_halved_until_everything_is_reachable(
    http_mock: aioresponses, session: aiohttp.ClientSession, clock: FakeClock
) -> None:
    start = datetime(2026, 11, 1, tzinfo=JST)
    orders = [
        (start + timedelta(seconds=40 * i), f"{SHOP}-20261101-{i:010d}") for i in range(15_001)
    ]
    windows: list[tuple[str, str, int]] = []

    def search(url: Any, **kwargs: Any) -> CallbackResult:
        body = json.loads(kwargs["data"])
        low = datetime.strptime(body["startDatetime"], "%Y-%m-%dT%H:%M:%S%z")
        high = datetime.strptime(body["endDatetime"], "%Y-%m-%dT%H:%M:%S%z")
        page = body["PaginationRequestModel"]["requestPage"]
        size = body["PaginationRequestModel"]["requestRecordsAmount"]
        hits = [n for at, n in orders if low <= at <= high]
        windows.append((body["startDatetime"], body["endDatetime"], page))
        return CallbackResult(
            payload={
                "orderNumberList": hits[:15_000][(page - 1) * size : page * size],
                "MessageModelList": [
                    {"messageType": "INFO", "messageCode": "INFO_101", "message": ""}
                ],
                "PaginationResponseModel": {
                    "totalRecordsAmount": len(hits),
                    "totalPages": -(-len(hits) // size),
                    "requestPage": page,
                },
            }
        )

    http_mock.post("http://rms.test" + SEARCH_PATH, callback=search, repeat=True)
    client = RmsHttpClient(
        session,
        base_url="http://rms.test",
        service_secret=SECRET,
        license_key=KEY,
        clock=clock,
        requests_per_second=1000.0,
    )
    numbers = await client.search_order_numbers(
        progress=[100], start=start, end=start + timedelta(days=7)
    )
    assert numbers == [n for _, n in orders]
    assert windows[0][2] == 1 and windows[1][0] == windows[0][0] and windows[1][1] < windows[0][1]
    assert len(windows) == 1 + 8 + 8  # the capped probe, then two halves of 7,5xx orders


# --- getOrder ----------------------------------------------------------------------------------
async def test_get_orders_reads_in_calls_of_100_and_skips_unknown_numbers(
    client: RmsHttpClient, sim: RmsSimulator
) -> None:
    numbers = [sim.add_order(SHOP) for _ in range(249)]
    orders = await client.get_orders([*numbers, f"{SHOP}-20261128-9999999999"])
    assert [o.number for o in orders] == numbers
    calls = sim.calls_to("getOrder")
    assert [len(c.body["orderNumberList"]) for c in calls] == [100, 100, 50]
    assert all(c.body["version"] == 10 for c in calls)


async def test_get_orders_returns_domain_orders_with_the_raw_model(
    client: RmsHttpClient, sim: RmsSimulator, clock: FakeClock
) -> None:
    number = sim.add_order(SHOP, packages=2, postage=[UNSET_FEE, 700])
    [order] = await client.get_orders([number])
    assert order.ordered_at == clock.now()
    assert order.ordered_at.tzinfo is not None
    assert order.cancel_due == (clock.now().astimezone(JST) + timedelta(days=14)).date()
    assert [p.postage_price for p in order.packages] == [UNSET_FEE, 700]
    assert order.fee_unset
    assert dict(order.raw) == sim.order(number)


async def test_nothing_to_read_makes_no_call(client: RmsHttpClient, sim: RmsSimulator) -> None:
    assert await client.get_orders([]) == []
    assert sim.calls == []


# --- confirmOrder ------------------------------------------------------------------------------
async def test_confirming_100_orders_is_one_call(client: RmsHttpClient, sim: RmsSimulator) -> None:
    numbers = [sim.add_order(SHOP) for _ in range(MAX_NUMBERS_PER_CALL)]
    results = await client.confirm_orders(numbers)
    assert [r.order_number for r in results] == numbers
    assert all(r.ok and r.code == "ORDER_EXT_API_CONFIRM_ORDER_INFO_101" for r in results)
    assert len(sim.calls_to("confirmOrder")) == 1
    assert {sim.order(n)["orderProgress"] for n in numbers} == {200}


@pytest.mark.parametrize("count", [0, MAX_NUMBERS_PER_CALL + 1])
async def test_confirming_none_or_more_than_100_is_refused_before_any_call(
    client: RmsHttpClient, sim: RmsSimulator, count: int
) -> None:
    with pytest.raises(ValueError):
        await client.confirm_orders([f"{SHOP}-20261128-{i:010d}" for i in range(count)])
    assert sim.calls == []


async def test_confirm_reports_each_order_on_its_own(
    client: RmsHttpClient, sim: RmsSimulator
) -> None:
    good = sim.add_order(SHOP)
    no_postage = sim.add_order(SHOP, postage=UNSET_FEE)
    moved = sim.add_order(SHOP, progress=300)
    cancelled = sim.add_order(SHOP, progress=900)
    unknown = f"{SHOP}-20261128-0000000001"
    results = await client.confirm_orders([good, no_postage, moved, cancelled, unknown])
    assert [(r.ok, r.code[-9:]) for r in results] == [
        (True, "_INFO_101"),
        (False, "ERROR_105"),
        (False, "ERROR_103"),
        (False, "ERROR_102"),
        (False, "ERROR_101"),
    ]
    assert all(r.message for r in results)


async def test_an_order_missing_from_the_confirm_answer_is_reported_missing(
    client: RmsHttpClient, sim: RmsSimulator
) -> None:
    number = sim.add_order(SHOP)
    sim.fail_next("confirmOrder", status=200, body={"MessageModelList": []})
    [result] = await client.confirm_orders([number])
    assert (result.ok, result.code) == (False, "MISSING_RESULT")


# --- updateOrderSender -------------------------------------------------------------------------
async def test_update_postage_round_trip_then_confirm(
    client: RmsHttpClient, sim: RmsSimulator
) -> None:
    number = sim.add_order(SHOP, packages=2, postage=[UNSET_FEE, 500])
    [order] = await client.get_orders([number])
    basket = order.packages[0].basket_id
    await client.update_postage(order, {basket: 800})
    [sent_number, body] = sim.sender_updates[0]
    assert sent_number == number
    assert [p["postagePrice"] for p in body["PackageModelList"]] == [800, 500]
    assert (
        body["PackageModelList"][0]["ItemModelList"]
        == order.raw["PackageModelList"][0]["ItemModelList"]
    )
    [after] = await client.get_orders([number])
    assert [p.postage_price for p in after.packages] == [800, 500]
    assert after.postage_price == 1300
    assert (
        after.total_price
        == sum(i.price_tax_incl * i.units for p in after.packages for i in p.items) + 1300
    )
    assert not after.fee_unset
    [result] = await client.confirm_orders([number])
    assert result.ok


async def test_update_postage_refused_by_rms_raises_rejected(
    client: RmsHttpClient, sim: RmsSimulator
) -> None:
    number = sim.add_order(SHOP)
    [order] = await client.get_orders([number])
    sim.set_progress(number, 500)
    with pytest.raises(errors.RmsRejectedError) as caught:
        await client.update_postage(order, {order.packages[0].basket_id: 900})
    assert caught.value.codes == ("ORDER_EXT_API_UPDATE_ORDERSENDER_ERROR_102",)
    assert len(sim.calls_to("updateOrderSender")) == 1


async def test_update_postage_without_the_info_code_is_rejected(
    client: RmsHttpClient, sim: RmsSimulator
) -> None:
    number = sim.add_order(SHOP, postage=UNSET_FEE)
    [order] = await client.get_orders([number])
    sim.fail_next(
        "updateOrderSender",
        status=200,
        body={
            "MessageModelList": [
                {
                    "messageType": "WARNING",
                    "messageCode": "ORDER_EXT_API_UPDATE_ORDERSENDER_WARNING_1",
                    "message": "?",
                    "orderNumber": number,
                }
            ]
        },
    )
    with pytest.raises(errors.RmsRejectedError, match="WARNING_1"):
        await client.update_postage(order, {order.packages[0].basket_id: 600})


# --- licence -----------------------------------------------------------------------------------
async def test_licence_expiry_is_tokyo_end_of_day(
    client: RmsHttpClient, sim: RmsSimulator, clock: FakeClock
) -> None:
    expiry = await client.license_expiry()
    expected_day = (clock.now() + timedelta(days=90)).astimezone(JST).date()
    assert expiry == datetime(
        expected_day.year, expected_day.month, expected_day.day, 23, 59, 59, tzinfo=JST
    )
    assert expiry.utcoffset() == timedelta(hours=9)
    [call] = sim.calls_to("license")
    assert call.body == {"licenseKey": KEY}


async def test_a_renewed_key_takes_effect_without_a_new_client(
    connect: Callable[..., RmsHttpClient], sim: RmsSimulator
) -> None:
    current = {"key": KEY}
    client = connect(license_key=lambda: current["key"])
    await client.license_expiry()
    sim.issue_key(SHOP, "SL123456_licence_0002", old_key_dies=True)
    with pytest.raises(errors.RmsAuthError):
        await client.license_expiry()
    current["key"] = "SL123456_licence_0002"
    await client.license_expiry()
    assert [c.license_key for c in sim.calls_to("license")] == [KEY, KEY, "SL123456_licence_0002"]


# --- failures ----------------------------------------------------------------------------------
async def test_bad_credentials_fail_at_once_and_never_leak(
    connect: Callable[..., RmsHttpClient],
    sim: RmsSimulator,
    caplog: pytest.LogCaptureFixture,
    clock: FakeClock,
) -> None:
    client = connect(license_key="SL_wrong_key")
    caplog.set_level(logging.DEBUG)
    with pytest.raises(errors.RmsAuthError) as caught:
        await client.search_order_numbers(progress=[100], **_last_two_weeks(clock))
    assert caught.value.code == "ES01-01" and caught.value.status == 401
    assert len(sim.calls) == 1
    token = base64.b64encode(f"{SECRET}:SL_wrong_key".encode()).decode()
    for text in (str(caught.value), caplog.text):
        assert "SL_wrong_key" not in text and SECRET not in text and token not in text


async def test_a_disabled_function_is_reported_as_such(
    connect: Callable[..., RmsHttpClient], sim: RmsSimulator, clock: FakeClock
) -> None:
    sim.set_disabled_functions(SHOP, frozenset({"rpay.order.searchOrder"}))
    with pytest.raises(errors.RmsFunctionDisabledError) as caught:
        await connect().search_order_numbers(progress=[100], **_last_two_weeks(clock))
    assert caught.value.code == "ES04-01"
    assert len(sim.calls) == 1


@pytest.mark.parametrize("status", [403, 429])
async def test_real_qps_throttling_is_waited_out_on_reads(
    session: aiohttp.ClientSession, clock: FakeClock, status: int
) -> None:
    sim = RmsSimulator(clock, qps_clock=clock, qps_status=status)
    sim.add_shop(SHOP, SECRET, KEY)
    numbers = [sim.add_order(SHOP) for _ in range(3)]
    async with TestServer(sim.make_app()) as server:
        client = RmsHttpClient(
            session,
            base_url=str(server.make_url("")),
            service_secret=SECRET,
            license_key=KEY,
            clock=clock,
            requests_per_second=100.0,
            rng=random.Random(0),
        )
        for number in numbers:  # back to back: faster than RMS's 1 request/s
            [order] = await client.get_orders([number])
            assert order.number == number
    assert status in {c.status for c in sim.calls}
    assert sim.calls[-1].status == 200


@pytest.mark.parametrize("status", [403, 429])
async def test_rate_limited_reads_retry_and_writes_do_not(
    client: RmsHttpClient, sim: RmsSimulator, clock: FakeClock, status: int
) -> None:
    number = sim.add_order(SHOP)
    sim.fail_next("getOrder", 2, status=status)
    [order] = await client.get_orders([number])
    assert [c.status for c in sim.calls_to("getOrder")] == [status, status, 200]
    sim.fail_next("confirmOrder", status=status)
    with pytest.raises(errors.RmsRateLimitedError) as caught:
        await client.confirm_orders([order.number])
    assert caught.value.before_processing
    assert len(sim.calls_to("confirmOrder")) == 1
    assert sim.confirm_log == []


@pytest.mark.parametrize("html", [False, True])
async def test_maintenance_is_retried_then_reported(
    client: RmsHttpClient, sim: RmsSimulator, clock: FakeClock, html: bool
) -> None:
    sim.set_maintenance(True, html=html)
    start = clock.now()
    with pytest.raises(errors.RmsMaintenanceError):
        await client.search_order_numbers(progress=[100], **_last_two_weeks(clock))
    assert len(sim.calls) == 4  # max_read_attempts
    assert (clock.now() - start).total_seconds() >= 0.5 + 1 + 2  # backoff, on the fake clock
    sim.set_maintenance(False)
    assert await client.search_order_numbers(progress=[100], **_last_two_weeks(clock)) == []


async def test_one_html_503_is_ridden_out(
    client: RmsHttpClient, sim: RmsSimulator, clock: FakeClock
) -> None:
    number = sim.add_order(SHOP)
    sim.fail_next("searchOrder", status=503, content_type="text/html")
    assert await client.search_order_numbers(progress=[100], **_last_two_weeks(clock)) == [number]


async def test_server_errors_exhaust_read_attempts(
    connect: Callable[..., RmsHttpClient], sim: RmsSimulator
) -> None:
    sim.fail_next("getOrder", 5, status=500)
    with pytest.raises(errors.RmsUnavailableError) as caught:
        await connect(max_read_attempts=3).get_orders([f"{SHOP}-20261128-0000000001"])
    assert caught.value.status == 500
    assert len(sim.calls_to("getOrder")) == 3


async def test_a_failed_write_is_not_retried_and_its_outcome_is_unknown(
    client: RmsHttpClient, sim: RmsSimulator
) -> None:
    number = sim.add_order(SHOP, postage=UNSET_FEE)
    [order] = await client.get_orders([number])
    sim.fail_next("updateOrderSender", status=500, apply_first=True)
    with pytest.raises(errors.RmsUnavailableError) as caught:
        await client.update_postage(order, {order.packages[0].basket_id: 600})
    assert not caught.value.before_processing
    assert len(sim.calls_to("updateOrderSender")) == 1
    assert sim.order(number)["PackageModelList"][0]["postagePrice"] == 600  # RMS did act


async def test_a_slow_read_times_out_and_is_retried(
    connect: Callable[..., RmsHttpClient], sim: RmsSimulator, clock: FakeClock
) -> None:
    number = sim.add_order(SHOP)
    sim.fail_next("searchOrder", status=200, delay=0.5)
    client = connect(timeout=0.2)
    assert await client.search_order_numbers(progress=[100], **_last_two_weeks(clock)) == [number]
    assert len(sim.calls_to("searchOrder")) == 2


async def test_a_slow_confirm_times_out_once(
    connect: Callable[..., RmsHttpClient], sim: RmsSimulator
) -> None:
    number = sim.add_order(SHOP)
    sim.fail_next("confirmOrder", status=200, delay=0.5)
    with pytest.raises(errors.RmsUnavailableError) as caught:
        await connect(timeout=0.2).confirm_orders([number])
    assert isinstance(caught.value.__cause__, TimeoutError)
    assert len(sim.calls_to("confirmOrder")) == 1


async def test_no_server_is_unavailable(session: aiohttp.ClientSession, clock: FakeClock) -> None:
    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    client = RmsHttpClient(
        session,
        base_url=f"http://127.0.0.1:{port}",
        service_secret=SECRET,
        license_key=KEY,
        clock=clock,
        max_read_attempts=2,
    )
    with pytest.raises(errors.RmsUnavailableError) as caught:
        await client.license_expiry()
    assert isinstance(caught.value.__cause__, aiohttp.ClientError | OSError)
    assert KEY not in str(caught.value)


@pytest.mark.parametrize(
    ("body", "content_type"),
    [
        ('{"orderNumberList": ["123456-20261128-0000000001", "1234', "application/json"),
        ("<html><body>RMS</body></html>", "text/html"),
        ({"MessageModelList": []}, "application/json"),
        ({"orderNumberList": "nope", "MessageModelList": []}, "application/json"),
    ],
)
async def test_broken_answers_are_protocol_errors_and_not_retried(
    client: RmsHttpClient, sim: RmsSimulator, clock: FakeClock, body: Any, content_type: str
) -> None:
    sim.fail_next("searchOrder", status=200, body=body, content_type=content_type)
    with pytest.raises(errors.RmsProtocolError):
        await client.search_order_numbers(progress=[100], **_last_two_weeks(clock))
    assert len(sim.calls) == 1


async def test_a_validation_error_carries_rms_codes(
    client: RmsHttpClient, sim: RmsSimulator, clock: FakeClock
) -> None:
    with pytest.raises(errors.RmsRejectedError) as caught:  # beyond the 730-day look-back
        await client.search_order_numbers(
            progress=[100],
            start=clock.now() - timedelta(days=800),
            end=clock.now() - timedelta(days=790),
        )
    assert caught.value.codes == ("ORDER_EXT_API_SEARCH_ORDER_ERROR_014",)
    assert len(sim.calls) == 1


async def test_requests_carry_esa_auth_and_unescaped_utf8_json(
    http_mock: aioresponses, session: aiohttp.ClientSession, clock: FakeClock
) -> None:
    seen: list[dict[str, Any]] = []

    def confirm(url: Any, **kwargs: Any) -> CallbackResult:
        seen.append(kwargs)
        return CallbackResult(
            payload={
                "MessageModelList": [
                    {
                        "messageType": "INFO",
                        "messageCode": "ORDER_EXT_API_CONFIRM_ORDER_INFO_101",
                        "message": "注文確認に成功しました。",
                        "orderNumber": "注文-1",
                    }
                ]
            }
        )

    http_mock.post("http://rms.test" + CONFIRM_PATH, callback=confirm)
    client = RmsHttpClient(
        session, base_url="http://rms.test/", service_secret="aaa", license_key="bbb", clock=clock
    )
    [result] = await client.confirm_orders(["注文-1"])
    assert result.ok
    [kwargs] = seen
    assert kwargs["headers"]["Authorization"] == "ESA YWFhOmJiYg=="
    assert kwargs["headers"]["Content-Type"] == "application/json; charset=utf-8"
    assert kwargs["data"] == '{"orderNumberList": ["注文-1"]}'.encode()


async def test_a_truncated_body_is_a_protocol_error(
    http_mock: aioresponses, session: aiohttp.ClientSession, clock: FakeClock
) -> None:
    http_mock.post(
        "http://rms.test" + SEARCH_PATH,
        status=200,
        body=b'{"orderNumberList": [], "MessageModelList": [{"messageType": "IN',
    )
    client = RmsHttpClient(
        session, base_url="http://rms.test", service_secret=SECRET, license_key=KEY, clock=clock
    )
    with pytest.raises(errors.RmsProtocolError) as caught:
        await client.search_order_numbers(progress=[100], **_last_two_weeks(clock))
    assert isinstance(caught.value.__cause__, json.JSONDecodeError)


async def test_a_transport_error_is_unavailable(
    http_mock: aioresponses, session: aiohttp.ClientSession, clock: FakeClock
) -> None:
    http_mock.post("http://rms.test" + CONFIRM_PATH, exception=aiohttp.ServerDisconnectedError())
    client = RmsHttpClient(
        session, base_url="http://rms.test", service_secret=SECRET, license_key=KEY, clock=clock
    )
    with pytest.raises(errors.RmsUnavailableError) as caught:
        await client.confirm_orders([f"{SHOP}-20261128-0000000001"])
    assert isinstance(caught.value.__cause__, aiohttp.ServerDisconnectedError)


# --- contract: behaviour any RmsApi must show (the simulator-backed client is one) -------------
@dataclass
class Backend:
    """An RmsApi plus the hooks a contract test needs to arrange the world behind it."""

    api: RmsApi
    add_order: Callable[..., str]
    progress_of: Callable[[str], int]
    now: Callable[[], datetime]


@pytest.fixture(params=["simulator"])
def backend(
    request: pytest.FixtureRequest, sim: RmsSimulator, client: RmsHttpClient, clock: FakeClock
) -> Backend:
    if request.param == "simulator":
        return Backend(
            api=client,
            add_order=lambda **kw: sim.add_order(SHOP, **kw),
            progress_of=lambda n: int(sim.order(n)["orderProgress"]),
            now=clock.now,
        )
    raise NotImplementedError(request.param)


async def test_contract_new_orders_are_found_and_read(backend: Backend) -> None:
    numbers = [backend.add_order() for _ in range(3)]
    found = await backend.api.search_order_numbers(
        progress=[100], start=backend.now() - timedelta(days=1), end=backend.now()
    )
    assert found == numbers
    orders = await backend.api.get_orders([*found, f"{SHOP}-20261128-0000000001"])
    assert [(o.number, o.progress) for o in orders] == [(n, 100) for n in numbers]


async def test_contract_confirm_moves_an_order_once(backend: Backend) -> None:
    number = backend.add_order()
    [first] = await backend.api.confirm_orders([number])
    assert first.ok and first.order_number == number
    assert backend.progress_of(number) == 200
    [second] = await backend.api.confirm_orders([number])
    assert not second.ok and second.code


async def test_contract_an_order_without_postage_is_confirmed_after_postage_is_set(
    backend: Backend,
) -> None:
    number = backend.add_order(postage=UNSET_FEE)
    [refused] = await backend.api.confirm_orders([number])
    assert not refused.ok
    [order] = await backend.api.get_orders([number])
    assert order.fee_unset
    await backend.api.update_postage(order, {order.packages[0].basket_id: 660})
    [fixed] = await backend.api.get_orders([number])
    assert fixed.packages[0].postage_price == 660 and not fixed.fee_unset
    [confirmed] = await backend.api.confirm_orders([number])
    assert confirmed.ok


async def test_contract_more_than_100_numbers_are_never_sent(backend: Backend) -> None:
    with pytest.raises(ValueError):
        await backend.api.confirm_orders([f"{SHOP}-20261128-{i:010d}" for i in range(101)])


async def test_contract_licence_expiry_is_aware_and_ahead(backend: Backend) -> None:
    expiry = await backend.api.license_expiry()
    assert expiry.tzinfo is not None
    assert expiry > backend.now().astimezone(UTC)

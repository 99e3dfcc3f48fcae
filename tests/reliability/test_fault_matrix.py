"""Fault matrix: every RMS error class × every operation that talks to RMS.

Each case injects the fault persistently (longer than every retry), runs the operation once, and
checks the invariants — no exception escapes, no order is confirmed twice in the simulator's own
log, no seeded order goes missing from our store — and the remediation the error class calls for.
Then the fault is lifted and the same operation runs again: everything must recover to the
state a fault-free run reaches. Time runs on a FakeClock, so retries and backoff cost nothing;
only the timeout faults spend real time (a 0.2 s client timeout against a 0.4 s delay).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

import pytest
from aiohttp import web

from core.confirm import confirm
from core.context import RetryPolicy
from core.events import EventKind
from core.intake import intake
from core.licenses import check_license
from core.model import Stage
from core.outcomes import Outcome, Reason
from core.poller import poll
from core.refetch import refetch
from core.remediation import CATALOGUE
from core.shipping import resolve_fee
from sandbox.rms import RmsSimulator
from tests.fakes import FakeClock
from tests.harness import Harness, harness

PERSIST = 8  # more uses than any retry loop makes: the fault outlasts every retry
CLIENT_TIMEOUT = 0.2
SLOW_ANSWER = 0.4
CONFIRM_ATTEMPTS = 3

QPS = {"Results": {"errorCode": "QPS", "message": "Forbidden-Exceeded QPS Limitation"}}
UNAUTHORISED = {"Results": {"errorCode": "ES01-01", "message": "Un-Authorised"}}
FUNCTION_DISABLED = {"Results": {"errorCode": "ES04-01", "message": "Bad Request"}}
MAINTENANCE = {"Results": {"errorCode": "MAINTENANCE", "message": "API In Maintenance"}}
INTERNAL = {"Results": {"errorCode": "SYSTEM_ERROR", "message": "予期せぬエラーが発生しました。"}}
MAINTENANCE_HTML = (
    "<!DOCTYPE html><html><head><title>503 Service Unavailable</title></head>"
    "<body><h1>Service Unavailable</h1><p>ただいまメンテナンス中です。</p></body></html>"
)
TRUNCATED = '{"MessageModelList": [{"messageType": "INFO", "messageCode": "ORDER_EXT_API_CONF'


@dataclass(frozen=True)
class Fault:
    """One RMS error class and the error kind the client must translate it into."""

    name: str
    kind: str
    status: int = 500
    body: str | dict[str, Any] | None = None
    content_type: str = "application/json"
    slow: bool = False  # answer after the client timeout
    transport: str | None = None  # "reset" (no answer) | "cut" (body shorter than announced)

    @property
    def before_processing(self) -> bool:
        """RMS certainly did not act: the write is safe to resend."""
        return self.kind in ("auth", "function_disabled", "rate_limited", "maintenance")

    @property
    def retryable(self) -> bool:
        return self.kind in ("rate_limited", "maintenance", "unavailable")

    def __str__(self) -> str:
        return self.name


FAULTS = [
    Fault("401", "auth", 401, UNAUTHORISED),
    Fault("ES04-01", "function_disabled", 400, FUNCTION_DISABLED),
    Fault("403-qps", "rate_limited", 403, QPS),
    Fault("429", "rate_limited", 429, QPS),
    Fault("500", "unavailable", 500, INTERNAL),
    Fault("503-json", "maintenance", 503, MAINTENANCE),
    Fault("503-html", "maintenance", 503, MAINTENANCE_HTML, "text/html"),
    Fault("timeout", "unavailable", 500, INTERNAL, slow=True),
    Fault("connection-reset", "unavailable", transport="reset"),
    Fault("malformed-json", "protocol", 200, "{not json"),
    Fault("truncated-json", "protocol", 200, TRUNCATED),
    Fault("truncated-transfer", "unavailable", transport="cut"),
    Fault("json-wrong-shape", "protocol", 200, "[1, 2, 3]"),
]
AMBIGUOUS = [f for f in FAULTS if not f.before_processing]
FAULT_IDS = [f.name for f in FAULTS]


# --- a simulator that can also break the connection itself -------------------------------------


@dataclass
class TransportFault:
    function: str
    count: int
    mode: str
    applied: bool


@dataclass
class _Drops:
    queue: list[TransportFault] = field(default_factory=list)
    done: list[str] = field(default_factory=list)

    def take(self, function: str) -> TransportFault | None:
        for fault in self.queue:
            if fault.function == function:
                fault.count -= 1
                if fault.count <= 0:
                    self.queue.remove(fault)
                return fault
        return None


def function_of(path: str) -> str:
    """The RMS function a request path names (the licence path is "license")."""
    if "license-management" in path:
        return "license"
    return path.rstrip("/").rsplit("/", 1)[-1]


class FlakySimulator(RmsSimulator):
    """RmsSimulator plus faults below HTTP: a dropped connection, a body cut short."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.drops = _Drops()

    def make_app(self) -> web.Application:
        app = super().make_app()

        @web.middleware
        async def drop(request: web.Request, handler: Any) -> web.StreamResponse:
            return await self._drop(request, handler)

        app.middlewares.append(drop)
        return app

    async def _drop(self, request: web.Request, handler: Any) -> web.StreamResponse:
        fault = self.drops.take(function_of(request.path))
        if fault is None:
            return await handler(request)
        if fault.applied:  # RMS did the work (and recorded the call); the answer is lost
            answer = await handler(request)
        else:  # never reached RMS's logic: count the attempt here
            self.drops.done.append(fault.function)
            await request.read()
            answer = web.json_response(INTERNAL, status=500)
        transport = request.transport
        if fault.mode == "reset" or transport is None:
            if transport is not None:
                transport.close()
            return answer
        body = bytes(answer.body)  # type: ignore[arg-type]
        cut = web.StreamResponse(
            status=answer.status, headers={"Content-Type": "application/json; charset=utf-8"}
        )
        cut.content_length = len(body)
        await cut.prepare(request)
        await cut.write(body[: len(body) // 2])
        transport.close()
        return cut


def inject(
    h: Harness, fault: Fault, function: str, *, applied: bool = False, count: int = PERSIST
) -> None:
    """Make the next ``count`` calls of ``function`` fail like ``fault``.

    ``applied``: RMS performs the request before the failure (only meaningful for the
    ambiguous classes: 5xx, timeouts, dropped connections, broken bodies).
    """
    sim = h.sim
    assert isinstance(sim, FlakySimulator)
    if fault.transport:
        sim.drops.queue.append(TransportFault(function, count, fault.transport, applied))
    elif fault.slow and applied:  # the real answer, too late
        sim.fail_next(function, count, status=200, delay=SLOW_ANSWER)
    else:
        sim.fail_next(
            function,
            count,
            status=fault.status,
            body=fault.body,
            content_type=fault.content_type,
            delay=SLOW_ANSWER if fault.slow else 0.0,
            apply_first=applied,
        )


def lift(h: Harness) -> None:
    """Remove every fault still queued."""
    h.sim.faults.entries.clear()
    assert isinstance(h.sim, FlakySimulator)
    h.sim.drops.queue.clear()


def rig(fault: Fault | None = None):
    """A harness on a FlakySimulator (no QPS limit; a short timeout for the slow faults)."""
    clock = FakeClock()
    sim = FlakySimulator(clock, requests_per_second=None, processing_delay=timedelta(minutes=30))
    timeout = CLIENT_TIMEOUT if fault is not None and fault.slow else 2.0
    return harness(
        clock, sim=sim, rps=None, timeout=timeout, retry=RetryPolicy(attempts=CONFIRM_ATTEMPTS)
    )


# --- invariants ------------------------------------------------------------------------------


async def events(h: Harness, kind: EventKind | None = None) -> list[Any]:
    found = await h.store.unposted_events(10_000)
    return [e for e in found if kind is None or e.kind is kind]


def confirmed_in_rms(h: Harness) -> list[str]:
    return [n for n, _ in h.sim.confirm_log]


async def assert_safe(h: Harness, seeded: list[str]) -> None:
    """0 double confirmations, 0 lost orders, our stage agrees with RMS where RMS confirmed."""
    twice = [n for n, c in Counter(confirmed_in_rms(h)).items() if c > 1]
    assert twice == [], f"confirmed twice in RMS: {twice}"
    records = await h.store.get_orders(seeded)
    lost = [n for n in seeded if n not in records]
    assert lost == [], f"orders lost from the store: {lost}"
    for number in seeded:
        assert isinstance(records[number].stage, Stage)
        if h.sim.order(number)["orderProgress"] >= 200:
            assert records[number].stage is not Stage.AWAITING, number


async def assert_unhealthy(h: Harness, kind: str) -> None:
    assert kind in CATALOGUE  # every error kind has a remediation entry
    assert kind in [e.data["error_key"] for e in await events(h, EventKind.RMS_UNHEALTHY)]
    assert h.core.failing.get("main") == kind or h.core.failing.get("api") == kind


async def seed(h: Harness, count: int = 3, shop: str = "main") -> list[str]:
    numbers = [h.add_order(shop) for _ in range(count)]
    report = await intake(h.core, shop)
    assert report.error is None
    return numbers


# --- the operations ----------------------------------------------------------------------------


async def op_intake(h: Harness, fault: Fault) -> None:
    numbers = [h.add_order() for _ in range(3)]
    unset = h.add_order(postage=-9999)
    inject(h, fault, "searchOrder")
    report = await intake(h.core, "main")
    assert report.error == fault.kind
    await assert_unhealthy(h, fault.kind)
    assert await h.store.get_orders([*numbers, unset]) == {}
    lift(h)
    again = await intake(h.core, "main")
    assert (again.error, again.new) == (None, 4)
    assert await events(h, EventKind.RMS_RECOVERED)
    await assert_safe(h, [*numbers, unset])
    assert (await h.store.get_order(unset)).stage is Stage.NEEDS_ACTION
    assert {(await h.store.get_order(n)).stage for n in numbers} == {Stage.AWAITING}


async def op_confirm(h: Harness, fault: Fault, applied: bool = False) -> None:
    numbers = await seed(h)
    inject(h, fault, "confirmOrder", applied=applied)
    report = await confirm(h.core, "main", numbers, "U0TANAKA")
    await assert_safe(h, numbers)
    calls = len(h.sim.calls_to("confirmOrder")) + len(h.sim.drops.done)
    if applied:  # RMS did it: reconciled with getOrder, never sent again
        assert [o.outcome for o in report.outcomes] == [Outcome.CONFIRMED] * 3
        assert sorted(confirmed_in_rms(h)) == sorted(numbers)
        assert calls == 1
    else:
        assert [o.outcome for o in report.outcomes] == [Outcome.FAILED] * 3
        assert {o.error.key for o in report.outcomes} == {fault.kind}
        assert confirmed_in_rms(h) == []
        attempts = CONFIRM_ATTEMPTS if fault.retryable else 1
        assert calls == attempts
        if fault.retryable:
            assert f"retried:{attempts - 1}" in report.outcomes[0].error.bot_did
        for number in numbers:
            record = await h.store.get_order(number)
            assert (record.stage, record.error_key) == (Stage.ERROR, fault.kind)
            assert (await h.store.get_intent(number)).state == "failed"
        errors = await events(h, EventKind.ORDER_ERROR)
        assert sorted(e.order_number for e in errors) == sorted(numbers)
        assert {e.data["error_key"] for e in errors} == {fault.kind}
    lift(h)
    again = await confirm(h.core, "main", numbers, "U0SATO")
    expected = Outcome.ALREADY_CONFIRMED if applied else Outcome.CONFIRMED
    assert [o.outcome for o in again.outcomes] == [expected] * 3
    assert sorted(confirmed_in_rms(h)) == sorted(numbers)
    h.clock.advance(minutes=31)
    await poll(h.core, "main")
    await assert_safe(h, numbers)
    assert {(await h.store.get_order(n)).stage for n in numbers} == {Stage.PROCESSED}


async def op_poll(h: Harness, fault: Fault) -> None:
    numbers = await seed(h)
    await confirm(h.core, "main", numbers, "U0TANAKA")
    h.clock.advance(minutes=31)
    inject(h, fault, "getOrder")
    report = await poll(h.core, "main")
    assert report.error == fault.kind
    await assert_unhealthy(h, fault.kind)
    # RMS says 300 by now, but we could not read it: never called ready early, never dropped
    assert {(await h.store.get_order(n)).stage for n in numbers} == {Stage.PROCESSING}
    assert (await h.store.get_orders(numbers)).keys() == set(numbers)
    lift(h)
    again = await poll(h.core, "main")
    assert (again.error, again.read) == (None, 3)
    await assert_safe(h, numbers)
    assert {(await h.store.get_order(n)).stage for n in numbers} == {Stage.PROCESSED}
    assert len(h.sim.confirm_log) == 3


async def op_refetch(h: Harness, fault: Fault) -> None:
    moved, cancelled, same = await seed(h)
    h.sim.set_progress(moved, 200)  # confirmed directly in RMS
    h.sim.set_progress(cancelled, 900)  # cancelled by the customer
    inject(h, fault, "getOrder")
    numbers = [moved, cancelled, same]
    report = await refetch(h.core, "main", numbers, "U0TANAKA")
    assert [o.outcome for o in report.outcomes] == [Outcome.FAILED] * 3
    assert {o.error.key for o in report.outcomes} == {fault.kind}
    await assert_unhealthy(h, fault.kind)
    # nothing adopted from a failed read; every order still where it was
    assert {(await h.store.get_order(n)).stage for n in numbers} == {Stage.AWAITING}
    lift(h)
    again = await refetch(h.core, "main", numbers, "U0TANAKA")
    assert [(o.outcome, o.stage) for o in again.outcomes] == [
        (Outcome.ADOPTED, Stage.PROCESSING),
        (Outcome.REFRESHED, Stage.CANCELLED),
        (Outcome.REFRESHED, Stage.AWAITING),
    ]
    assert h.sim.calls_to("confirmOrder") == []
    await assert_safe(h, numbers)


async def op_fee(h: Harness, fault: Fault, applied: bool = False) -> None:
    number = h.add_order("api", postage=-9999)
    assert (await intake(h.core, "api")).error is None
    basket = (await h.store.get_order(number)).snapshot.packages[0].basket_id
    inject(h, fault, "updateOrderSender", applied=applied)
    report = await resolve_fee(h.core, "api", number, {basket: "800"}, "U0TANAKA")
    await assert_safe(h, [number])
    outcome = report.outcomes[0]
    writes = len(h.sim.calls_to("updateOrderSender")) + len(h.sim.drops.done)
    assert writes == 1  # updateOrderSender is not idempotent: never blindly retried
    if applied:  # written despite the broken answer: re-read, then confirmed
        assert outcome.outcome is Outcome.CONFIRMED
        assert confirmed_in_rms(h) == [number]
    else:
        assert outcome.outcome is Outcome.FAILED
        if fault.before_processing:
            assert outcome.error.key == fault.kind
            await assert_unhealthy(h, fault.kind)
        else:  # unknown outcome: read again rather than write again; RMS still says -9999
            assert outcome.reason is Reason.FEE_STILL_UNSET
        assert h.sim.sender_updates == []
        assert confirmed_in_rms(h) == []
        assert (await h.store.get_order(number)).stage is Stage.NEEDS_ACTION
    lift(h)
    again = await resolve_fee(h.core, "api", number, {basket: "800"}, "U0SATO")
    if applied:
        assert again.outcomes[0].reason is Reason.NO_FEE_NEEDED
    else:
        assert again.outcomes[0].outcome is Outcome.CONFIRMED
    assert len(h.sim.sender_updates) == 1
    assert confirmed_in_rms(h) == [number]
    assert h.sim.order(number)["PackageModelList"][0]["postagePrice"] == 800
    assert (await h.store.get_order(number)).stage is Stage.PROCESSING
    await assert_safe(h, [number])


async def op_license(h: Harness, fault: Fault) -> None:
    numbers = await seed(h)
    inject(h, fault, "license")
    await check_license(h.core, "main", h.clock.now())
    row = await h.store.shop_row("main")
    assert row.get("license_expires") is None
    if fault.kind == "auth":  # a refused key: the licence remediation, once
        expired = await events(h, EventKind.LICENSE_EXPIRED)
        assert [e.data["error_key"] for e in expired] == ["auth"]
    else:
        failed = await events(h, EventKind.LICENSE_CHECK_FAILED)
        assert [e.data["error_key"] for e in failed] == [fault.kind]
    await check_license(h.core, "main", h.clock.now())  # still failing: announced only once
    assert len(await events(h, EventKind.LICENSE_EXPIRED)) <= 1
    assert len(await events(h, EventKind.LICENSE_CHECK_FAILED)) <= 1
    lift(h)
    await check_license(h.core, "main", h.clock.now())
    assert (await h.store.shop_row("main")).get("license_expires")
    await assert_safe(h, numbers)


OPERATIONS = {
    "intake": op_intake,
    "confirm": op_confirm,
    "poll": op_poll,
    "refetch": op_refetch,
    "fee": op_fee,
    "license": op_license,
}


@pytest.mark.parametrize("operation", list(OPERATIONS))
@pytest.mark.parametrize("fault", FAULTS, ids=FAULT_IDS)
async def test_fault_during_operation_is_survived_and_remedied(fault: Fault, operation: str):
    async with rig(fault) as h:
        await OPERATIONS[operation](h, fault)


@pytest.mark.parametrize("operation", ["confirm", "fee"])
@pytest.mark.parametrize("fault", AMBIGUOUS, ids=[f.name for f in AMBIGUOUS])
async def test_write_applied_by_rms_before_the_fault_is_reconciled_not_resent(
    fault: Fault, operation: str
):
    async with rig(fault) as h:
        await OPERATIONS[operation](h, fault, applied=True)


@pytest.mark.parametrize(
    "fault",
    [f for f in FAULTS if f.retryable and not f.slow],
    ids=[f.name for f in FAULTS if f.retryable and not f.slow],
)
async def test_one_transient_read_failure_is_retried_by_the_client(fault: Fault):
    async with rig(fault) as h:
        numbers = await seed(h)
        await confirm(h.core, "main", numbers, "U0TANAKA")
        h.clock.advance(minutes=31)
        inject(h, fault, "getOrder", count=1)
        report = await poll(h.core, "main")
        assert (report.error, report.read) == (None, 3)
        assert {(await h.store.get_order(n)).stage for n in numbers} == {Stage.PROCESSED}
        assert "main" not in h.core.failing


async def test_every_fault_at_once_across_a_bulk_confirm_never_confirms_twice():
    """Faults on confirmOrder *and* getOrder in turn during one bulk: reconcile stays exact."""
    from core.reconciler import reconcile

    async with rig() as h:
        numbers = await seed(h, 250)
        h.sim.fail_next("confirmOrder", status=500, apply_first=True)  # chunk 1: applied, 500
        h.sim.fail_next("getOrder", 4, status=503)  # … and RMS cannot be read (4 tries)
        h.sim.fail_next("confirmOrder", status=403, body=QPS)  # chunk 2: QPS, then retried
        h.sim.drops.queue.append(TransportFault("confirmOrder", 1, "cut", True))  # chunk 2 again
        report = await confirm(h.core, "main", "all", "U0TANAKA")
        await assert_safe(h, numbers)
        outcomes = Counter(o.outcome for o in report.outcomes)
        assert outcomes[Outcome.PENDING] == 100  # chunk 1 left 確認送信中 for the reconciler
        lift(h)
        h.clock.advance(minutes=3)
        await reconcile(h.core, "main")
        again = await confirm(h.core, "main", numbers, "U0SATO")
        assert {o.outcome for o in again.outcomes} <= {Outcome.ALREADY_CONFIRMED, Outcome.CONFIRMED}
        assert sorted(confirmed_in_rms(h)) == sorted(numbers)
        await assert_safe(h, numbers)
        counts = await h.store.stage_counts("main")
        assert counts == {Stage.PROCESSING: 250}


@pytest.mark.parametrize("answer", ["empty list", "one result of three"])
async def test_confirm_answer_missing_results_for_orders_rms_confirmed(answer):
    async with rig() as h:
        numbers = await seed(h)
        messages = (
            []
            if answer == "empty list"
            else [
                {
                    "messageType": "INFO",
                    "messageCode": "ORDER_EXT_API_CONFIRM_ORDER_INFO_101",
                    "message": "注文確認に成功しました。",
                    "orderNumber": numbers[0],
                }
            ]
        )
        h.sim.fail_next(
            "confirmOrder", status=200, body={"MessageModelList": messages}, apply_first=True
        )
        report = await confirm(h.core, "main", numbers, "U0TANAKA")
        await assert_safe(h, numbers)
        assert sorted(confirmed_in_rms(h)) == sorted(numbers)
        assert len(h.sim.calls_to("confirmOrder")) == 1
        assert await events(h, EventKind.ORDER_ERROR) == []
        assert [(o.outcome, o.by) for o in report.outcomes] == [(Outcome.CONFIRMED, "U0TANAKA")] * 3

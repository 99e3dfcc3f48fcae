"""A confirmOrder batch answer is read order by order, whatever its HTTP status."""

from __future__ import annotations

import json

import pytest

from core.confirm import confirm
from core.intake import intake
from core.model import Stage
from core.outcomes import Outcome
from handlers.render.reports import confirm_report
from sandbox.rms.faults import BATCH_400_WITH_PER_ORDER_MESSAGES
from tests.harness import harness


def _texts(messages: list[dict[str, object]]) -> str:
    return json.dumps(messages, ensure_ascii=False)


async def test_a_400_batch_answer_with_per_order_results_is_read_order_by_order() -> None:
    async with harness() as h:
        numbers = [h.add_order() for _ in range(5)]
        await intake(h.core, "main")
        h.sim.set_progress(numbers[2], 900)  # the customer cancelled after our last read
        h.sim.set_quirk(BATCH_400_WITH_PER_ORDER_MESSAGES)

        report = await confirm(h.core, "main", numbers, "U0TANAKA")

        assert [c.status for c in h.sim.calls_to("confirmOrder")] == [400]
        by_number = {o.order_number: o for o in report.outcomes}
        confirmed = [n for n in numbers if n != numbers[2]]
        assert {by_number[n].outcome for n in confirmed} == {Outcome.CONFIRMED}
        assert {by_number[n].stage for n in confirmed} == {Stage.PROCESSING}
        cancelled = by_number[numbers[2]]
        assert cancelled.outcome is Outcome.FAILED
        assert cancelled.error is not None and cancelled.error.key == "cancelled"
        for n in confirmed:
            record = await h.store.get_order(n)
            assert record is not None and record.stage is Stage.PROCESSING
        text = _texts(confirm_report(report, "ja", shop_name="main shop"))
        assert "RMSがリクエストを受け付けませんでした" not in text
        assert "注文はキャンセルされています" in text
        assert h.confirm_calls() == 1


async def test_orders_an_answer_does_not_name_are_reconciled_with_get_order() -> None:
    async with harness() as h:
        named, confirmed_silently, untouched = (h.add_order() for _ in range(3))
        await intake(h.core, "main")
        # RMS processed the batch, then answered 400 naming only the first order.
        h.sim.fail_next(
            "confirmOrder",
            status=400,
            apply_first=True,
            body={
                "MessageModelList": [
                    {
                        "messageType": "INFO",
                        "messageCode": "ORDER_EXT_API_CONFIRM_ORDER_INFO_101",
                        "message": "注文確認に成功しました。",
                        "orderNumber": named,
                    }
                ]
            },
        )
        # ... and the third one was still 100 because RMS could not confirm it (fee unset).
        h.sim.set_postage(untouched, 0, -9999)

        report = await confirm(h.core, "main", [named, confirmed_silently, untouched], "U1")

        by_number = {o.order_number: o for o in report.outcomes}
        assert by_number[named].outcome is Outcome.CONFIRMED
        assert by_number[confirmed_silently].outcome is Outcome.CONFIRMED  # getOrder: left 100
        still = by_number[untouched]
        assert still.outcome is Outcome.FAILED  # getOrder: still 100, so surely not confirmed
        assert h.confirm_calls() == 1  # never re-sent blindly
        assert len(h.sim.calls_to("getOrder")) == 2  # intake, then one reconciling read
        record = await h.store.get_order(untouched)
        assert record is not None and record.stage is not Stage.SENDING
        async with h.store.tx() as tx:
            intents = await tx.intents([untouched])
        assert intents[untouched].state == "failed"  # released: staff may confirm it again


async def test_an_unrecognised_per_order_message_is_reconciled_before_it_is_reported() -> None:
    async with harness() as h:
        number = h.add_order()
        await intake(h.core, "main")
        h.sim.fail_next(
            "confirmOrder",
            status=200,
            apply_first=True,  # RMS did confirm it, but its answer says something we do not know
            body={
                "MessageModelList": [
                    {
                        "messageType": "WARNING",
                        "messageCode": "ORDER_EXT_API_CONFIRM_ORDER_WARNING_999",
                        "message": "想定外のメッセージ",
                        "orderNumber": number,
                    }
                ]
            },
        )

        report = await confirm(h.core, "main", [number], "U1")

        assert report.outcomes[0].outcome is Outcome.CONFIRMED
        assert h.confirm_calls() == 1


async def test_the_simulator_quirk_answers_400_only_for_a_batch_with_a_refused_order() -> None:
    async with harness() as h:
        h.sim.set_quirk(BATCH_400_WITH_PER_ORDER_MESSAGES)
        good, other, cancelled = h.add_order(), h.add_order(), h.add_order(progress=900)
        api = h.core.api("main")
        clean = await api.confirm_orders([good])
        mixed = await api.confirm_orders([other, cancelled])
        assert [c.status for c in h.sim.calls_to("confirmOrder")] == [200, 400]
        assert [(r.ok, r.clear) for r in (*clean, *mixed)] == [(True, True)] * 2 + [(False, True)]
        url = str(h.server.make_url("/_sim/quirks"))
        body = {"name": BATCH_400_WITH_PER_ORDER_MESSAGES, "on": False}
        async with h.session.post(url, json=body) as response:
            assert response.status == 200 and (await response.json())["quirks"] == []
        with pytest.raises(ValueError, match="no_such_quirk"):
            h.sim.set_quirk("no_such_quirk")

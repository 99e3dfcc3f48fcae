"""Requests stored before the ack: a crash at any point loses nothing, repeats
nothing, and the report is posted exactly once."""

from __future__ import annotations

from core.intake import intake
from core.model import Stage
from core.requests import RequestWorker
from core.store.requests import open_requests
from handlers.guard import Roles
from tests.stack import bot_stack, confirm_all


def reports_about(s, number):
    """Channel posts (not digests) that report a confirmation of ``number``."""
    return [
        m
        for m in s.slack.messages("C0SHOP1")
        if number in (m.text + str(m.blocks)) and "注文確認" in (m.text + str(m.blocks))
    ]


async def test_a_confirm_acked_before_a_crash_is_carried_out_after_the_restart(tmp_path):
    async with bot_stack(tmp_path) as s:
        number = s.add_order()
        await intake(s.rt.core, "main")
        s.sim.set_maintenance(True)  # the first process cannot get anywhere before it dies
        result = await s.slack.send_command("/confirm", number, channel="C0SHOP1")
        assert result.status == 200
        assert "受け付けました" in result.body
        await s.crash()  # all memory gone; the request row was committed before the ack
        s.sim.set_maintenance(False)
        await s.restart()
        await s.settle()
        assert len(s.sim.confirm_log) == 1
        assert (await s.rt.core.store.get_order(number)).stage is Stage.PROCESSING
        assert len(reports_about(s, number)) == 1


async def test_a_confirmation_recorded_before_a_crash_is_reported_once_and_not_as_already(
    tmp_path,
):
    async with bot_stack(tmp_path) as s:
        number = s.add_order()
        await intake(s.rt.core, "main")
        await s.slack.send_command("/confirm", number, channel="C0SHOP1")
        async with s.rt.core.store.read() as r:
            (request,) = await open_requests(r)
        worker: RequestWorker = s.rt.worker
        await worker._execute(request)  # confirmed and recorded … then the process dies
        await s.crash()
        await s.restart()
        await s.settle()
        assert len(s.sim.confirm_log) == 1
        posted = reports_about(s, number)
        assert len(posted) == 1
        assert "既に" not in posted[0].text + str(posted[0].blocks)
        await s.settle()  # nothing left to post, nothing posted again
        assert len(reports_about(s, number)) == 1


async def test_a_redelivered_click_and_a_double_click_make_one_request(tmp_path):
    async with bot_stack(tmp_path) as s:
        number = s.add_order()
        await intake(s.rt.core, "main")
        await s.slack.send_command("/confirm", f"{number}", channel="C0SHOP1")
        async with s.rt.core.store.read() as r:
            assert len(await open_requests(r)) == 1
        # the same order confirmed from two buttons of one card while the first is open
        from core.model import Request, RequestKind

        first, new = await s.rt.deps.request(
            RequestKind.CONFIRM,
            "main",
            [number],
            "U0TANAKA",
            delivery_key="click:T1:confirm",
            open_key=f"confirm:{number}",
        )
        again, new_again = await s.rt.deps.request(
            RequestKind.CONFIRM,
            "main",
            [number],
            "U0TANAKA",
            delivery_key="click:T1:confirm",  # Slack redelivered the same click
            open_key=f"confirm:{number}",
        )
        double, new_double = await s.rt.deps.request(
            RequestKind.CONFIRM,
            "main",
            [number],
            "U0SATO",
            delivery_key="click:T2:confirm",  # a second click while the first is open
            open_key=f"confirm:{number}",
        )
        assert new and not new_again and not new_double
        assert first.id == again.id == double.id
        assert isinstance(first, Request)
        await s.settle()
        assert len(s.sim.confirm_log) == 1


async def test_a_role_removed_after_the_ack_is_refused_at_the_effect(tmp_path):
    async with bot_stack(tmp_path, confirmers=["U0TANAKA"]) as s:
        number = s.add_order()
        await intake(s.rt.core, "main")
        result = await s.slack.send_command("/confirm", number, channel="C0SHOP1")
        assert "受け付けました" in result.body
        s.rt.deps.auth.shops["main"] = Roles(("U0SATO",), ())  # 田中 lost the role meanwhile
        await s.settle()
        assert s.sim.calls_to("confirmOrder") == []
        assert (await s.rt.core.store.get_order(number)).stage is Stage.AWAITING
        # the refusal replaces the placeholder, for the requester only: no 受け付けました left
        [answer] = [e.text + str(e.blocks) for e in s.slack.ephemerals("U0TANAKA")]
        assert "権限" in answer and "受け付けました" not in answer
        assert not any("権限" in m.text + str(m.blocks) for m in s.slack.messages("C0SHOP1"))


async def test_a_bulk_confirmation_is_one_message_its_progress_then_its_result(tmp_path):

    async with bot_stack(tmp_path) as s:
        for _ in range(150):
            s.add_order()
        await intake(s.rt.core, "main")
        await confirm_all(s.slack, "C0SHOP1")
        await s.settle()
        assert len(s.sim.calls_to("confirmOrder")) == 2
        assert len(s.sim.confirm_log) == 150
        top_level = [
            m
            for m in s.slack.messages("C0SHOP1")
            if not m.thread_ts and not str(m.metadata).count("digest:")
        ]
        assert len(top_level) == 1  # the progress message and the report are one message
        assert top_level[0].metadata["event_payload"]["key"].startswith("request:")
        assert "150" in top_level[0].text + str(top_level[0].blocks)


async def test_a_request_that_fails_waits_for_the_next_turn_instead_of_spending_its_tries(
    tmp_path,
):
    """A request whose run raised (a bug, the database gone) is resumed at the next turn of
    the worker, not retried in a tight loop until it gives up."""
    async with bot_stack(tmp_path) as s:
        number = s.add_order()
        await intake(s.rt.core, "main")
        await s.slack.send_command("/confirm", number, channel="C0SHOP1")
        worker = s.rt.worker
        real, calls = worker._execute, []

        async def broken(request):
            calls.append(request.id)
            raise RuntimeError("the database went away")

        worker._execute = broken
        assert await worker.run_once() == 0
        assert len(calls) == 1  # once this turn
        worker._execute = real
        assert await worker.run_once() == 1  # the next turn carries it out
        assert len(s.sim.confirm_log) == 1


async def test_a_confirm_all_refused_at_the_effect_names_the_orders_and_why(tmp_path):

    async with bot_stack(tmp_path, confirmers=["U0TANAKA"]) as s:
        numbers = [s.add_order() for _ in range(2)]
        await intake(s.rt.core, "main")
        await confirm_all(s.slack, "C0SHOP1")
        s.rt.deps.auth.shops["main"] = Roles(("U0SATO",), ())  # the role went away meanwhile
        await s.settle()
        assert s.sim.calls_to("confirmOrder") == []
        report = next(m for m in s.slack.messages("C0SHOP1") if "注文確認通知の結果" in m.text)
        shown = report.text + str(report.blocks)
        assert all(n in shown for n in numbers)
        assert "権限がありませんでした" in shown


async def test_a_fee_approval_cut_off_after_the_fee_was_written_finishes_once_after_restart(
    tmp_path, monkeypatch
):
    """The process dies between the fee write (RMS has it) and the confirmation: after the
    restart the same request confirms once and never writes the fee again."""
    import core.shipping
    from core.model import RequestKind

    async with bot_stack(tmp_path) as s:
        number = s.add_order("api", postage=-9999)
        await intake(s.rt.core, "api")
        record = await s.rt.core.store.get_order(number)
        fees = {str(p.basket_id): "800" for p in record.snapshot.packages}
        await s.rt.deps.request(
            RequestKind.FEE,
            "api",
            [number],
            "U0TANAKA",
            delivery_key="view:V1:h",
            channel="C0SHOP2",
            payload={"fees": fees},
        )

        async def dies(*args, **kwargs):
            raise RuntimeError("killed after the fee write")

        monkeypatch.setattr(core.shipping, "confirm", dies)
        assert await s.rt.worker.run_once() == 0
        assert len(s.sim.calls_to("updateOrderSender")) == 1
        monkeypatch.undo()
        await s.crash()
        await s.restart()
        await s.settle()
        assert len(s.sim.calls_to("updateOrderSender")) == 1
        assert [n for n, _ in s.sim.confirm_log] == [number]
        reports = [m for m in s.slack.messages("C0SHOP2") if "注文確認通知の結果" in m.text]
        assert len(reports) == 1

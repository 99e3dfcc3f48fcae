"""One step, one unit of work: no stale overwrite, nothing left half-done."""

from __future__ import annotations

from dataclasses import replace

import pytest

from core.confirm import _claim, confirm
from core.errors import InvariantError
from core.events import EventKind
from core.intake import intake
from core.model import Stage
from core.poller import poll
from core.reconciler import reconcile, sweep
from core.shipping import _claim as claim_fee_write
from core.shipping import resolve_fee
from core.snapshots import apply_snapshots, fetch
from tests.harness import harness


async def events(h, kind):
    start = h.clock.now().replace(year=2000)
    end = h.clock.now().replace(year=2100)
    return [e for e in await h.store.events_between("main", start, end) if e.kind is kind] + [
        e for e in await h.store.events_between("api", start, end) if e.kind is kind
    ]


async def test_a_read_taken_before_a_confirmation_never_turns_it_back_to_awaiting():
    async with harness() as h:
        number = h.add_order()
        await intake(h.core, "main")
        old = await fetch(h.core, "main", [number])  # poll reads 100 …
        await confirm(h.core, "main", [number], "U0TANAKA")  # … a click confirms meanwhile …
        await apply_snapshots(h.core, "main", old)  # … then the old read arrives
        record = await h.store.get_order(number)
        assert record.stage is Stage.PROCESSING
        assert record.polling


async def test_an_old_read_applied_after_a_newer_one_does_not_post_processed_twice():
    async with harness() as h:
        number = h.add_order()
        await intake(h.core, "main")
        await confirm(h.core, "main", [number], "U0TANAKA")
        older = await fetch(h.core, "main", [number])  # still 200
        h.clock.advance(minutes=31)
        newer = await fetch(h.core, "main", [number])  # 300: 楽天処理済
        await apply_snapshots(h.core, "main", newer)
        await apply_snapshots(h.core, "main", older)
        assert (await h.store.get_order(number)).stage is Stage.PROCESSED
        h.clock.advance(minutes=10)
        await poll(h.core, "main")
        assert len(await events(h, EventKind.ORDER_PROCESSED)) == 1


async def test_an_intent_rms_does_not_know_is_released_not_left_sending():
    async with harness() as h:
        number = h.add_order()
        await intake(h.core, "main")
        await _claim(h.core, "main", [number], "U0TANAKA", {})  # then the process died
        del h.sim.state.orders[number]  # and RMS no longer returns the order
        h.sim.state._open.pop(number, None)
        await reconcile(h.core, "main", startup=True)
        record = await h.store.get_order(number)
        assert record.stage is Stage.ERROR
        assert (await h.store.get_intent(number)).state == "failed"
        assert h.confirm_calls() == 0


async def test_a_fee_write_left_running_by_a_crash_is_released_by_the_sweep():
    async with harness() as h:
        number = h.add_order("api", postage=-9999)
        await intake(h.core, "api")
        assert await claim_fee_write(h.core, number, {1: 800}, "U0TANAKA", None)  # then death
        basket = (await h.store.get_order(number)).snapshot.packages[0].basket_id
        stuck = await resolve_fee(h.core, "api", number, {basket: "800"}, "U0SATO")
        assert stuck.outcomes[0].reason.value == "in_flight"
        h.clock.advance(minutes=11)
        assert await sweep(h.core, "api") == 1
        report = await resolve_fee(h.core, "api", number, {basket: "800"}, "U0SATO")
        assert report.outcomes[0].outcome.value == "confirmed"
        assert len(h.sim.calls_to("updateOrderSender")) == 1
        assert h.confirm_calls() == 1


async def test_an_order_sending_without_a_pending_intent_is_released_by_the_sweep():
    async with harness() as h:
        number = h.add_order()
        await intake(h.core, "main")
        async with h.store.tx() as tx:  # what an older version could leave behind
            await tx.execute("UPDATE orders SET stage = 'sending' WHERE number = ?", (number,))
        assert await sweep(h.core, "main") == 1
        assert (await h.store.get_order(number)).stage is Stage.AWAITING
        report = await confirm(h.core, "main", [number], "U0TANAKA")
        assert report.outcomes[0].outcome.value == "confirmed"


async def test_a_unit_of_work_that_would_break_sending_iff_pending_is_rolled_back_whole():
    async with harness() as h:
        number = h.add_order()
        await intake(h.core, "main")
        record = await h.store.get_order(number)
        with pytest.raises(InvariantError):
            async with h.store.tx() as tx:
                await tx.audit("main", "U0X", "test", "x", h.clock.now())
                await tx.save_order(replace(record, stage=Stage.SENDING), h.clock.now())
        assert (await h.store.get_order(number)).stage is Stage.AWAITING
        assert [a for a in await h.store.audit_entries() if a["action"] == "test"] == []

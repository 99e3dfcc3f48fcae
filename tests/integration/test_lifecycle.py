"""The order lifecycle against the RMS simulator over loopback (fake clock, real SQLite)."""

from __future__ import annotations

import asyncio
from datetime import timedelta

from core.bundles import bundle, candidates, unbundle
from core.confirm import ALL, confirm
from core.events import EventKind
from core.intake import intake
from core.model import Stage
from core.outcomes import Outcome, Reason
from core.poller import poll
from core.reconciler import reconcile
from core.refetch import refetch
from core.shipping import resolve_fee
from tests.harness import PERSON, harness


async def events(h, kind=None):
    found = await h.store.unposted_events(10_000)
    return [e for e in found if kind is None or e.kind is kind]


async def test_intake_stores_new_orders_and_flags_unset_fee_orders():
    async with harness() as h:
        normal = h.add_order(postage=500)
        unset = h.add_order(postage=[500, -9999], packages=2)
        report = await intake(h.core, "main")
        assert report.new == 2
        assert (await h.store.get_order(normal)).stage is Stage.AWAITING
        flagged = await h.store.get_order(unset)
        assert flagged.stage is Stage.NEEDS_ACTION
        assert flagged.flag_reason == "shipping_fee_unset"
        kinds = {(e.kind, e.order_number) for e in await events(h)}
        assert (EventKind.ORDER_FLAGGED, unset) in kinds
        assert (EventKind.ORDER_NEW, normal) in kinds
        again = await intake(h.core, "main")
        assert again.new == 0
        assert len(await events(h, EventKind.ORDER_FLAGGED)) == 1


async def test_bulk_confirm_of_250_orders_makes_exactly_3_confirm_calls():
    async with harness(rps=None) as h:
        for _ in range(250):
            h.add_order()
        await intake(h.core, "main")
        report = await confirm(h.core, "main", ALL, "U0TANAKA")
        assert h.confirm_calls() == 3
        assert len(report.by_outcome(Outcome.CONFIRMED)) == 250
        assert len(h.sim.confirm_log) == 250
        counts = await h.store.stage_counts("main")
        assert counts == {Stage.PROCESSING: 250}


async def test_twenty_concurrent_confirms_of_one_order_reach_rms_once():
    async with harness() as h:
        number = h.add_order()
        await intake(h.core, "main")
        users = [f"U{i:04d}" for i in range(20)]
        reports = await asyncio.gather(*(confirm(h.core, "main", [number], u) for u in users))
        assert h.confirm_calls() == 1
        outcomes = [r.outcomes[0].outcome for r in reports]
        assert outcomes.count(Outcome.CONFIRMED) == 1
        assert set(outcomes) <= {Outcome.CONFIRMED, Outcome.ALREADY_CONFIRMED, Outcome.REFUSED}


async def test_second_confirm_of_an_order_never_reaches_rms_and_says_who_and_when():
    async with harness() as h:
        number = h.add_order()
        await intake(h.core, "main")
        await confirm(h.core, "main", [number], "U0TANAKA")
        h.clock.advance(60)
        second = await confirm(h.core, "main", [number], "U0SATO")
        assert h.confirm_calls() == 1
        outcome = second.outcomes[0]
        assert outcome.outcome is Outcome.ALREADY_CONFIRMED
        assert outcome.by == "U0TANAKA"
        assert outcome.at is not None


async def test_unknown_order_number_is_looked_up_in_rms_then_confirmed():
    async with harness() as h:
        number = h.add_order()
        report = await confirm(h.core, "main", [number, "111111-20261128-0000099999"], "U0TANAKA")
        assert [o.outcome for o in report.outcomes] == [Outcome.CONFIRMED, Outcome.REFUSED]
        assert report.outcomes[1].reason is Reason.UNKNOWN_ORDER
        assert h.confirm_calls() == 1


async def test_orders_become_processed_only_after_rms_moves_them_to_300():
    async with harness() as h:
        number = h.add_order()
        await intake(h.core, "main")
        await confirm(h.core, "main", [number], "U0TANAKA")
        for _ in range(5):
            h.clock.advance(minutes=5)
            await poll(h.core, "main")
            assert (await h.store.get_order(number)).stage is Stage.PROCESSING
        h.clock.advance(minutes=6)
        await poll(h.core, "main")
        assert (await h.store.get_order(number)).stage is Stage.PROCESSED
        assert await events(h, EventKind.ORDER_PROCESSED)


async def test_rate_limit_maintenance_and_500_are_retried_and_end_rakuten_processing():
    for status in (403, 429, 503, 500):
        async with harness() as h:
            number = h.add_order()
            await intake(h.core, "main")
            h.sim.fail_next("confirmOrder", 2, status=status)
            report = await confirm(h.core, "main", [number], "U0TANAKA")
            assert report.outcomes[0].outcome is Outcome.CONFIRMED, status
            assert (await h.store.get_order(number)).stage is Stage.PROCESSING
            assert len(h.sim.confirm_log) == 1


async def test_ambiguous_500_after_rms_applied_is_reconciled_without_a_second_effect():
    async with harness() as h:
        number = h.add_order()
        await intake(h.core, "main")
        h.sim.fail_next("confirmOrder", status=500, apply_first=True)
        report = await confirm(h.core, "main", [number], "U0TANAKA")
        assert report.outcomes[0].outcome is Outcome.CONFIRMED
        assert h.confirm_calls() == 1
        assert len(h.sim.confirm_log) == 1


async def test_timeout_with_unreadable_rms_leaves_the_order_sending_then_reconciles():
    async with harness(timeout=0.2) as h:
        number = h.add_order()
        await intake(h.core, "main")
        h.sim.fail_next("confirmOrder", status=500, delay=0.5, apply_first=True)
        h.sim.fail_next("getOrder", 4, status=500)  # the client reads 4 times, then gives up
        report = await confirm(h.core, "main", [number], "U0TANAKA")
        assert report.outcomes[0].outcome is Outcome.PENDING
        assert (await h.store.get_order(number)).stage is Stage.SENDING
        again = await confirm(h.core, "main", [number], "U0SATO")
        assert again.outcomes[0].reason is Reason.IN_FLIGHT
        h.clock.advance(minutes=3)
        assert await reconcile(h.core, "main") == 1
        assert h.confirm_calls() == 1
        assert (await h.store.get_order(number)).stage is Stage.PROCESSING


async def test_auth_error_ends_in_error_with_the_licence_remediation():
    async with harness() as h:
        number = h.add_order()
        await intake(h.core, "main")
        h.sim.fail_next("confirmOrder", status=401)
        report = await confirm(h.core, "main", [number], "U0TANAKA")
        outcome = report.outcomes[0]
        assert outcome.outcome is Outcome.FAILED
        assert outcome.error.key == "auth"
        record = await h.store.get_order(number)
        assert record.stage is Stage.ERROR
        assert record.error_key == "auth"
        assert [e.data["error_key"] for e in await events(h, EventKind.ORDER_ERROR)] == ["auth"]
        # RMS did not act on it: after the key is fixed, a retry is allowed and works.
        retry = await confirm(h.core, "main", [number], "U0TANAKA")
        assert retry.outcomes[0].outcome is Outcome.CONFIRMED
        assert len(h.sim.confirm_log) == 1


async def test_unset_fee_order_is_refused_then_resolved_with_the_api_option_and_confirmed():
    async with harness() as h:
        number = h.add_order("api", postage=[-9999, 600], packages=2)
        await intake(h.core, "api")
        refused = await confirm(h.core, "api", [number], "U0TANAKA")
        assert refused.outcomes[0].reason is Reason.FEE_UNSET
        assert h.confirm_calls() == 0
        record = await h.store.get_order(number)
        baskets = [p.basket_id for p in record.snapshot.packages]
        bad = await resolve_fee(h.core, "api", number, {baskets[0]: "-1", baskets[1]: "600"}, "U1")
        assert bad.outcomes[0].reason is Reason.BAD_FEE
        report = await resolve_fee(
            h.core, "api", number, {baskets[0]: "８００", baskets[1]: "600"}, "U0TANAKA"
        )
        assert report.outcomes[0].outcome is Outcome.CONFIRMED
        assert len(h.sim.sender_updates) == 1
        assert h.sim.order(number)["PackageModelList"][0]["postagePrice"] == 800
        assert (await h.store.get_order(number)).stage is Stage.PROCESSING
        again = await resolve_fee(h.core, "api", number, {baskets[0]: "800"}, "U0SATO")
        assert again.outcomes[0].outcome is Outcome.REFUSED
        assert len(h.sim.sender_updates) == 1


async def test_unset_fee_order_without_api_option_is_recorded_then_confirmable_after_rms_fix():
    async with harness() as h:
        number = h.add_order("main", postage=-9999)
        await intake(h.core, "main")
        record = await h.store.get_order(number)
        basket = record.snapshot.packages[0].basket_id
        report = await resolve_fee(h.core, "main", number, {basket: "700"}, "U0TANAKA")
        assert report.outcomes[0].outcome is Outcome.FEE_RECORDED
        assert h.sim.sender_updates == []
        assert (await h.store.get_order(number)).intended_fees == {basket: 700}
        h.sim.set_postage(number, 0, 700)  # the clerk fixes it in RMS
        fetched = await refetch(h.core, "main", [number], "U0TANAKA")
        assert fetched.outcomes[0].stage is Stage.AWAITING
        confirmed = await confirm(h.core, "main", [number], "U0TANAKA")
        assert confirmed.outcomes[0].outcome is Outcome.CONFIRMED
        assert await events(h, EventKind.ORDER_FEE_RESOLVED)


async def test_order_cancelled_in_rms_becomes_cancelled_on_refetch():
    async with harness() as h:
        number = h.add_order()
        await intake(h.core, "main")
        h.sim.set_progress(number, 900)
        report = await refetch(h.core, "main", [number], "U0TANAKA")
        assert report.outcomes[0].stage is Stage.CANCELLED
        refused = await confirm(h.core, "main", [number], "U0TANAKA")
        assert refused.outcomes[0].reason is Reason.CANCELLED
        assert h.confirm_calls() == 0


async def test_order_confirmed_directly_in_rms_is_adopted_without_confirm_order():
    async with harness() as h:
        number = h.add_order()
        await intake(h.core, "main")
        h.sim.set_progress(number, 200)
        report = await refetch(h.core, "main", [number], "U0SATO")
        assert report.outcomes[0].outcome is Outcome.ADOPTED
        assert report.outcomes[0].stage is Stage.PROCESSING
        again = await confirm(h.core, "main", [number], "U0TANAKA")
        assert again.outcomes[0].outcome is Outcome.ALREADY_CONFIRMED
        assert again.outcomes[0].by == "rms"
        assert h.confirm_calls() == 0
        assert (await h.store.get_order(number)).polling


async def test_not_confirmable_answer_refetches_and_adopts_rms_state():
    async with harness() as h:
        number = h.add_order()
        await intake(h.core, "main")
        h.sim.set_progress(number, 200)  # confirmed in RMS behind our back
        report = await confirm(h.core, "main", [number], "U0TANAKA")
        assert report.outcomes[0].outcome is Outcome.ADOPTED
        assert (await h.store.get_order(number)).stage is Stage.PROCESSING


async def test_crash_after_intent_reconciles_on_restart_without_a_second_confirm(tmp_path):
    db = str(tmp_path / "bot.sqlite3")
    from core.confirm import _claim

    async with harness(db=db) as h:
        sent = h.add_order()
        never_sent = h.add_order()
        await intake(h.core, "main")
        await _claim(h.core, "main", [sent, never_sent], "U0TANAKA", {})
        await h.core.api("main").confirm_orders([sent])  # RMS applied it; then the process died
        sim, clock = h.sim, h.clock
    async with harness(clock, db=db, sim=sim) as h2:
        assert (await h2.store.get_order(sent)).stage is Stage.SENDING
        assert await reconcile(h2.core, "main", startup=True) == 2
        confirmed = [n for n, _ in sim.confirm_log]
        assert sorted(confirmed) == sorted([sent, never_sent])
        assert len(sim.calls_to("confirmOrder")) == 2  # one before the crash, one resend
        for number in (sent, never_sent):
            assert (await h2.store.get_order(number)).stage is Stage.PROCESSING


async def test_deadline_warning_fires_once_when_two_days_are_left():
    async with harness() as h:
        number = h.add_order(ordered_at=h.clock.now() - timedelta(days=11))
        await intake(h.core, "main")
        assert not await events(h, EventKind.CANCEL_DEADLINE_NEAR)
        h.clock.advance(days=1, minutes=1)
        await intake(h.core, "main")
        h.clock.advance(minutes=5)
        await intake(h.core, "main")
        near = await events(h, EventKind.CANCEL_DEADLINE_NEAR)
        assert [e.order_number for e in near] == [number]


async def test_stuck_orders_are_reported_once():
    async with harness(processing_delay=timedelta(hours=5)) as h:
        number = h.add_order()
        await intake(h.core, "main")
        await confirm(h.core, "main", [number], "U0TANAKA")
        for _ in range(30):
            h.clock.advance(minutes=5)
            await poll(h.core, "main")
        stuck = await events(h, EventKind.ORDER_STUCK)
        assert [e.order_number for e in stuck] == [number]


async def test_bundling_requires_confirmed_fee_complete_orders_with_one_destination():
    async with harness() as h:
        person = PERSON
        a = h.add_order(orderer=person, recipient=person)
        b = h.add_order(orderer=person, recipient=person)
        await intake(h.core, "main")
        early = await bundle(h.core, "main", [a, b], "U0TANAKA")
        assert {o.reason for o in early.outcomes} == {Reason.NOT_CONFIRMED}
        assert await candidates(h.core, "main") == []  # proposed only once bundlable
        await confirm(h.core, "main", [a, b], "U0TANAKA")
        assert [len(g) for g in await candidates(h.core, "main")] == [2]
        done = await bundle(h.core, "main", [a, b], "U0TANAKA")
        assert {o.outcome for o in done.outcomes} == {Outcome.BUNDLED}
        record = await h.store.get_order(a)
        assert record.bundle_id
        assert (await confirm(h.core, "main", [a], "U1")).outcomes[0].outcome in (
            Outcome.ALREADY_CONFIRMED,
            Outcome.REFUSED,
        )
        undone = await unbundle(h.core, "main", b, "U0TANAKA")
        assert {o.outcome for o in undone.outcomes} == {Outcome.UNBUNDLED}
        assert not (await h.store.get_order(a)).bundle_id
        audit = await h.store.audit_entries("main")
        assert {"bundle", "unbundle", "confirm"} <= {row["action"] for row in audit}

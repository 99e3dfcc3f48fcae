"""Personal data kept minimal: minimal stored snapshots and the RETENTION_DAYS purge (issue 10.7).

Real SQLite, the RMS simulator over loopback, time on a FakeClock.
"""

from __future__ import annotations

import json
import sqlite3
from dataclasses import replace
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from bot.daily import Daily
from bot.settings import validate_settings
from core.bundles import bundle, candidates
from core.intake import intake
from core.model import Person, Stage
from core.outcomes import Reason
from core.refetch import refetch
from core.retention import RETENTION_JOB, purge_finished
from core.rms.wire import OrderModel
from core.shipping import resolve_fee
from core.store.codec import dump_order, load_order
from core.store.db import SQLITE
from core.store.migrations import MIGRATIONS, script_for
from core.store.sqlite import SqliteStore
from core.summary import build_summary
from handlers.render.orders import fee_modal, flag_card, flagged_list, order_details, pending_list
from tests.harness import harness

DAYS = 90
TZ = ZoneInfo("Asia/Tokyo")


def personal_data(raw: dict) -> list[str]:
    """Every name, address line, phone, e-mail and remark in a getOrder OrderModel."""
    found: list[str] = []
    people = [raw["OrdererModel"], *(p["SenderModel"] for p in raw["PackageModelList"])]
    for person in people:
        found += [person["familyName"], person["firstName"], person["city"], person["subAddress"]]
        found.append("-".join(person[f"phoneNumber{i}"] for i in (1, 2, 3)))
    found.append(raw["OrdererModel"]["emailAddress"])
    if raw.get("remarks"):
        found.append(raw["remarks"].splitlines()[0])
    return [v for v in found if v]


def stored_text(db: Path, number: str) -> str:
    with sqlite3.connect(db) as conn:
        row = conn.execute("SELECT * FROM orders WHERE number = ?", (number,)).fetchone()
    return json.dumps(row, ensure_ascii=False)


# ---------------------------------------------------------------- minimal snapshots


async def test_stored_snapshot_keeps_only_what_the_bot_shows_or_decides_on(tmp_path):
    db = tmp_path / "bot.sqlite3"
    async with harness(db=str(db)) as h:
        elsewhere = {"subAddress": "別の住所1-2-3", "phoneNumber1": "099", "phoneNumber2": "888"}
        number = h.add_order(packages=2, recipient=elsewhere)
        await intake(h.core, "main")
        raw = h.sim.order(number)
        text = stored_text(db, number)
        record = await h.store.get_order(number)
    orderer, recipient = raw["OrdererModel"], raw["PackageModelList"][0]["SenderModel"]
    assert orderer["emailAddress"] not in text  # e-mail: neither shown nor decided on
    assert "birthYear" not in text and "emailAddress" not in text  # no raw model
    assert "-".join(recipient[f"phoneNumber{i}"] for i in (1, 2, 3)) not in text
    assert orderer["subAddress"] not in text  # only the orderer's prefecture is shown
    snap = record.snapshot
    assert snap.raw == {}
    assert snap.orderer.name == f"{orderer['familyName']} {orderer['firstName']}"
    assert snap.orderer.address.prefecture == orderer["prefecture"]
    assert snap.orderer.phone  # 同梱 candidates match on it
    first = snap.packages[0].recipient
    assert first.address.sub_address == recipient["subAddress"] and first.phone == ""
    assert len(snap.packages) == 2 and snap.packages[0].items
    assert snap.remarks == raw["remarks"] and snap.goods_price == raw["goodsPrice"]


def test_minimal_snapshot_round_trips_unchanged():
    from sandbox.rms import RmsSimulator
    from tests.fakes import FakeClock

    sim = RmsSimulator(FakeClock(), requests_per_second=None)
    sim.add_shop("111111", "SP-secret", "SL-key")
    full = OrderModel.model_validate(
        sim.order(sim.add_order("111111", packages=2, postage=[500, -9999]))
    ).to_domain()
    once = load_order(dump_order(full))
    assert load_order(dump_order(once)) == once
    assert dump_order(once) == dump_order(full)
    assert once.unset_fee_fields() == full.unset_fee_fields()
    assert once.packages[1].items == full.packages[1].items
    assert once.orderer.name == full.orderer.name and once.orderer.phone == full.orderer.phone


async def test_fee_write_sends_back_the_full_models_read_from_rms_at_write_time():
    async with harness() as h:
        number = h.add_order("api", postage=-9999)
        await intake(h.core, "api")
        stored = await h.store.get_order(number)
        assert stored.snapshot.raw == {}  # nothing to send back is kept in the database
        before = h.sim.order(number)["PackageModelList"][0]
        basket = stored.snapshot.packages[0].basket_id
        await resolve_fee(h.core, "api", number, {basket: "800"}, "U0TANAKA")
        (_, body), *_ = h.sim.sender_updates
        sent = body["PackageModelList"][0]
        assert sent["postagePrice"] == 800
        assert sent["SenderModel"] == before["SenderModel"]  # whole models, phone included
        assert sent["ItemModelList"] == before["ItemModelList"]


async def test_rows_written_before_minimal_snapshots_lose_the_raw_model_on_upgrade(tmp_path):
    db = tmp_path / "old.sqlite3"
    async with harness(db=str(db)) as h:
        number = h.add_order()
        await intake(h.core, "main")
        raw = h.sim.order(number)
    old = json.loads(stored_text_snapshot(db, number))
    old["raw"] = raw  # what the previous version stored
    old["packages"][0]["recipient"]["phone"] = "03-1111-2222"
    with sqlite3.connect(db) as conn:
        conn.execute(
            "UPDATE orders SET snapshot = ? WHERE number = ?",
            (json.dumps(old, ensure_ascii=False), number),
        )
        conn.execute("DROP INDEX orders_personal")
        # migration 3, as an upgrade from version 2 runs it
        conn.executescript(script_for(MIGRATIONS[2], SQLITE))
    async with SqliteStore.open(db) as store:
        record = await store.get_order(number)
    text = stored_text(db, number)
    assert raw["OrdererModel"]["emailAddress"] not in text and "03-1111-2222" not in text
    assert record is not None and record.snapshot.orderer.name


def stored_text_snapshot(db: Path, number: str) -> str:
    with sqlite3.connect(db) as conn:
        return str(
            conn.execute("SELECT snapshot FROM orders WHERE number = ?", (number,)).fetchone()[0]
        )


# ---------------------------------------------------------------- the purge


async def _finish(h, number: str, progress: int) -> None:
    h.sim.set_progress(number, progress)
    await refetch(h.core, "main", [number], "U0TANAKA")


async def test_retention_purges_personal_data_of_old_finished_orders_and_keeps_the_rest(tmp_path):
    db = tmp_path / "bot.sqlite3"
    async with harness(db=str(db)) as h:
        shipped, cancelled, still_open = h.add_order(), h.add_order(), h.add_order()
        await intake(h.core, "main")
        await _finish(h, shipped, 300)
        await _finish(h, cancelled, 900)
        personal = {n: personal_data(h.sim.order(n)) for n in (shipped, cancelled, still_open)}
        h.clock.advance(days=DAYS - 1)
        recent = h.add_order()
        await intake(h.core, "main")
        await _finish(h, recent, 300)
        personal[recent] = personal_data(h.sim.order(recent))
        h.clock.advance(days=1, seconds=1)
        before = {n: await h.store.get_order(n) for n in personal}
        audit = await h.store.audit_entries()
        events = await h.store.unposted_events(10_000)
        assert audit and before[shipped].stage is Stage.PROCESSED
        assert before[cancelled].stage is Stage.CANCELLED

        assert await purge_finished(h.store, h.clock.now(), DAYS) == 2

        after = {n: await h.store.get_order(n) for n in personal}
        for number in (shipped, cancelled):
            old, new = before[number].snapshot, after[number].snapshot
            assert new.orderer == Person() and new.remarks == ""
            assert all(p.recipient == Person() for p in new.packages)
            kept = ("number", "progress", "ordered_at", "confirmed_at", "cancel_due")
            assert all(getattr(new, f) == getattr(old, f) for f in kept)
            amounts = ("goods_price", "postage_price", "total_price", "request_price")
            assert all(getattr(new, f) == getattr(old, f) for f in amounts)
            assert [p.postage_price for p in new.packages] == [
                p.postage_price for p in old.packages
            ]
            assert replace(after[number], snapshot=old) == before[number]  # stage, dates …
            text = stored_text(db, number)
            assert [v for v in personal[number] if v in text] == []
        assert after[still_open] == before[still_open]
        assert after[recent] == before[recent]
        assert after[still_open].snapshot.orderer.name and after[recent].snapshot.orderer.name
        assert await h.store.audit_entries() == audit  # who did what and when stays
        assert await h.store.unposted_events(10_000) == events
        assert await purge_finished(h.store, h.clock.now(), DAYS) == 0  # nothing left to do


async def _long_finished_orders(h, count: int = 1) -> list[str]:
    """Orders that became 楽天処理済 more than DAYS days ago."""
    numbers = [h.add_order() for _ in range(count)]
    await intake(h.core, "main")
    for number in numbers:
        await _finish(h, number, 300)
    h.clock.advance(days=DAYS + 1)
    return numbers


async def test_a_purged_order_still_renders_and_counts_in_the_daily_summary():
    async with harness() as h:
        finished_on = h.clock.now().astimezone(TZ).date()
        (number,) = await _long_finished_orders(h)
        assert await purge_finished(h.store, h.clock.now(), DAYS) == 1
        record = await h.store.get_order(number)
        now = h.clock.now()
        that_day = await build_summary(h.store, h.core.shops, finished_on, TZ, now, remember=False)
    assert (that_day.total.new, that_day.total.processed) == (1, 1)
    details = json.dumps(order_details(record, "ja", now=now), ensure_ascii=False)
    assert number in details and "—" in details
    for rendered in (
        flag_card(record, "main shop", False, "en", now=now),
        flag_card(replace(record, stage=Stage.NEEDS_ACTION), "main shop", True, "ja", now=now),
        pending_list([record], "ja", "main shop", now=now),
        flagged_list([record], "en", "main shop", now=now),
        fee_modal(record, True, "ja"),
    ):
        assert number in json.dumps(rendered, ensure_ascii=False)


async def test_purged_orders_are_never_bundle_candidates_of_each_other():
    async with harness() as h:
        first, second = await _long_finished_orders(h, 2)
        assert await purge_finished(h.store, h.clock.now(), DAYS) == 2
        assert await candidates(h.core, "main") == []  # no one to match: not "the same" one
        report = await bundle(h.core, "main", [first, second], "U0TANAKA")
    assert {o.reason for o in report.outcomes} == {Reason.DIFFERENT_DESTINATION}


async def test_the_daily_run_purges_once_a_day():
    async with harness() as h:
        (number,) = await _long_finished_orders(h)
        daily = Daily(h.core, _NoPoster(), datetime.max.time(), TZ, retention_days=DAYS)
        await daily()
        assert (await h.store.get_order(number)).snapshot.orderer == Person()
        today = h.clock.now().astimezone(TZ).date().isoformat()
        assert not await h.store.claim_run(RETENTION_JOB, today, h.clock.now())


class _NoPoster:
    async def post_all(self, channel, messages):  # the summary is not due in this test
        raise AssertionError("nothing is posted")


@pytest.mark.parametrize(("value", "ok"), [("30", True), ("0", False), ("soon", False)])
def test_retention_days_setting_is_a_whole_number_of_days(tmp_path, value, ok):
    env = tmp_path / ".env"
    env.write_text(
        "SLACK_BOT_TOKEN=xoxb-1\nSLACK_SIGNING_SECRET=s\nRMS_SERVICE_SECRET=SP\n"
        f"RMS_LICENSE_KEY=SL\nSLACK_CHANNEL=C0SHOP1\nRETENTION_DAYS={value}\n",
        encoding="utf-8",
    )
    settings, problems = validate_settings(env_file=str(env))
    if ok:
        assert settings is not None and settings.retention_days == 30, problems
    else:
        assert settings is None
        assert any("RETENTION_DAYS" in line for line in problems), problems


async def test_the_purge_reads_only_finished_orders_that_still_hold_personal_data(tmp_path):
    from core.store.sqlite import _PURGE

    async with SqliteStore.open(tmp_path / "plan.sqlite3") as store, store.read() as r:
        rows = await r.rows(f"EXPLAIN QUERY PLAN {_PURGE[SQLITE]}", ("x", 1))
        plan = " ".join(str(tuple(row)) for row in rows)
    assert "USING INDEX orders_personal (stage_since<?)" in plan, plan
    assert "SCAN orders" not in plan

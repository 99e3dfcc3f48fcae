"""The daily summary against a real core on the RMS simulator, checked against the store."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

from core.confirm import confirm
from core.events import EventKind
from core.home import gather_home
from core.intake import intake
from core.lifecycle import UNCONFIRMED
from core.model import Stage
from core.poller import poll
from core.refetch import refetch
from core.summary import build_summary, day_bounds
from handlers.render.home import home_view
from handlers.render.summary import summary_message, summary_messages
from tests.fakes import FakeClock
from tests.harness import harness

JST = ZoneInfo("Asia/Tokyo")
DAY1 = date(2026, 11, 27)
DAY2 = date(2026, 11, 28)


def texts(value):
    if isinstance(value, dict):
        return [
            t
            for k, v in value.items()
            for t in ([v] if k == "text" and isinstance(v, str) else texts(v))
        ]
    if isinstance(value, list):
        return [t for v in value for t in texts(v)]
    return []


async def independent_figures(h, shop, day):
    """Count the day's figures straight from the store, the slow and obvious way."""
    start, end = day_bounds(day, JST)
    events = [
        e for e in await h.store.unposted_events(100_000) if e.shop == shop and start <= e.at < end
    ]
    distinct = {kind: {e.order_number for e in events if e.kind is kind} for kind in EventKind}
    audit = [
        a
        for a in await h.store.audit_entries(shop)
        if a["action"] == "confirm"
        and a["outcome"] == "confirmed"
        and start <= datetime.fromisoformat(a["at"]) < end
    ]
    by_actor = Counter(a["actor"] for a in audit)
    by_actor.update(
        {"rms": len(distinct[EventKind.ORDER_ADOPTED])} if distinct[EventKind.ORDER_ADOPTED] else {}
    )
    errors = Counter(e.data["error_key"] for e in events if e.kind is EventKind.ORDER_ERROR)
    counts = await h.store.stage_counts(shop)
    processing = await h.store.orders_in_stages(shop, [Stage.PROCESSING])
    flagged = await h.store.orders_in_stages(shop, [Stage.NEEDS_ACTION])
    today = h.clock.now().astimezone(JST).date()
    near = [
        r
        for r in await h.store.orders_in_stages(shop, UNCONFIRMED)
        if r.snapshot.cancel_due and (r.snapshot.cancel_due - today).days <= 3
    ]
    return {
        "new": len(
            distinct[EventKind.ORDER_NEW]
            | {
                e.order_number
                for e in events
                if e.kind in (EventKind.ORDER_FLAGGED, EventKind.ORDER_ADOPTED)
            }
        ),
        "confirmed_by": dict(by_actor),
        "processed": len(distinct[EventKind.ORDER_PROCESSED]),
        "cancelled": len(distinct[EventKind.ORDER_CANCELLED]),
        "flagged": len(distinct[EventKind.ORDER_FLAGGED]),
        "errors": dict(errors),
        "processing": counts.get(Stage.PROCESSING, 0),
        "processing_since": min((r.stage_since for r in processing), default=None),
        "needs_action": counts.get(Stage.NEEDS_ACTION, 0),
        "needs_action_since": min((r.stage_since for r in flagged), default=None),
        "awaiting": counts.get(Stage.AWAITING, 0),
        "near_cancel": len(near),
    }


def as_figures(day):
    return {
        "new": day.new,
        "confirmed_by": dict(day.confirmed_by),
        "processed": day.processed,
        "cancelled": day.cancelled,
        "flagged": day.flagged,
        "errors": dict(day.errors),
        "processing": day.processing,
        "processing_since": day.processing_since,
        "needs_action": day.needs_action,
        "needs_action_since": day.needs_action_since,
        "awaiting": day.awaiting,
        "near_cancel": day.near_cancel,
    }


async def test_summary_numbers_match_the_store_after_a_day_of_work():
    clock = FakeClock(datetime(2026, 11, 27, 1, 0, tzinfo=UTC))  # 10:00 JST on day 1
    async with harness(clock, rps=None) as h:
        # day 1: three orders, two confirmed by Tanaka, one processed
        day1 = [h.add_order() for _ in range(3)]
        await intake(h.core, "main")
        await confirm(h.core, "main", day1[:2], "U0TANAKA")
        clock.advance(minutes=31)
        await poll(h.core, "main")
        first = await build_summary(h.store, h.core.shops, DAY1, JST, clock.now())
        main1 = first.shops[0]
        assert (main1.new, main1.confirmed, main1.processed) == (3, 2, 2)

        # day 2 (JST): new orders, confirmations by two people, processing, a cancel, a flag
        clock.advance(days=1)
        orders = [h.add_order() for _ in range(6)]
        unset = h.add_order(postage=-9999)
        old = h.add_order(ordered_at=clock.now() - timedelta(days=12))
        await intake(h.core, "main")
        await confirm(h.core, "main", orders[:3], "U0TANAKA")
        await confirm(h.core, "main", orders[3:4], "U0SATO")
        clock.advance(minutes=31)
        await poll(h.core, "main")
        await confirm(h.core, "main", orders[4:5], "U0SATO")  # stays 楽天処理中
        h.sim.set_progress(orders[5], 900)  # cancelled by the customer in RMS
        await refetch(h.core, "main", [orders[5]], "U0SATO")
        h.add_order(shop="api")
        await intake(h.core, "api")
        await h.store.set_shop_field("main", "license_expires", "2026-12-08T23:59:59+09:00")
        clock.advance(hours=2)
        now = clock.now()

        summary = await build_summary(h.store, h.core.shops, DAY2, JST, now)
        main = summary.shops[0]
        assert as_figures(main) == await independent_figures(h, "main", DAY2)
        assert main.new == 8 and main.processed == 4 and main.cancelled == 1
        assert dict(main.confirmed_by) == {"U0TANAKA": 3, "U0SATO": 2}
        assert main.needs_action == 1 and main.flagged == 1
        assert main.processing == 1 and main.processing_since is not None
        assert main.near_cancel == 1
        assert main.license_days_left == 10
        assert unset and old

        # the day before, as it was summarised then
        prev = main.previous
        assert prev is not None and prev.has_state
        assert (prev.new, prev.confirmed, prev.processed) == (3, 2, 2)
        assert prev.awaiting == main1.awaiting

        # total = sum of shops
        api = summary.shops[1]
        assert summary.total.new == main.new + api.new
        assert summary.total.awaiting == main.awaiting + api.awaiting
        assert summary.total.license_days_left == 10

        body = "\n".join(texts(summary_messages(summary, "ja")))
        assert "📊 本日のサマリー 11/28 (土)" in body
        assert "8件 (前日比 +5)" in body
        assert "⚠️ あと10日" in body
        assert "<@U0TANAKA> 3" in body
        assert summary_message(summary, "en")["blocks"][0]["text"]["text"].startswith("📊")


async def test_a_quiet_day_still_gets_a_short_all_clear():
    clock = FakeClock(datetime(2026, 11, 28, 1, 0, tzinfo=UTC))
    async with harness(clock) as h:
        summary = await build_summary(h.store, h.core.shops, DAY2, JST, clock.now())
        assert summary.quiet
        message = summary_message(summary, "ja")
        body = "\n".join(texts(message["blocks"]))
        assert "✅ 対応が必要な注文はありません" in body
        assert len(message["blocks"]) <= 5


async def test_home_view_shows_every_shop_with_buttons():
    async with harness() as h:
        h.add_order()
        h.add_order(postage=-9999)
        await intake(h.core, "main")
        homes = await gather_home(h.core)
        assert [home.shop for home in homes] == ["main", "api"]
        assert homes[0].count(Stage.AWAITING) == 1
        assert homes[0].count(Stage.NEEDS_ACTION) == 1
        assert homes[0].last_success is not None
        view = home_view(homes, "ja", h.clock.now())
        assert view["type"] == "home" and len(view["blocks"]) <= 100
        values = [
            e["value"] for b in view["blocks"] if b["type"] == "actions" for e in b["elements"]
        ]
        assert values.count("main") == 3 and values.count("api") == 3


async def test_summary_over_many_orders_uses_indexes_only(tmp_path):
    """A smoke check of the plan: the day's queries never scan the orders table."""
    async with harness(db=str(tmp_path / "s.sqlite3")) as h:
        async with h.store.read() as r:
            plan = await r.rows(
                "EXPLAIN QUERY PLAN SELECT stage, COUNT(*), MIN(stage_since) FROM orders "
                "WHERE shop = ? AND stage IN ('awaiting', 'processing') GROUP BY stage",
                ("main",),
            )
            created = await r.rows(
                "EXPLAIN QUERY PLAN SELECT COUNT(*) FROM orders WHERE shop = ? "
                "AND created_at >= ? AND created_at < ?",
                ("main", "a", "b"),
            )
        details = " ".join(row["detail"] for row in [*plan, *created])
        assert "SCAN orders" not in details
        assert "COVERING INDEX" in details


async def test_each_day_is_claimed_once_and_a_missed_day_is_caught_up_after_a_restart():
    from datetime import time

    from core.summary import SUMMARY_JOB, due_summary_days, last_summary_day

    async with harness() as h:
        at = time(18, 0)
        assert await last_summary_day(h.store) is None
        posted_at = datetime(2026, 11, 27, 18, 0, tzinfo=JST)
        for day in due_summary_days(posted_at, at, JST, await last_summary_day(h.store)):
            assert await h.store.claim_run(SUMMARY_JOB, day.isoformat(), posted_at)
        assert await last_summary_day(h.store) == DAY1
        back = datetime(2026, 11, 29, 9, 0, tzinfo=JST)  # down over 18:00 on 11/28
        due = due_summary_days(back, at, JST, await last_summary_day(h.store))
        assert due == [DAY2]
        assert await h.store.claim_run(SUMMARY_JOB, DAY2.isoformat(), back)
        assert not await h.store.claim_run(SUMMARY_JOB, DAY2.isoformat(), back)  # a 2nd process
        assert due_summary_days(back, at, JST, await last_summary_day(h.store)) == []


def test_fifty_shops_fit_slack_limits_in_the_summary_and_on_home():
    from core.home import ShopHome
    from core.summary import DailySummary, ShopDay

    now = datetime(2026, 11, 28, 9, 0, tzinfo=UTC)
    days = tuple(
        ShopDay(
            f"s{i}",
            f"店舗{i}",
            DAY2,
            new=i,
            confirmed=i,
            confirmed_by=tuple((f"U{k:04d}", 1) for k in range(i % 9)),
            errors=(("auth", 1), ("unavailable", 2)),
            processing=3,
            processing_since=now,
            license_days_left=i,
            previous=ShopDay(f"s{i}", f"店舗{i}", DAY1, new=1),
        )
        for i in range(50)
    )
    summary = DailySummary(DAY2, now, days, ShopDay("", "", DAY2, new=1225))
    messages = summary_messages(summary, "ja")
    assert len(messages) > 1
    for m in messages:
        assert len(m["blocks"]) <= 50
        assert all(len(t) <= 3000 for t in texts(m["blocks"]))
    shown = [t for m in messages for t in texts(m["blocks"]) if t.startswith("*店舗")]
    assert len(shown) == 50
    single = summary_message(summary, "ja")
    assert len(single["blocks"]) <= 50
    assert "省略しました" in texts(single["blocks"])[-1]

    homes = [ShopHome(f"s{i}", f"店舗{i}", ()) for i in range(50)]
    view = home_view(homes, "en", now)
    assert len(view["blocks"]) <= 100
    assert "more shops" in texts(view["blocks"])[-1]

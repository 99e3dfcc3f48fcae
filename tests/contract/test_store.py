"""The store contract: every store method behaves the same on SQLite and on PostgreSQL.

Each test runs twice (tests/contract/conftest.py): on a SQLite database and on a fresh
database of the session's throwaway PostgreSQL server. The concurrency tests at the end need
several connections, so they run on PostgreSQL only (SQLite serialises every statement).
"""

from __future__ import annotations

import asyncio
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta

import pytest

from core.errors import InvariantError
from core.events import EventKind
from core.model import (
    ALL_ORDERS,
    Address,
    Package,
    Person,
    Request,
    RequestKind,
    RmsOrder,
    ShopConfig,
    Stage,
)
from core.outcomes import OrderOutcome, Outcome, Report
from core.store import licenses, summary
from core.store.codec import dump_report
from core.store.open import open_store
from core.store.refs import put_ref, put_ref_if_changed, ref_value
from core.store.requests import (
    MAX_ROWS,
    claim_request,
    finish_request,
    insert_request,
    insert_requests,
    open_requests,
)
from core.store.sqlite import Store

NOW = datetime(2026, 11, 28, 9, 0, tzinfo=UTC)
ORDERER = Person("山田", "花子", phone="03-1234-5678", address=Address(prefecture="東京都"))
RECIPIENT = Person("佐藤", "一郎", address=Address("1500001", "東京都", "渋谷区", "1-2-3"))


def record(number: str, stage: Stage = Stage.AWAITING, *, minutes: int = 0, **kw: object):
    from core.model import OrderRecord

    snap = RmsOrder(
        number=number,
        progress=100,
        ordered_at=NOW + timedelta(minutes=minutes),
        orderer=ORDERER,
        cancel_due=date(2026, 12, 1),
        packages=(Package(1, 500, recipient=RECIPIENT),),
        remarks="午前中希望",
        total_price=4480,
    )
    return OrderRecord(number, "main", stage, snap, NOW + timedelta(minutes=minutes), **kw)  # type: ignore[arg-type]


def request(key: str, numbers: tuple[str, ...] = ("A",), open_key: str | None = None) -> Request:
    return Request(
        RequestKind.CONFIRM, "main", numbers, "U0TANAKA", NOW, key, open_key, channel="C0SHOP1"
    )


async def save(store: Store, *records) -> None:
    async with store.tx() as t:
        for r in records:
            await t.save_order(r, NOW)


@pytest.fixture
async def shop(store: Store) -> Store:
    await store.upsert_shop(ShopConfig("main", "メイン店", "C0SHOP1", False))
    return store


# -- shops, orders, versions -----------------------------------------------------------------------


async def test_shops_are_upserted_and_their_fields_set(shop: Store) -> None:
    await shop.upsert_shop(ShopConfig("main", "改名店", "C0OTHER", True))
    await shop.set_shop_field("main", "license_warned_days", 7)
    await shop.set_shop_field("main", "last_success", NOW.isoformat())
    row = await shop.shop_row("main")
    assert (row["name"], row["channel"], row["api_option"]) == ("改名店", "C0OTHER", 1)
    assert row["license_warned_days"] == 7 and row["last_success"] == NOW.isoformat()
    assert await shop.shop_row("nope") == {}
    with pytest.raises(ValueError):
        await shop.set_shop_field("main", "name", "x")
    assert await shop.ping()


async def test_orders_round_trip_and_each_write_bumps_the_version(shop: Store) -> None:
    await save(shop, record("B", minutes=2), record("A", minutes=1))
    a = await shop.get_order("A")
    assert a is not None and a.version == 1 and a.snapshot.orderer.name == "山田 花子"
    assert a.snapshot.packages[0].recipient.address.city == "渋谷区"
    await save(shop, replace(a, stage=Stage.NEEDS_ACTION, flag_reason="bundle_rule"))
    assert await shop.versions(["A", "B", "Z"]) == {"A": 2, "B": 1}
    got = await shop.get_orders(["B", "A", "Z"])
    assert list(got) == ["B", "A"]  # the caller's order; unknown ones absent
    assert got["A"].stage is Stage.NEEDS_ACTION and got["A"].flag_reason == "bundle_rule"
    assert await shop.numbers_in_stages("main", [Stage.AWAITING, Stage.NEEDS_ACTION]) == [
        "A",
        "B",
    ]
    assert [r.number for r in await shop.orders_in_stages("main", [Stage.AWAITING])] == ["B"]
    assert await shop.known_numbers(["A", "Q"]) == {"A"}
    assert await shop.stage_counts("main") == {Stage.NEEDS_ACTION: 1, Stage.AWAITING: 1}
    async with shop.tx() as t:
        oldest = await t.oldest_in_stages("main", ["awaiting", "needs_action"])
        assert oldest is not None and oldest["number"] == "A"


async def test_due_for_poll_puts_never_polled_orders_first(shop: Store) -> None:
    later = NOW + timedelta(minutes=5)
    await save(
        shop,
        record("late", polling=True, next_poll_at=later),
        record("early", polling=True, next_poll_at=NOW - timedelta(minutes=5)),
        record("never", polling=True),
        record("idle"),
    )
    assert await shop.due_for_poll("main", NOW, 10) == ["never", "early"]
    assert await shop.due_for_poll("main", later, 2) == ["never", "early"]


async def test_bundles_and_bundle_candidates(shop: Store) -> None:
    finished = record("F", Stage.PROCESSED, minutes=3)
    await save(shop, record("A", minutes=1), record("B", minutes=2), finished)
    async with shop.tx() as t:
        await t.save_bundle("b1", "main", "U0TANAKA", NOW)
        await t.save_bundle("b1", "main", "U0SATO", NOW)  # saved again: replaced, not doubled
        a = await t.get_order("A")
        assert a is not None
        await t.save_order(replace(a, bundle_id="b1"), NOW)
        assert await t.bundle_members("b1") == ["A"]
    since = NOW - timedelta(days=1)
    found = await shop.bundle_candidates("main", [Stage.AWAITING], since)
    assert [r.number for r in found] == ["B", "F"]
    async with shop.tx() as t:
        await t.delete_bundle("b1")
        assert await t.rows("SELECT * FROM bundles") == []


async def test_a_unit_of_work_breaking_sending_iff_pending_is_refused_at_commit(
    shop: Store,
) -> None:
    await save(shop, record("A"))
    with pytest.raises(InvariantError, match="A"):
        async with shop.tx() as t:
            await t.save_order(record("A", Stage.SENDING), NOW)
            await t.add_event("main", EventKind.ORDER_NEW, "A", NOW)
    assert (await shop.get_order("A")).stage is Stage.AWAITING  # type: ignore[union-attr]
    assert await shop.unposted_events() == []  # rolled back whole
    async with shop.tx() as t:  # the same step with its intent commits
        await t.save_order(record("A", Stage.SENDING), NOW)
        assert await t.claim_intent("A", "main", "U0TANAKA", NOW) is None


# -- intents and fee claims ------------------------------------------------------------------------


async def test_one_intent_per_order_and_only_a_failed_one_is_claimed_again(shop: Store) -> None:
    await save(shop, record("A"), record("B"))
    async with shop.tx() as t:
        await t.save_order(record("A", Stage.SENDING), NOW)
        assert await t.claim_intent("A", "main", "U0TANAKA", NOW, request_id=7) is None
    async with shop.tx() as t:
        existing = await t.claim_intent("A", "main", "U0SATO", NOW)
        assert existing is not None and existing.actor == "U0TANAKA"
    assert await shop.request_orders(7) == ["A"]
    assert [i.order_number for i in await shop.pending_intents("main")] == ["A"]
    assert await shop.count_intents("main") == {"pending": 1}
    async with shop.tx() as t:
        await t.set_intent("A", "failed", NOW, code="E1", message="no", attempted=True)
        await t.save_order(record("A", Stage.ERROR), NOW)
    intent = await shop.get_intent("A")
    assert intent is not None and (intent.state, intent.attempts, intent.result_code) == (
        "failed",
        1,
        "E1",
    )
    async with shop.tx() as t:
        assert await t.adopt_intent("A", "main", NOW) is True  # a failed one may be adopted
        assert await t.adopt_intent("B", "main", NOW) is True
        assert await t.adopt_intent("B", "main", NOW) is False
        assert set(await t.intents(["A", "B", "C"])) == {"A", "B"}
    assert (await shop.get_order("B")).confirmed_by == "rms"  # type: ignore[union-attr]
    assert await shop.count_intents() == {"confirmed": 2}


async def test_a_sending_order_without_its_intent_is_found_stranded(shop: Store) -> None:
    async with shop.tx() as t:
        await t.save_order(record("A", Stage.SENDING), NOW)
        await t.claim_intent("A", "main", "U0TANAKA", NOW)
    async with shop.tx() as t:
        await t.execute("DELETE FROM intents")  # an older version's leftover
        await t.execute("UPDATE orders SET stage = 'awaiting'")  # keep the commit legal …
    async with shop.statement() as t:
        await t.execute("UPDATE orders SET stage = 'sending'")  # … then break it outside a tx
    assert [r.number for r in await shop.stranded_sending("main")] == ["A"]


async def test_fee_claims(shop: Store) -> None:
    await save(shop, record("A"))
    async with shop.tx() as t:
        assert await t.claim_fee("A", "U0TANAKA", '{"1": 800}', NOW.isoformat(), 3)
        assert not await t.claim_fee("A", "U0SATO", '{"1": 900}', NOW.isoformat(), 4)
    assert await shop.fee_claim("A") == ("running", 3)
    assert await shop.stale_fee_claims("main", NOW + timedelta(minutes=1)) == ["A"]
    await shop.finish_fee("A", "failed", NOW)
    assert await shop.stale_fee_claims("main", NOW + timedelta(minutes=1)) == []
    async with shop.tx() as t:
        assert await t.claim_fee("A", "U0SATO", '{"1": 900}', NOW.isoformat(), 4)
        await t.finish_fee("A", "done", NOW)
    assert await shop.fee_claim("A") == ("done", 4)
    assert await shop.fee_claim("Z") is None


# -- requests --------------------------------------------------------------------------------------


async def test_requests_submit_once_per_delivery_and_per_open_key(shop: Store) -> None:
    async with shop.statement() as t:
        first, new = await insert_request(t, request("d1", open_key="confirm:A"))
        again, new_again = await insert_request(t, request("d1", open_key="confirm:A"))
        clicked, new_click = await insert_request(t, request("d2", open_key="confirm:A"))
    assert new and not new_again and not new_click
    assert first.id > 0 and again.id == first.id == clicked.id
    async with shop.statement() as t:
        other, new_other = await insert_request(t, request("d3", ("B",), open_key="confirm:B"))
    assert new_other and other.id > first.id
    assert await shop.open_request_ids() == {first.id, other.id}
    async with shop.statement() as t:  # no lastrowid on PostgreSQL: the id is asked for
        with pytest.raises(ValueError, match="RETURNING"):
            await t.insert("INSERT INTO refs (key, value) VALUES (?, ?)", ("k", "v"))


async def test_a_batch_of_requests_is_stored_in_order_each_key_once(shop: Store) -> None:
    """One statement for a burst of acks (1,100 parameters), with every field
    as given, ids in the order of the acks, and duplicates inside the batch resolved."""
    batch = [
        replace(
            request(f"b{i}", (f"N-{i}",), open_key=f"confirm:{i}"),
            thread_ts=f"17000.{i}" if i % 2 else None,
            response_url=None if i % 3 else f"https://hooks.slack.test/{i}",
            payload={"note": f"送料 {i}円", "n": i},
        )
        for i in range(MAX_ROWS - 2)
    ]
    batch += [batch[5], replace(request("b-all", open_key="confirm:7"), numbers=ALL_ORDERS)]
    async with shop.statement() as t:
        stored = await insert_requests(t, batch)
    assert [new for _, new in stored] == [True] * (MAX_ROWS - 2) + [False, False]
    ids = [r.id for r, _ in stored]
    assert ids[: MAX_ROWS - 2] == sorted(ids[: MAX_ROWS - 2]) and ids[-2:] == [ids[5], ids[7]]
    async with shop.read() as r:
        rows = {q.id: q for q in await open_requests(r, limit=200)}
    assert len(rows) == MAX_ROWS - 2
    for (got, _), sent in zip(stored[: MAX_ROWS - 2], batch, strict=False):
        assert rows[got.id] == got == replace(sent, id=got.id, state="queued", attempts=0)


async def test_requests_are_claimed_oldest_first_and_finished_once(shop: Store) -> None:
    async with shop.statement() as t:
        a, _ = await insert_request(t, request("d1"))
        b, _ = await insert_request(t, request("d2", ("B",)))
    async with shop.tx() as t:
        claimed = await claim_request(t, NOW, skip=[a.id])
    assert claimed is not None and claimed.id == b.id and claimed.attempts == 0
    async with shop.read() as r:
        assert [(q.id, q.state, q.attempts) for q in await open_requests(r)] == [
            (a.id, "queued", 0),
            (b.id, "running", 1),
        ]
    report = Report("main", "U0TANAKA", "confirm", (OrderOutcome("B", Outcome.CONFIRMED),))
    async with shop.tx() as t:
        assert await finish_request(t, b.id, NOW, dump_report(report))
        assert not await finish_request(t, b.id, NOW, dump_report(report))
    done = await shop.request_result(b.id)
    assert done is not None and done[0].numbers == ("B",) and done[1] == report
    assert await shop.request_result(a.id) is None
    async with shop.tx() as t:
        assert (await claim_request(t, NOW)).id == a.id  # type: ignore[union-attr]
    async with shop.tx() as t:
        assert (await claim_request(t, NOW)).attempts == 1  # type: ignore[union-attr]
        assert await claim_request(t, NOW, skip=[a.id]) is None


# -- outbox: events, messages, audit ---------------------------------------------------------------


async def test_events_are_planned_digested_and_marked(shop: Store) -> None:
    async with shop.tx() as t:
        await t.add_event("main", EventKind.ORDER_NEW, "A", NOW, {"note": "新規"})
        await t.add_event("main", EventKind.ORDER_CONFIRMED, "A", NOW, {"actor": "U0TANAKA"})
        await t.add_event("main", EventKind.RMS_RECOVERED, None, NOW + timedelta(hours=1))
        await t.audit("main", "U0TANAKA", "confirm", "ok", NOW, order_number="A")
    events = await shop.unposted_events()
    assert [e.kind for e in events] == [
        EventKind.ORDER_NEW,
        EventKind.ORDER_CONFIRMED,
        EventKind.RMS_RECOVERED,
    ]
    assert events[0].data == {"note": "新規"} and events[0].at == NOW
    async with shop.tx() as t:
        assert [e.id for e in await t.events_to_plan(2)] == [events[0].id, events[1].id]
        await t.mark_events([events[0].id], "planned", NOW)
        assert [e.id for e in await t.events_to_digest(10)] == [events[0].id]
        await t.mark_events([events[0].id], "posted", NOW)
    await shop.mark_posted([events[1].id], NOW, "C0SHOP1|1.2")
    assert [e.id for e in await shop.unposted_events()] == [events[2].id]
    between = await shop.events_between(
        "main", NOW, NOW + timedelta(minutes=1), [EventKind.ORDER_CONFIRMED]
    )
    assert [e.id for e in between] == [events[1].id]
    entries = await shop.audit_entries("main")
    assert [(e["actor"], e["order_number"], e["outcome"]) for e in entries] == [
        ("U0TANAKA", "A", "ok")
    ]


async def test_messages_are_queued_once_updated_delivered_failed_and_moved(shop: Store) -> None:
    payload = {"messages": [{"text": "注文"}], "refs": [], "thread_ts": "1.1"}
    payload["fallback_channel"] = "C0FALL"
    async with shop.tx() as t:
        assert await t.enqueue_message("card:A", "main", "C0SHOP1", "card", payload, at=NOW)
        assert not await t.enqueue_message("card:A", "main", "C0SHOP1", "card", {}, at=NOW)
        message = await t.get_message("card:A")
        assert message is not None and message.payload == payload and message.version == 1
        await t.message_posting(message.id, NOW)
        await t.message_progress(message.id, "9.9", 1, NOW)
        await t.message_delivered(message.id, 1, NOW)
        assert await t.count_messages() == {"posted": 1}
        assert await t.update_message("card:A", {"messages": [], "refs": []}, at=NOW)
        assert (await t.get_message("card:A")).is_update  # type: ignore[union-attr]
        assert [m.key for m in await t.due_messages(NOW, 10)] == ["card:A"]
        assert await t.due_messages(NOW - timedelta(seconds=1), 10) == []
        await t.message_failed(message.id, "ratelimited", NOW, retry_at=NOW + timedelta(1))
        assert await t.due_messages(NOW, 10) == []
        await t.message_failed(message.id, "is_archived", NOW, retry_at=None)
        assert await t.count_messages() == {"dead": 1}
        assert not await t.update_message("card:A", payload, at=NOW)  # dead stays dead
        assert await t.enqueue_message("alert:B", "", "C0SHOP1", "alert", payload, at=NOW)
        moved = await t.get_message("alert:B")
        assert moved is not None
        await t.message_moved(moved.id, "C0FALL", "channel_not_found", NOW)
        moved = await t.get_message("alert:B")
    assert moved is not None and moved.channel == "C0FALL" and moved.attempts == 1
    assert moved.payload == {"messages": [{"text": "注文"}], "refs": []}


async def test_many_messages_are_queued_in_order_each_key_once(shop: Store) -> None:
    async with shop.tx() as t:
        assert await t.enqueue_message("card:7", "main", "C0SHOP1", "card", {"n": "old"}, at=NOW)
    batch = [(f"card:{i}", "main", "C0SHOP1", "card", {"n": i}) for i in range(250)]
    batch.insert(10, ("card:3", "main", "C0SHOP1", "card", {"n": "second"}))  # the first wins
    async with shop.tx() as t:
        assert await t.enqueue_messages(batch, at=NOW) == 249  # card:7 was there, card:3 twice
        assert await t.enqueue_messages([], at=NOW) == 0
        due = await t.due_messages(NOW, 500)
    assert [m.key for m in due] == ["card:7"] + [f"card:{i}" for i in range(250) if i != 7]
    assert [m.payload["n"] for m in due[:5]] == ["old", 0, 1, 2, 3]


# -- refs, runs, licences --------------------------------------------------------------------------


async def test_refs_and_runs(shop: Store) -> None:
    await shop.set_ref("card:A", "C0SHOP1|1.1")
    await shop.set_ref("card:A", "C0SHOP1|1.2")
    await shop.set_ref("card:AB", "x")
    await shop.set_ref("card;", "outside the prefix")
    async with shop.tx() as t:
        assert not await t.set_ref("card:A", "kept?", only_new=True)
        assert await t.set_ref("card:C", "new", only_new=True)
        assert await t.get_ref("card:A") == "C0SHOP1|1.2"
        await put_ref(t, "day", "1")
        assert await put_ref_if_changed(t, "day", "2")
        assert not await put_ref_if_changed(t, "day", "2")
        assert await ref_value(t, "day") == "2"
    assert await shop.refs_with_prefix("card:") == {
        "card:A": "C0SHOP1|1.2",
        "card:AB": "x",
        "card:C": "new",
    }
    await shop.delete_ref("card:AB")
    async with shop.tx() as t:
        await t.delete_refs_with_prefix("card:")
    assert await shop.refs_with_prefix("card") == {"card;": "outside the prefix"}
    assert await shop.get_ref("nope") is None
    assert await shop.claim_run("summary", "2026-11-28", NOW)
    assert not await shop.claim_run("summary", "2026-11-28", NOW)
    async with shop.tx() as t:
        assert await t.claim_run("summary", "2026-11-29", NOW)
        assert not await t.claim_run("summary", "2026-11-29", NOW)
        assert await t.has_run("summary", "2026-11-29")
        assert await summary.last_period(t, "summary") == "2026-11-29"


async def test_licence_key_columns_are_compare_and_set(shop: Store) -> None:
    async with shop.tx() as t:
        await licenses.set_pending_key(t, "main", "enc-new")
        assert await licenses.promote_pending_key(t, "main", "enc-new", "2027-01-01") == 1
        assert await licenses.promote_pending_key(t, "main", "enc-new", "2027-01-01") == 0
        assert await licenses.replace_key_ciphertext(t, "main", "license_key_enc", "x", "y") == 0
        assert await licenses.replace_key_ciphertext(
            t, "main", "license_key_enc", "enc-new", "enc-v2"
        )
        assert await licenses.claim_warning(t, "main", 30) == 1
        assert await licenses.claim_warning(t, "main", 30) == 0
        assert await licenses.claim_warning(t, "main", 7) == 1
        assert await licenses.claim_expired(t, "main", -1) == 1
        assert await licenses.claim_expired(t, "main", -1) == 0
        await licenses.reset_warnings(t, "main")
        await licenses.set_pending_key(t, "main", "enc-other")
        assert await licenses.drop_pending_key(t, "main", "enc-other") == 1
        assert await summary.license_expires(t, "main") == "2027-01-01"
    row = await shop.shop_row("main")
    assert row["license_key_enc"] == "enc-v2" and row["license_key_pending_enc"] is None
    assert row["license_warned_days"] is None


# -- the daily summary's queries, the purge --------------------------------------------------------


async def test_summary_queries(shop: Store) -> None:
    day = NOW.isoformat()
    before = (NOW - timedelta(days=1)).isoformat()
    end = (NOW + timedelta(days=1)).isoformat()
    await save(shop, record("A"), record("B", Stage.NEEDS_ACTION, minutes=5))
    async with shop.tx() as t:
        await t.add_event("main", EventKind.ORDER_CONFIRMED, "A", NOW, {"actor": "U0TANAKA"})
        await t.add_event("main", EventKind.ORDER_ERROR, "B", NOW, {"error_key": "rate"})
        await t.add_event(
            "main", EventKind.ORDER_CONFIRMED, "B", NOW - timedelta(hours=2), {"actor": "rms"}
        )
        await summary.remember_state(t, "state:x", "1", overwrite=False)
        await summary.remember_state(t, "state:x", "2", overwrite=False)
        assert await ref_value(t, "state:x") == "1"
        await summary.remember_state(t, "state:x", "3", overwrite=True)
        assert await ref_value(t, "state:x") == "3"
    async with shop.read() as r:
        kinds = ["order_confirmed", "order_error"]
        early = (NOW - timedelta(hours=1)).isoformat()
        rows = await summary.event_counts(r, "main", kinds, before, early, end)
        got = {(bool(x["today"]), x["kind"], x["sub"], x["n"]) for x in rows}
        assert got == {
            (True, "order_confirmed", "U0TANAKA", 1),
            (True, "order_error", "rate", 1),
            (False, "order_confirmed", "rms", 1),
        }
        created = await summary.created_counts(r, "main", before, day, end)
        assert [(bool(x["today"]), x["n"]) for x in created] == [(True, 2)]
        figures = await summary.stage_figures(r, "main", ["awaiting", "needs_action"])
        assert {(x["stage"], x["n"], x["since"]) for x in figures} == {
            ("awaiting", 1, NOW.isoformat()),
            ("needs_action", 1, (NOW + timedelta(minutes=5)).isoformat()),
        }
        assert await summary.near_cancel_count(r, "main", ["awaiting"], "2026-12-01") == 1
        assert await summary.near_cancel_count(r, "main", ["awaiting"], "2026-11-30") == 0


async def test_the_purge_drops_personal_data_of_finished_orders_only(shop: Store) -> None:
    old = NOW - timedelta(days=100)
    done = replace(record("done", Stage.PROCESSED), stage_since=old)
    await save(shop, done, replace(record("open"), stage_since=old), record("new", Stage.PROCESSED))
    assert await shop.purge_finished(NOW - timedelta(days=90), batch=1) == 1
    assert await shop.purge_finished(NOW - timedelta(days=90)) == 0  # nothing left to strip
    purged = await shop.get_order("done")
    assert purged is not None and purged.snapshot.orderer.name == ""
    assert purged.snapshot.remarks == "" and purged.snapshot.total_price == 4480
    assert purged.snapshot.packages[0].recipient.name == ""
    assert purged.snapshot.packages[0].postage_price == 500  # amounts and baskets stay
    kept = await shop.get_order("open")
    assert kept is not None and kept.snapshot.orderer.name == "山田 花子"


# -- PostgreSQL under concurrent writers -----------------------------------------------------------


async def test_pg_concurrent_claims_skip_a_locked_request(pg) -> None:
    async with open_store(pg.fresh()) as store:
        async with store.statement() as t:
            a, _ = await insert_request(t, request("d1"))
            b, _ = await insert_request(t, request("d2", ("B",)))
        first_claimed = asyncio.Event()
        release = asyncio.Event()

        async def slow() -> int:
            async with store.tx() as t:
                got = await claim_request(t, NOW)
                first_claimed.set()
                await release.wait()  # its transaction stays open, the row locked
                assert got is not None
                return got.id

        slow_task = asyncio.create_task(slow())
        await first_claimed.wait()
        try:
            async with store.tx() as t:  # does not wait for the open transaction
                other = await asyncio.wait_for(claim_request(t, NOW), 5)
        finally:
            release.set()
        assert (await slow_task, other.id if other else None) == (a.id, b.id)


async def test_pg_a_concurrent_writer_sees_the_version_the_other_committed(pg) -> None:
    async with open_store(pg.fresh()) as store:
        await save(store, record("A"))
        read_done = asyncio.Event()
        release = asyncio.Event()

        async def first() -> None:
            async with store.tx() as t:
                a = await t.get_order("A")  # locks the row until commit
                read_done.set()
                await release.wait()
                await t.save_order(replace(a, stage=Stage.NEEDS_ACTION), NOW)  # type: ignore[arg-type]

        task = asyncio.create_task(first())
        await read_done.wait()

        async def second() -> int:
            async with store.tx() as t:
                return (await t.versions(["A"]))["A"]  # waits for the first to commit

        seen = asyncio.create_task(second())
        await asyncio.sleep(0.05)
        assert not seen.done()
        release.set()
        await task
        assert await seen == 2  # compares against the committed write, not the stale 1


async def test_pg_parallel_stores_apply_migrations_once(pg) -> None:
    url = pg.empty()

    async def start() -> int:
        from core.store.postgres import PgStore

        async with PgStore.open(url) as store:
            return await store.schema_version()

    versions = await asyncio.gather(*(start() for _ in range(4)))
    from core.store.migrations import MIGRATIONS

    assert versions == [len(MIGRATIONS)] * 4
    async with open_store(url) as store, store.read() as r:
        rows = await r.rows("SELECT version FROM schema_migrations ORDER BY version")
    assert [row[0] for row in rows] == list(range(1, len(MIGRATIONS) + 1))


async def test_pg_a_store_carries_on_after_the_server_restarts(pg) -> None:
    async with open_store(pg.fresh()) as store:
        await store.upsert_shop(ShopConfig("main", "メイン店", "C0SHOP1", False))
        pg.server.restart()  # every pooled connection is cut
        assert await store.ping()  # the first statement after it already succeeds
        assert (await store.shop_row("main"))["name"] == "メイン店"


async def test_pg_a_release_older_than_the_schema_runs_on_it(pg, caplog) -> None:
    url = pg.fresh()
    async with open_store(url) as store, store.tx() as t:  # a newer release added migration 99
        await t.execute("INSERT INTO schema_migrations (version) VALUES (99)")
    async with open_store(url) as store:
        assert await store.ping()
    assert "schema 99 is newer than this release's" in caplog.text

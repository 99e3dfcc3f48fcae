"""Every outbox message is delivered or dead-lettered on its own.

The whole bot on loopback: the RMS simulator, the Slack emulator and the real publisher.
A channel is made dead by removing it from the emulator (Slack answers `channel_not_found`,
as for an archived or deleted channel); transient failures come from the emulator's
``fail_next`` knob, aimed at one channel.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import suppress
from datetime import time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from bot.daily import Daily
from core.context import RetryPolicy
from core.intake import intake
from core.licenses import check_license
from handlers.poster import SlackPoster
from handlers.publisher import Publisher
from handlers.render import ids
from sandbox.slack import payloads
from tests.stack import Stack, bot_stack

JST = ZoneInfo("Asia/Tokyo")
CARD = "要対応: 送料未設定"
LICENCE = "ライセンスキーの期限まであと"
SUMMARY = "のサマリー"


class Killed(BaseException):
    """The process dies here (kill -9): no except/finally of the bot's own runs for it."""


def text_of(message: Any) -> str:
    return message.text + json.dumps(message.blocks, ensure_ascii=False)


def with_text(s: Stack, channel: str, needle: str) -> list[Any]:
    return [m for m in s.slack.messages(channel) if needle in text_of(m)]


def posts_to(s: Stack, channel: str) -> int:
    return sum(1 for c in s.slack.calls_to("chat.postMessage") if c.params["channel"] == channel)


async def flag_one(s: Stack, shop: str) -> str:
    number = s.add_order(shop, postage=-9999)
    await intake(s.rt.core, shop)
    return number


async def licence_warning_for(s: Stack, shop: str, key: str) -> None:
    """The shop's key expires in 5 days: the daily check writes the 7-day warning."""
    s.sim.state.keys[key].expires = s.clock.now() + timedelta(days=5)
    await check_license(s.rt.core, shop, s.clock.now())


async def test_a_dead_channel_of_one_shop_never_silences_another_shop(tmp_path):
    async with bot_stack(tmp_path, summary_channel="C0SUMMARY") as s:
        await flag_one(s, "main")  # shop A: its card goes to the dead channel
        api_number = await flag_one(s, "api")
        await licence_warning_for(s, "api", "SL-api-key")
        del s.slack.channels["C0SHOP1"]  # archived: Slack answers channel_not_found

        await s.rt.deps.publisher.drain()  # one drain

        assert len(with_text(s, "C0SHOP2", CARD)) == 1
        assert api_number in text_of(with_text(s, "C0SHOP2", CARD)[0])
        assert len(with_text(s, "C0SHOP2", LICENCE)) == 1
        assert len(s.slack.messages("C0SHOP2")) == 2  # card and licence warning, nothing lost
        alerts = s.slack.messages("C0SUMMARY")
        assert len(alerts) == 1  # the card died: one alert for the channel
        assert "C0SHOP1" in text_of(alerts[0]) and "channel_not_found" in text_of(alerts[0])

        calls = posts_to(s, "C0SHOP1")
        s.clock.advance(hours=1)
        await flag_one(s, "api")
        await s.rt.deps.publisher.drain()
        assert posts_to(s, "C0SHOP1") == calls  # dead-lettered: never tried again
        assert len(s.slack.messages("C0SUMMARY")) == 1  # and never alerted again
        assert len(with_text(s, "C0SHOP2", CARD)) == 2


async def test_the_alert_about_a_dead_channel_does_not_loop_when_its_own_channel_is_dead(
    tmp_path,
):
    async with bot_stack(tmp_path, summary_channel="C0SUMMARY") as s:
        await flag_one(s, "main")
        await flag_one(s, "api")
        del s.slack.channels["C0SHOP1"]
        del s.slack.channels["C0SUMMARY"]
        for _ in range(3):
            await s.rt.deps.publisher.drain()
            s.clock.advance(minutes=30)
        assert posts_to(s, "C0SUMMARY") == 1  # the alert was tried once, then dead itself
        assert len(with_text(s, "C0SHOP2", CARD)) == 1


async def test_a_transient_failure_is_retried_after_a_backoff_and_posted_once(tmp_path):
    async with bot_stack(tmp_path) as s:
        main_number = await flag_one(s, "main")
        await flag_one(s, "api")
        s.slack.fail_next("chat.postMessage", status=500, error="internal_error", channel="C0SHOP1")
        await s.rt.deps.publisher.drain()
        assert with_text(s, "C0SHOP1", CARD) == []
        assert len(with_text(s, "C0SHOP2", CARD)) == 1  # the other channel is not held up

        calls = posts_to(s, "C0SHOP1")
        await s.rt.deps.publisher.drain()  # too early: the backoff holds
        assert posts_to(s, "C0SHOP1") == calls
        s.clock.advance(minutes=10)
        await s.rt.deps.publisher.drain()
        await s.rt.deps.publisher.drain()
        cards = with_text(s, "C0SHOP1", CARD)
        assert len(cards) == 1 and main_number in text_of(cards[0])
        assert len([m for m in s.slack.messages("C0SHOP1") if main_number in text_of(m)]) == 1


async def test_429s_hold_only_their_channel_and_every_retry_after_is_waited_out(tmp_path):
    """Four 429s (Retry-After 30 s) on one channel: whoever waits them out (the poster, on the
    clock, or the publisher between drains), the card is posted once, after 4 × 30 s."""
    async with bot_stack(tmp_path) as s:
        s.rt.slack.retry_handlers = []  # the SDK's handler would sleep in real time
        await flag_one(s, "main")
        await flag_one(s, "api")
        start = s.clock.now()
        s.slack.fail_next(
            "chat.postMessage", status=429, retry_after=30, count=4, channel="C0SHOP1"
        )
        await s.rt.deps.publisher.drain()
        assert len(with_text(s, "C0SHOP2", CARD)) == 1  # not held up by the other channel
        for _ in range(20):
            if with_text(s, "C0SHOP1", CARD):
                break
            s.clock.advance(seconds=10)
            await s.rt.deps.publisher.drain()
        assert len(with_text(s, "C0SHOP1", CARD)) == 1
        assert s.clock.now() - start >= timedelta(seconds=120)


def retry_buttons(s: Stack, channel: str) -> Iterator[str]:
    """The retry buttons of the remediation cards (the confirm reports have their own)."""
    for message in s.slack.messages(channel):
        key = ((message.metadata or {}).get("event_payload") or {}).get("key", "")
        if not key.startswith("remedy:"):
            continue
        found = payloads.find_action(message.blocks, ids.RETRY_CONFIRM)
        if found is not None:
            yield str(found[0]["value"])


async def confirm_in_maintenance(s: Stack, number: str) -> None:
    """/confirm while RMS is in maintenance: the order ends in エラー; only the command's own
    drain (cards, no digest) runs."""
    s.sim.fail_next("confirmOrder", status=503)
    await s.slack.send_command("/confirm", number, channel="C0SHOP1")
    await s.rt.worker.run_once()  # the stored request
    await s.rt.deps.publisher.drain(digests=False)


async def test_a_second_error_of_the_same_kind_after_a_click_gets_its_own_card(tmp_path):
    async with bot_stack(tmp_path) as s:
        s.rt.core.retry = RetryPolicy(attempts=1)
        first, second = s.add_order(), s.add_order()
        await intake(s.rt.core, "main")
        await confirm_in_maintenance(s, first)
        assert any(first in value for value in retry_buttons(s, "C0SHOP1"))
        await confirm_in_maintenance(s, second)  # same kind of error, first not digested yet
        assert any(second in value for value in retry_buttons(s, "C0SHOP1"))
        await s.rt.deps.publisher.drain()  # the digest cycle adds no third card
        assert sum(1 for _ in retry_buttons(s, "C0SHOP1")) == 2


def daily_for(s: Stack, poster: SlackPoster | None = None) -> Daily:
    return Daily(s.rt.core, poster or s.rt.deps.poster, time(18, 0), JST)


async def run_daily(s: Stack, daily: Daily, publisher: Publisher) -> None:
    """What the jobs loop does: the daily work, then a drain; a failure is logged, not fatal."""
    with suppress(Exception):
        await daily.post_due_summaries(s.clock.now())
    with suppress(Exception):
        await publisher.drain()


async def test_a_summary_failing_on_the_second_channel_reaches_each_channel_exactly_once(
    tmp_path,
):
    async with bot_stack(tmp_path) as s:
        s.clock.advance(hours=9, minutes=5)  # 18:05 JST
        s.slack.fail_next("chat.postMessage", status=500, error="internal_error", channel="C0SHOP2")
        publisher = s.rt.deps.publisher
        await run_daily(s, daily_for(s), publisher)
        assert len(with_text(s, "C0SHOP1", SUMMARY)) == 1
        assert with_text(s, "C0SHOP2", SUMMARY) == []
        for _ in range(3):  # Slack is back; later cycles
            s.clock.advance(minutes=10)
            await run_daily(s, daily_for(s), publisher)
        assert len(with_text(s, "C0SHOP1", SUMMARY)) == 1
        assert len(with_text(s, "C0SHOP2", SUMMARY)) == 1


class DiesBeforeSlack(SlackPoster):
    async def post(self, channel: str, message: Any, **kwargs: Any) -> str:
        raise Killed


class DiesAfterSlack(SlackPoster):
    async def post(self, channel: str, message: Any, **kwargs: Any) -> str:
        await super().post(channel, message, **kwargs)
        raise Killed


@pytest.mark.parametrize("dying", [DiesBeforeSlack, DiesAfterSlack], ids=["before", "after"])
async def test_a_crash_between_the_summary_claim_and_its_post_still_posts_it_once(tmp_path, dying):
    async with bot_stack(tmp_path) as s:
        s.clock.advance(hours=9, minutes=5)
        poster = dying(s.rt.slack, s.clock)
        with suppress(Killed, BaseExceptionGroup):
            await daily_for(s, poster).post_due_summaries(s.clock.now())
        with suppress(Killed, BaseExceptionGroup):
            await Publisher(s.rt.core, poster).drain()
        # restart: new objects, the same database
        s.clock.advance(minutes=1)
        fresh = SlackPoster(s.rt.slack, s.clock)
        await run_daily(s, daily_for(s, fresh), Publisher(s.rt.core, fresh))
        assert len(with_text(s, "C0SHOP1", SUMMARY)) == 1
        assert len(with_text(s, "C0SHOP2", SUMMARY)) == 1


async def test_a_licence_check_interrupted_by_a_crash_runs_again_the_same_day(tmp_path):
    async with bot_stack(tmp_path) as s:
        s.sim.state.keys["SL-api-key"].expires = s.clock.now() + timedelta(days=5)
        real = s.rt.core.rms["api"]

        class Dying:
            def __getattr__(self, name: str) -> Any:
                return getattr(real, name)

            async def license_expiry(self) -> Any:
                raise Killed

        s.rt.core.rms["api"] = Dying()  # type: ignore[assignment]
        with suppress(Killed):
            await daily_for(s)()
        s.rt.core.rms["api"] = real
        await daily_for(s)()
        await s.rt.deps.publisher.drain()
        assert len(with_text(s, "C0SHOP2", LICENCE)) == 1


def note(text: str) -> dict[str, Any]:
    return {"text": text, "blocks": [{"type": "section", "text": {"type": "mrkdwn", "text": text}}]}


async def enqueue(s: Stack, key: str, channel: str, *texts: str) -> bool:
    async with s.rt.core.store.tx() as tx:
        return await tx.enqueue_message(
            key,
            "main",
            channel,
            "request",
            {"messages": [note(t) for t in texts]},
            at=s.clock.now(),
        )


async def test_a_message_is_posted_once_by_key_then_edited_in_place(tmp_path):
    async with bot_stack(tmp_path) as s:
        assert await enqueue(s, "request:1", "C0SHOP1", "受け付けました")
        assert not await enqueue(s, "request:1", "C0SHOP1", "again")  # a duplicate key: no-op
        await s.rt.deps.publisher.drain(digests=False)
        [posted] = s.slack.messages("C0SHOP1")
        async with s.rt.core.store.tx() as tx:
            assert await tx.update_message(
                "request:1", {"messages": [note("3/5 件 完了")]}, at=s.clock.now()
            )
        await s.rt.deps.publisher.drain(digests=False)
        async with s.rt.core.store.tx() as tx:
            await tx.update_message("request:1", {"messages": [note("完了")]}, at=s.clock.now())
        await s.rt.deps.publisher.drain(digests=False)
        [edited] = s.slack.messages("C0SHOP1")
        assert (edited.ts, edited.text, edited.edited) == (posted.ts, "完了", True)
        assert len(s.slack.calls_to("chat.update")) == 2
        async with s.rt.core.store.read() as r:
            message = await r.get_message("request:1")
        assert message is not None and (message.state, message.ts) == ("posted", posted.ts)


async def test_a_thread_interrupted_after_its_main_message_resumes_without_reposting_it(
    tmp_path,
):
    async with bot_stack(tmp_path) as s:
        await enqueue(s, "request:2", "C0SHOP1", "本文", "続き1", "続き2")
        await s.rt.deps.publisher.drain(digests=False)  # main + both replies
        assert len(s.slack.messages("C0SHOP1")[0].replies) == 2
        await enqueue(s, "request:3", "C0SHOP1", "本文B", "続きB")
        async with s.rt.core.store.tx() as tx:  # as if a reply failed after the main post
            message = await tx.get_message("request:3")
            assert message is not None
            await tx.message_progress(message.id, "1.000001", 1, s.clock.now())
        s.slack.fail_next("chat.postMessage", status=200, error="thread_not_found")
        await s.rt.deps.publisher.drain(digests=False)
        async with s.rt.core.store.read() as r:
            dead = await r.get_message("request:3")
        assert dead is not None and dead.state == "dead"
        assert [m.text for m in s.slack.messages("C0SHOP1")] == ["本文"]  # main not reposted
        assert s.slack.calls_to("chat.postMessage")[-1].params["thread_ts"] == "1.000001"


async def test_a_message_slack_refuses_dies_alone_and_the_next_in_its_channel_goes_out(tmp_path):
    async with bot_stack(tmp_path, summary_channel="C0SUMMARY") as s:
        await enqueue(s, "request:4", "C0SHOP1", "too long")
        await enqueue(s, "request:5", "C0SHOP1", "fine")
        s.slack.fail_next("chat.postMessage", status=200, error="msg_too_long", channel="C0SHOP1")
        await s.rt.deps.publisher.drain(digests=False)
        assert [m.text for m in s.slack.messages("C0SHOP1")] == ["fine"]
        [alert] = s.slack.messages("C0SUMMARY")
        assert "msg_too_long" in text_of(alert) and "request:4" in text_of(alert)


async def test_a_token_error_pauses_delivery_without_dead_lettering_anything(tmp_path):
    async with bot_stack(tmp_path) as s:
        await flag_one(s, "main")
        s.slack.fail_next("chat.postMessage", status=200, error="invalid_auth")
        await s.rt.deps.publisher.drain()
        async with s.rt.core.store.read() as r:
            assert "dead" not in await r.count_messages()
        await s.rt.deps.publisher.drain()  # the operator fixed the token
        assert len(with_text(s, "C0SHOP1", CARD)) == 1


async def test_a_message_can_go_into_a_thread_or_fall_back_to_another_channel(tmp_path):
    async with bot_stack(tmp_path, summary_channel="C0SUMMARY") as s:
        await enqueue(s, "request:6", "C0SHOP1", "親")
        await s.rt.deps.publisher.drain(digests=False)
        [parent] = s.slack.messages("C0SHOP1")
        now = s.clock.now()
        async with s.rt.core.store.tx() as tx:
            await tx.enqueue_message(
                "request:7",
                "main",
                "C0SHOP1",
                "request",
                {"messages": [note("返信")], "thread_ts": parent.ts},
                at=now,
            )
            await tx.enqueue_message(
                "request:8",
                "main",
                "D0GONE",
                "request",
                {
                    "messages": [note("代わりに")],
                    "thread_ts": "1.000001",
                    "fallback_channel": "C0SHOP1",
                },
                at=now,
            )
        await s.rt.deps.publisher.drain(digests=False)
        assert [r.text for r in s.slack.messages("C0SHOP1")[0].replies] == ["返信"]
        assert [m.text for m in s.slack.messages("C0SHOP1")] == ["親", "代わりに"]
        assert s.slack.messages("C0SUMMARY") == []  # moved, not dead: no alert


async def test_planning_many_cards_holds_the_database_for_a_few_statements(tmp_path):
    """An ack's commit waits while the publisher's planning transaction holds SQLite: it
    queued one INSERT per message (150 cards: 150 trips to aiosqlite's thread, 25–60 ms)."""
    async with bot_stack(tmp_path) as s:
        numbers = [s.add_order("main", postage=-9999) for _ in range(150)]
        await intake(s.rt.core, "main")
        statements: list[str] = []
        s.rt.core.store._raw.set_trace_callback(statements.append)  # every statement SQLite runs
        try:
            await s.rt.deps.publisher.drain()
        finally:
            s.rt.core.store._raw.set_trace_callback(None)
        inserts = [q for q in statements if q.lstrip().startswith("INSERT INTO messages")]
        assert len(inserts) == 2  # 100 + 50 rows
        cards = with_text(s, "C0SHOP1", CARD)
        assert sorted(n for n in numbers if any(n in text_of(c) for c in cards)) == sorted(numbers)


async def test_a_message_queued_and_then_updated_in_one_plan_keeps_the_update(tmp_path):
    """New messages are queued together; one planned as an update later in the same plan must
    find its row first, or the first payload would win over the update."""
    from handlers.publisher import Planned

    async with bot_stack(tmp_path) as s:
        first = {"messages": [{"text": "受付"}], "refs": []}
        later = {"messages": [{"text": "楽天処理中"}], "refs": []}
        await s.rt.deps.publisher._queue(
            [
                Planned("card:X", "main", "C0SHOP1", "card", first),
                Planned("alert:Y", "main", "C0SHOP1", "alert", {"messages": [{"text": "y"}]}),
                Planned("card:X", "main", "C0SHOP1", "card", later, update=True),
            ],
            [],
            "planned",
        )
        async with s.rt.core.store.read() as r:
            message, alert = await r.get_message("card:X"), await r.get_message("alert:Y")
        assert message is not None and message.payload == later
        assert alert is not None

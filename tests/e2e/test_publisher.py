"""The outbox reaches Slack exactly once: through a Slack outage, a 429 and a restart."""

from __future__ import annotations

import pytest

from core.intake import intake
from tests.stack import bot_stack


def posted_numbers(slack, channel, number):
    return [m for m in slack.messages(channel) if number in m.text + str(m.blocks)]


async def test_slack_outage_loses_nothing_and_posts_nothing_twice(tmp_path):
    async with bot_stack(tmp_path) as s:
        flagged = s.add_order(postage=-9999)
        s.add_order(postage=-9999)
        await intake(s.rt.core, "main")
        s.slack.fail_next("chat.postMessage", status=200, error="service_unavailable")
        # Slack refuses the first card (the second waits its channel's turn): nothing lost
        assert await s.rt.deps.publisher.drain() == 0
        async with s.rt.core.store.read() as r:
            assert await r.count_messages() == {"pending": 2}
        s.clock.advance(minutes=15)  # past the backoff
        assert await s.rt.deps.publisher.drain() > 0  # Slack is back
        assert await s.rt.deps.publisher.drain() == 0  # nothing left, nothing repeated
        async with s.rt.core.store.read() as r:
            assert await r.count_messages() == {"posted": 2}  # the two cards (no digest: §8)
        title = "要対応: 送料未設定"
        cards = [
            m
            for m in s.slack.messages("C0SHOP1")
            if flagged in str(m.blocks) and title in m.blocks[0]["text"]["text"]
        ]
        assert len(cards) == 1


async def test_a_restart_posts_what_was_left_and_nothing_already_posted(tmp_path):
    async with bot_stack(tmp_path) as s:
        s.add_order(postage=-9999)
        await intake(s.rt.core, "main")
        await s.rt.deps.publisher.drain()
        first = len(s.slack.messages("C0SHOP1"))
        assert first == 1  # the flag card (a flagged order gets its card and nothing else)
        left = s.add_order(postage=-9999)
        await intake(s.rt.core, "main")  # a new flag's event, not yet posted when we "crash"
        clock = s.clock
    async with bot_stack(tmp_path, clock=clock) as s2:
        await s2.rt.deps.publisher.drain()
        texts = [m.text for m in s2.slack.messages("C0SHOP1")]
        assert len(texts) == 1  # only the card of the new flagged order
        assert left in texts[0]


async def test_rate_limited_posts_are_retried_by_the_client(tmp_path):
    async with bot_stack(tmp_path) as s:
        s.add_order(postage=-9999)
        await intake(s.rt.core, "main")
        s.slack.fail_next("chat.postMessage", status=429, retry_after=0)
        await s.rt.deps.publisher.drain()
        assert len(await s.rt.core.store.unposted_events()) == 0
        assert len(s.slack.messages("C0SHOP1")) == 1  # the card, posted once after the 429


async def test_a_post_interrupted_before_it_was_recorded_is_recognised_not_repeated(tmp_path):
    from handlers.poster import SlackPoster
    from handlers.publisher import Publisher

    class DiesAfterSlackAccepted(SlackPoster):
        async def post(self, channel, message, **kwargs):
            await super().post(channel, message, **kwargs)
            raise RuntimeError("process killed right after Slack accepted the post")

    async with bot_stack(tmp_path) as s:
        s.add_order(postage=-9999)
        await intake(s.rt.core, "main")
        real = s.rt.deps.publisher
        dying = Publisher(s.rt.core, DiesAfterSlackAccepted(s.rt.slack, s.clock), lang="ja")
        with pytest.raises(ExceptionGroup):
            await dying.drain()
        posted_once = len(s.slack.messages("C0SHOP1"))
        assert posted_once == 1  # the flag card reached Slack; nothing was recorded
        [key] = await card_keys(s)
        async with s.rt.core.store.read() as r:
            card = await r.get_message(key)
        assert card is not None and card.posting_at is not None and card.ts is None
        await real.drain()  # the restarted publisher
        messages = s.slack.messages("C0SHOP1")
        cards = [m for m in messages if "要対応: 送料未設定" in m.blocks[0]["text"]["text"]]
        assert len(cards) == 1  # recognised in Slack's history, not posted again
        assert len(messages) == 1  # the card only (a flagged order gets nothing else)
        async with s.rt.core.store.read() as r:
            assert await r.count_messages() == {"posted": 1}
            assert (await r.get_message(card.key)).ts == cards[0].ts
        assert s.slack.calls_to("conversations.history")


async def card_keys(s):
    async with s.rt.core.store.read() as r:
        rows = await r.rows("SELECT key FROM messages WHERE kind = 'card'")
    return [row["key"] for row in rows]

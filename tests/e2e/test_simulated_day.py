"""A simulated business day through the jobs loop: one digest per cycle per channel with
changes (none without), exactly one daily summary with the store's numbers, licence warnings,
and no secret anywhere."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

from core.model import Stage
from tests.fakes import FakeClock
from tests.stack import SHOP_IDS, bot_stack

TICK = timedelta(minutes=5)


async def outbox_size(store) -> int:
    async with store.read() as r:
        return (await r.rows("SELECT COUNT(*) AS n FROM outbox"))[0]["n"]


def is_digest(message) -> bool:
    head = message.blocks[0] if message.blocks else {}
    return head.get("type") == "header" and head["text"]["text"].startswith("📦")


async def test_a_day_of_cycles_posts_one_digest_per_change_and_one_summary(tmp_path):
    clock = FakeClock(datetime(2026, 11, 28, 0, 0, tzinfo=UTC))  # 09:00 JST
    async with bot_stack(tmp_path, clock=clock, summary_channel="C0SUMMARY") as s:
        expiry = datetime(2026, 12, 5, 14, 59, 59, tzinfo=UTC)  # 7 days left, 23:59:59 JST
        s.sim.add_shop(SHOP_IDS["main"], "SP-main-secret", "SL-main-key", key_expires=expiry)
        s.rt.jobs.tick = TICK.total_seconds()
        channels = ("C0SHOP1", "C0SHOP2")
        digests_before = dict.fromkeys(channels, 0)
        quiet_cycles = busy_cycles = 0
        confirmed: list[str] = []
        for step in range(int(timedelta(hours=10) / TICK)):  # 09:00 → 19:00 JST
            if step % 12 == 1:  # an order arrives in each shop every hour
                s.add_order("main")
                last_api = s.add_order("api", postage=-9999 if step == 13 else 500)
            if step in (30, 90):  # a customer cancels: news for the next digest
                s.sim.set_progress(last_api, 900)
            if step % 24 == 5:  # twice a day a clerk confirms what is waiting
                awaiting = await s.rt.core.store.numbers_in_stages("main", [Stage.AWAITING])
                if awaiting:
                    await s.slack.send_command("/confirm", " ".join(awaiting), channel="C0SHOP1")
                    await s.settle()
                    confirmed += awaiting
            events_before = await outbox_size(s.rt.core.store)
            posted_before = sum(digests_before.values())
            await s.rt.jobs.cycle()
            for channel in channels:
                digests = [m for m in s.slack.messages(channel) if is_digest(m)]
                new = len(digests) - digests_before[channel]
                assert new <= 1, f"{new} digests in one cycle in {channel} at step {step}"
                digests_before[channel] = len(digests)
            if await outbox_size(s.rt.core.store) == events_before:
                quiet_cycles += 1  # nothing happened: no digest may be posted
                assert sum(digests_before.values()) == posted_before, step
            else:
                busy_cycles += 1
            clock.advance(TICK.total_seconds())
        assert quiet_cycles > 50  # most cycles change nothing ...
        assert 0 < sum(digests_before.values()) <= 2 * busy_cycles

        # the clerk's confirmations reached 楽天処理済 (RMS took 30 min) and their report,
        # edited in place, says so
        processed = await s.rt.core.store.numbers_in_stages("main", [Stage.PROCESSED])
        assert set(confirmed) == set(processed)
        assert "楽天処理済" in json.dumps(
            [m.blocks for m in s.slack.messages("C0SHOP1")], ensure_ascii=False
        )

        # exactly one daily summary (18:00 JST), with the store's numbers
        summaries = s.slack.messages("C0SUMMARY")
        assert len(summaries) == 1
        text = json.dumps(summaries[0].blocks, ensure_ascii=False)
        assert "メイン店" in text
        assert "API店" in text
        assert f"{len(processed)}件" in text

        # the licence warning at 7 days left, once
        main_text = json.dumps([m.blocks for m in s.slack.messages("C0SHOP1")], ensure_ascii=False)
        assert main_text.count("ライセンスキーの期限まであと7日") == 1

        # no secret in anything the bot said
        said = json.dumps([c.params for c in s.slack.calls], ensure_ascii=False)
        for secret in (
            "SP-main-secret",
            "SL-main-key",
            "SP-api-secret",
            "SL-api-key",
            "test-signing-secret",
        ):
            assert secret not in said

"""/rms license, /rms summary, App Home and the daily summary through the real app."""

from __future__ import annotations

import json
from datetime import timedelta

from core.events import EventKind
from core.intake import intake
from handlers.render import ids
from tests.stack import SHOP_IDS, bot_stack


def said(result):
    return json.dumps(result.json, ensure_ascii=False) if result.json else result.body


def all_text(slack, channel):
    return "\n".join(
        m.text + json.dumps(m.blocks, ensure_ascii=False) for m in slack.messages(channel)
    )


async def test_licence_key_is_renewed_through_the_modal_and_never_shown(tmp_path, caplog):
    new_key = "SL-NEW-KEY-SENTINEL-42"
    async with bot_stack(tmp_path, admins="U0SUZUKI") as s:
        refused = await s.slack.send_command("/rms", "license main", user="U0TANAKA")
        assert "権限" in said(refused)
        await s.slack.send_command("/rms", "license main", user="U0SUZUKI")
        await s.slack.wait_for("views.open")  # the modal opens after the ack
        modal = s.slack.open_modal("U0SUZUKI")
        assert modal is not None
        s.sim.issue_key(SHOP_IDS["main"], new_key, activates_after=timedelta(minutes=20))
        answer = await s.slack.submit_view(
            modal.id,
            {
                ids.LICENSE_BLOCK: {
                    ids.LICENSE_INPUT: {"type": "plain_text_input", "value": new_key}
                }
            },
            user="U0SUZUKI",
        )
        assert answer.status == 200
        await s.settle()
        daily = s.rt.jobs.job("daily")
        for _ in range(6):  # probes every 5 minutes; the key works after 20
            s.clock.advance(minutes=5)
            await daily()
        await s.rt.deps.publisher.drain()
        renewed = await s.rt.core.store.events_between(
            "main",
            s.clock.now() - timedelta(days=1),
            s.clock.now() + timedelta(days=1),
            [EventKind.LICENSE_RENEWED],
        )
        assert len(renewed) == 1
        assert "更新" in all_text(s.slack, "C0SHOP1")
        # the bot now uses the new key for RMS calls
        await intake(s.rt.core, "main")
        assert s.sim.calls[-1].license_key == new_key
        everything = json.dumps([c.params for c in s.slack.calls], ensure_ascii=False)
        assert new_key not in everything
        assert new_key not in caplog.text
        audit = json.dumps(await s.rt.core.store.audit_entries(), ensure_ascii=False)
        assert new_key not in audit


async def test_rms_summary_and_app_home_show_the_shops(tmp_path):
    async with bot_stack(tmp_path) as s:
        s.add_order()
        s.add_order(postage=-9999)
        await intake(s.rt.core, "main")
        summary = await s.slack.send_command("/rms", "summary main")
        assert "メイン店" in said(summary)
        await s.slack.open_app_home("U0TANAKA")
        published = await s.slack.wait_for("views.publish")
        view = json.dumps(published[-1].params, ensure_ascii=False)
        assert "メイン店" in view
        assert "API店" in view


async def test_daily_summary_is_posted_once_at_18_jst_even_across_restarts(tmp_path):
    from datetime import UTC, datetime

    from tests.fakes import FakeClock

    clock = FakeClock(datetime(2026, 11, 28, 8, 0, tzinfo=UTC))  # 17:00 JST
    async with bot_stack(tmp_path, clock=clock, summary_channel="C0SUMMARY") as s:
        daily = s.rt.jobs.job("daily")
        await daily()
        before = len(s.slack.messages("C0SUMMARY"))
        clock.advance(hours=1, minutes=1)  # 18:01 JST
        await daily()
        await daily()
        await s.rt.deps.publisher.drain()  # the summary is queued in the outbox, then posted
        assert len(s.slack.messages("C0SUMMARY")) == before + 1
    async with bot_stack(tmp_path, clock=clock, summary_channel="C0SUMMARY") as s2:
        await s2.rt.jobs.job("daily")()
        await s2.rt.deps.publisher.drain()
        assert s2.slack.messages("C0SUMMARY") == []  # the restarted bot does not repeat it

"""同梱 candidates come only from open orders, and every member is re-read before bundling."""

from __future__ import annotations

import asyncio
import json
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from pydantic import SecretStr

from core.bundles import bundle, candidates
from core.confirm import confirm, decide
from core.intake import intake
from core.lifecycle import Policy
from core.model import Stage
from core.outcomes import Outcome, Reason
from core.poller import poll
from sandbox.slack.emulator import Ephemeral
from tests.harness import PERSON, Harness, harness
from tests.stack import Stack, bot_stack


def _same_person(h: Harness, **kwargs: Any) -> str:
    return h.add_order(orderer=PERSON, recipient=PERSON, ordered_at=h.clock.now(), **kwargs)


async def _finished(h: Harness) -> str:
    """An order of the same person, confirmed and 楽天処理済 (RMS moved it to 300)."""
    number = _same_person(h)
    await intake(h.core, "main")
    await confirm(h.core, "main", [number], "U0TANAKA")
    h.clock.advance(minutes=31)
    await poll(h.core, "main")
    record = await h.store.get_order(number)
    assert record is not None and record.stage is Stage.PROCESSED
    return number


async def _finished_then_new(h: Harness) -> tuple[str, str]:
    """A 楽天処理済 order, then two hours later a new order (注文確認待ち) of the same person."""
    finished = await _finished(h)
    h.clock.advance(hours=2)
    new = _same_person(h)
    await intake(h.core, "main")
    return finished, new


async def test_an_order_finished_ten_days_ago_is_not_a_candidate() -> None:
    async with harness() as h:
        old = await _finished(h)
        h.clock.advance(days=9)
        recent = await _finished(h)
        h.clock.advance(days=1)
        new = _same_person(h)
        await intake(h.core, "main")
        await confirm(h.core, "main", [new], "U0TANAKA")  # only confirmed orders are proposed

        groups = await candidates(h.core, "main")

        assert [sorted(r.number for r in g) for g in groups] == [sorted([recent, new])]
        assert old not in {r.number for g in groups for r in g}


async def test_the_window_for_finished_orders_is_configurable() -> None:
    async with harness(policy=Policy(bundle_window=timedelta(hours=12))) as h:
        await _finished(h)
        h.clock.advance(hours=13)
        _same_person(h)
        await intake(h.core, "main")
        assert await candidates(h.core, "main") == []


async def test_a_member_shipped_since_our_last_read_is_refused_after_the_re_read() -> None:
    async with harness() as h:
        shipped, new = await _finished_then_new(h)
        assert await candidates(h.core, "main") == []  # the new one is not confirmed yet
        await confirm(h.core, "main", [new], "U0TANAKA")
        assert [len(g) for g in await candidates(h.core, "main")] == [2]
        h.sim.set_progress(shipped, 500)  # 発送済 in RMS; we stopped polling it at 300
        reads = len(h.sim.calls_to("getOrder"))

        report = await bundle(h.core, "main", [new, shipped], "U0TANAKA")

        assert len(h.sim.calls_to("getOrder")) == reads + 1  # one re-read of both members
        by_number = {o.order_number: o for o in report.outcomes}
        assert by_number[shipped].outcome is Outcome.REFUSED
        assert by_number[shipped].reason is Reason.SHIPPED
        assert by_number[new].outcome is Outcome.REFUSED
        for number in (new, shipped):
            record = await h.store.get_order(number)
            assert record is not None and record.bundle_id is None
        new_record = await h.store.get_order(new)
        assert new_record is not None
        refusal = decide(new_record, None)
        assert refusal is None or refusal.reason is not Reason.BUNDLED
        # The re-read is stored: the shipped order is no candidate any more.
        assert await candidates(h.core, "main") == []


async def test_a_new_order_with_a_shipped_candidate_stays_confirmable() -> None:
    async with harness() as h:
        shipped, new = await _finished_then_new(h)
        h.sim.set_progress(shipped, 500)

        early = await bundle(h.core, "main", [new, shipped], "U0TANAKA")
        assert {o.outcome for o in early.outcomes} == {Outcome.REFUSED}

        report = await confirm(h.core, "main", [new], "U0TANAKA")
        assert report.outcomes[0].outcome is Outcome.CONFIRMED


async def test_a_bundle_of_members_rms_still_shows_open_goes_through_after_the_re_read() -> None:
    async with harness() as h:
        first, second = await _finished_then_new(h)
        await confirm(h.core, "main", [second], "U0TANAKA")
        report = await bundle(h.core, "main", [first, second], "U0TANAKA")
        assert {o.outcome for o in report.outcomes} == {Outcome.BUNDLED}


async def test_when_rms_cannot_be_re_read_nothing_is_bundled() -> None:
    async with harness() as h:
        first, second = await _finished_then_new(h)
        await confirm(h.core, "main", [second], "U0TANAKA")
        h.sim.fail_next("getOrder", count=10, status=500)

        report = await bundle(h.core, "main", [first, second], "U0TANAKA")

        assert {o.outcome for o in report.outcomes} == {Outcome.FAILED}
        assert all(o.error is not None and o.error.key == "unavailable" for o in report.outcomes)
        record = await h.store.get_order(first)
        assert record is not None and record.bundle_id is None


def test_bundle_window_hours_reaches_the_policy(monkeypatch: pytest.MonkeyPatch) -> None:
    from bot.settings import Settings
    from bot.wiring import _policy

    default = Settings(_env_file=None, slack_bot_token=SecretStr("xoxb-test"))
    assert _policy(default).bundle_window == timedelta(hours=48)
    monkeypatch.setenv("BUNDLE_WINDOW_HOURS", "6")
    monkeypatch.setenv("SLACK_BOT_TOKEN", "xoxb-test")
    assert _policy(Settings(_env_file=None)).bundle_window == timedelta(hours=6)


async def test_rms_bundle_acks_at_once_and_answers_after_the_re_read(tmp_path: Path) -> None:
    async with bot_stack(tmp_path) as s:
        shipped = s.add_order(orderer=PERSON, recipient=PERSON, ordered_at=s.clock.now())
        await intake(s.rt.core, "main")
        await confirm(s.rt.core, "main", [shipped], "U0TANAKA")
        s.clock.advance(minutes=31)
        await poll(s.rt.core, "main")
        new = s.add_order(orderer=PERSON, recipient=PERSON, ordered_at=s.clock.now())
        await intake(s.rt.core, "main")
        await confirm(s.rt.core, "main", [new], "U0TANAKA")
        s.sim.set_progress(shipped, 500)
        reads = len(s.sim.calls_to("getOrder"))

        ack = await s.slack.send_command("/rms", f"bundle {new} {shipped}")
        assert ack.status == 200
        said = json.dumps(ack.json, ensure_ascii=False) if ack.json else ack.body
        assert "確認してから同梱します" in said  # the ack promises; the work runs after it
        assert len(s.sim.calls_to("getOrder")) == reads  # stored, not done in the 3 seconds
        await s.settle()  # the worker runs the stored request
        answer = await _reply_through_response_url(s)
        text = answer.text + json.dumps(answer.blocks, ensure_ascii=False)
        assert "同梱できませんでした" in text and "発送済" in text
        assert len(s.sim.calls_to("getOrder")) == reads + 1


async def _reply_through_response_url(s: Stack) -> Ephemeral:
    """The answer the work after the ack posts (bounded wait: the task runs on the real loop)."""
    for _ in range(2000):
        if s.slack.calls_to("response_url"):  # it replaces the ack's placeholder
            return s.slack.ephemerals("U0TANAKA")[-1]
        await asyncio.sleep(0.01)
    raise AssertionError("no answer through the response_url")

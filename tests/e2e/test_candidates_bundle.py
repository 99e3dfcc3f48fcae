"""`/rms candidates` proposes only groups `/rms bundle` accepts; a refusal says why per order."""

from __future__ import annotations

import asyncio
import json
import re
from pathlib import Path

from core.confirm import confirm
from core.intake import intake
from tests.harness import PERSON
from tests.stack import Stack, bot_stack

USER = "U0TANAKA"


def _person(family: str, phone: str) -> dict[str, str]:
    return {**PERSON, "familyName": family, "phoneNumber3": phone}


def _text(message) -> str:
    return message.text + " " + json.dumps(message.blocks, ensure_ascii=False)


async def _answer_after_ack(s: Stack, before: int) -> str:
    """The answer the stored request posts through the response_url (bounded wait)."""
    await s.settle()
    for _ in range(2000):
        if len(s.slack.calls_to("response_url")) > before:
            return _text(s.slack.ephemerals(USER)[-1])
        await asyncio.sleep(0.01)
    raise AssertionError("no answer through the response_url")


async def _bundle(s: Stack, numbers: list[str]) -> str:
    before = len(s.slack.calls_to("response_url"))
    ack = await s.slack.send_command("/rms", "bundle " + " ".join(numbers), user=USER)
    assert ack.status == 200
    return await _answer_after_ack(s, before)


async def _candidates(s: Stack) -> list[list[str]]:
    result = await s.slack.send_command("/rms", "candidates main", user=USER)
    said = json.dumps(result.json, ensure_ascii=False) if result.json else result.body
    return [m.split() for m in re.findall(r"/rms bundle ([0-9\- ]+)`", said)]


async def test_every_listed_group_bundles_and_an_unbundlable_group_is_not_listed(
    tmp_path: Path,
) -> None:
    async with bot_stack(tmp_path) as s:
        now = s.clock.now()
        ready = [
            s.add_order("main", orderer=PERSON, recipient=PERSON, ordered_at=now) for _ in (1, 2)
        ]
        awaiting_pair = [
            s.add_order("main", orderer=(q := _person("鈴木", "1111")), recipient=q, ordered_at=now)
            for _ in (1, 2)
        ]
        unset_pair = [
            s.add_order("main", orderer=(r := _person("佐藤", "2222")), recipient=r, ordered_at=now)
            for _ in (1, 2)
        ]
        s.sim.set_postage(unset_pair[1], 0, -9999)
        await intake(s.rt.core, "main")
        # every member confirmed except one of the 鈴木 pair; the 佐藤 pair has a fee unset
        await confirm(s.rt.core, "main", [*ready, awaiting_pair[0], unset_pair[0]], USER)

        listed = await _candidates(s)

        assert [sorted(g) for g in listed] == [sorted(ready)]
        for group in listed:
            assert "同梱しました" in await _bundle(s, group)
        assert await _candidates(s) == []  # bundled orders are no candidates any more


async def test_a_refused_bundle_says_why_for_every_order(tmp_path: Path) -> None:
    async with bot_stack(tmp_path) as s:
        now = s.clock.now()
        first, second = (
            s.add_order("main", orderer=PERSON, recipient=PERSON, ordered_at=now) for _ in (1, 2)
        )
        await intake(s.rt.core, "main")
        await confirm(s.rt.core, "main", [first], USER)

        said = await _bundle(s, [first, second])

        assert "同梱できませんでした" in said
        lines = {n: next(x for x in said.split("\\n") if n in x) for n in (first, second)}
        assert "注文確認前" in lines[second] or "注文確認通知" in lines[second]
        # the order that was fine is told why it was not bundled either
        assert "他の注文" in lines[first], lines[first]

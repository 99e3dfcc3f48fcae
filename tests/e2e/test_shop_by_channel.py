"""A shop can be named by its Slack channel: `shop-second`, `#shop-second` or `<#C…|…>`."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from core.intake import intake
from tests.stack import bot_stack


def answer(result) -> str:
    return json.dumps(result.json, ensure_ascii=False) if result.json else result.body


@pytest.mark.parametrize(
    "name", ["shop-second", "#shop-second", "<#C0SHOP2|shop-second>", "<#C0SHOP2>", "#SHOP-SECOND"]
)
async def test_rms_pending_names_the_shop_by_its_channel(tmp_path: Path, name: str) -> None:
    async with bot_stack(tmp_path) as s:
        number = s.add_order("api")
        await intake(s.rt.core, "api")
        result = await s.slack.send_command("/rms", f"pending {name}", channel="C0SHOP1")
        assert number in answer(result), answer(result)
        assert "API店" in answer(result)


async def test_confirm_names_the_shop_by_its_channel_mention(tmp_path: Path) -> None:
    async with bot_stack(tmp_path) as s:
        number = s.add_order("api")
        await intake(s.rt.core, "api")
        result = await s.slack.send_command(
            "/confirm", f"{number} <#C0SHOP2|shop-second>", channel="D0SOMEDM"
        )
        assert "店舗" not in answer(result), answer(result)
        await s.settle()
        assert [n for n, _ in s.sim.confirm_log] == [number]


async def test_an_unknown_channel_name_lists_the_usable_names(tmp_path: Path) -> None:
    async with bot_stack(tmp_path) as s:
        result = await s.slack.send_command("/rms", "pending #shop-third", channel="C0SHOP1")
        said = answer(result)
        assert "店舗が見つかりません: #shop-third" in said, said
        assert "API店" in said and "メイン店" in said and "#shop-second" in said

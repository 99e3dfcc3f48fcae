"""Without the API option, a second fee record for the same order does not overwrite the first."""

from __future__ import annotations

import json
from pathlib import Path

from core.intake import intake
from tests.e2e.test_channel_experience import (
    USER,
    _open_fee_modal,
    approve_fee,
    card_of,
    posts,
    shown,
)
from tests.stack import bot_stack


def _fill(modal, fee: str) -> dict:
    return {
        b["block_id"]: {b["element"]["action_id"]: {"type": "plain_text_input", "value": fee}}
        for b in modal.view["blocks"]
        if b["type"] == "input"
    }


async def _submit(s, modal, fee: str, user: str = USER) -> None:
    await s.slack.submit_view(modal.id, _fill(modal, fee), user=user)
    await s.slack.submit_view(modal.id, {}, user=user)
    await s.settle()


async def _carded_order(s) -> str:
    """A no-API-option order with an unset fee, its card posted in #shop-main."""
    number = s.add_order("main", postage=-9999)
    await intake(s.rt.core, "main")
    await s.rt.deps.publisher.drain()
    return number


def _told(s, user: str) -> str:
    return " ".join(
        e.text + json.dumps(e.blocks, ensure_ascii=False) for e in s.slack.ephemerals(user)
    )


async def test_a_second_record_says_who_recorded_which_fee_and_keeps_the_first(
    tmp_path: Path,
) -> None:
    async with bot_stack(tmp_path) as s:
        number = await _carded_order(s)
        late = await _open_fee_modal(s, "C0SHOP1", "main", number, USER)  # 田中 opens the form
        await approve_fee(s, "C0SHOP1", "main", number, "900", user="U0SATO")  # 佐藤 records
        card_before = shown(card_of(s.slack, "C0SHOP1", number))
        posted = posts(s.slack, "C0SHOP1")

        await _submit(s, late, "700")

        told = _told(s, USER)
        assert "<@U0SATO>" in told and "900円" in told, told
        assert "700円" in told and "反映していません" in told, told
        record = await s.rt.core.store.get_order(number)
        assert record is not None and list((record.intended_fees or {}).values()) == [900]
        assert shown(card_of(s.slack, "C0SHOP1", number)) == card_before
        assert posts(s.slack, "C0SHOP1") == posted
        assert "700" not in _told(s, "U0SATO")


async def test_re_opened_from_the_card_the_modal_shows_the_record_and_may_change_it(
    tmp_path: Path,
) -> None:
    async with bot_stack(tmp_path) as s:
        number = await _carded_order(s)
        await approve_fee(s, "C0SHOP1", "main", number, "900", user="U0SATO")

        again = await _open_fee_modal(s, "C0SHOP1", "main", number, USER)
        assert "900" in json.dumps(again.view, ensure_ascii=False)
        await _submit(s, again, "700")

        record = await s.rt.core.store.get_order(number)
        assert record is not None and list((record.intended_fees or {}).values()) == [700]
        assert "反映していません" not in _told(s, USER)

"""The living card: the stage it is in now, who confirmed it, only valid buttons, its RMS link."""

from __future__ import annotations

import json

import pytest

from core.model import Stage
from handlers.render import ids
from handlers.render.living import CardNote, living_card
from tests.unit.test_staff_words import NOW, SHOP_NAME, _record

URL = "https://rms.example/order?orderNumber=123456-20261128-0000000001"
VALID = {
    Stage.AWAITING: {ids.CONFIRM_ORDER, ids.REFETCH_ORDER, ids.SHOW_DETAILS},
    Stage.PROCESSING: {ids.REFETCH_ORDER, ids.SHOW_DETAILS},
    Stage.PROCESSED: {ids.SHOW_DETAILS},
    Stage.CANCELLED: {ids.SHOW_DETAILS},
    Stage.SENDING: {ids.SHOW_DETAILS},
}


def _buttons(card) -> set[str]:
    return {e["action_id"] for b in card["blocks"] if b["type"] == "actions" for e in b["elements"]}


@pytest.mark.parametrize("stage", list(VALID))
def test_each_stage_offers_only_the_buttons_valid_in_it(stage: Stage) -> None:
    card = living_card(_record(stage), SHOP_NAME, False, "ja", now=NOW, url=URL)
    assert _buttons(card) == VALID[stage]
    assert f"<{URL}|RMSで開く>" in json.dumps(card, ensure_ascii=False)


def test_a_flagged_card_keeps_its_fee_button_and_link() -> None:
    card = living_card(_record(Stage.NEEDS_ACTION), SHOP_NAME, True, "ja", now=NOW, url=URL)
    assert ids.OPEN_FEE_MODAL in _buttons(card)
    assert f"<{URL}|RMSで開く>" in json.dumps(card, ensure_ascii=False)


def test_news_shows_in_its_stage_and_becomes_a_quiet_fact_afterwards() -> None:
    note = CardNote("📝 NEWS", Stage.NEEDS_ACTION.value, "💴 FACT")
    flagged = json.dumps(living_card(_record(Stage.NEEDS_ACTION), SHOP_NAME, False, note=note))
    assert "NEWS" in flagged
    later = json.dumps(living_card(_record(Stage.PROCESSED), SHOP_NAME, False, note=note))
    assert "NEWS" not in later and "FACT" in later and "<@U0TANAKA>" in later

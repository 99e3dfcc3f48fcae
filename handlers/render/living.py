"""The living card of one order: rendered from its current state, edited in place as it moves.

One card per order: 要対応 (or エラー) shows the full flag card; after that the card shows the
stage the order is in now, who confirmed it, the last thing someone did, and only the buttons
that are valid now. Any card kind (flag, fee approval, later a held order) is refreshed here.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from core.model import OrderRecord, Stage
from handlers.render import ids
from handlers.render.blocks import (
    Block,
    Message,
    actions,
    button,
    context,
    escape,
    header,
    message,
    section,
)
from handlers.render.cards import confirm_button, flag_card
from handlers.render.i18n import Lang, catalogue, jst, t, who
from handlers.render.order_view import fees_text, orderer_text, value_for

_TEXTS: dict[str, tuple[str, str]] = {
    "head_awaiting": (
        "🕒 注文確認待ち — 注文確認通知を送信できます",
        "🕒 Awaiting confirmation — ready to confirm",
    ),
    "head_sending": ("📤 確認送信中", "📤 Sending the order confirmation"),
    "head_processing": (
        "⏳ 楽天処理中 — まだ発送しないでください",
        "⏳ Rakuten processing — do not ship yet",
    ),
    "head_processed": ("✅ 楽天処理済 — 発送できます", "✅ Rakuten processed — ready to ship"),
    "head_cancelled": ("🚫 キャンセル — 発送しないでください", "🚫 Cancelled — do not ship"),
    "confirmed_line": ("注文確認: {who} · {when}", "Confirmed by {who} · {when}"),
    "confirmed_in_rms": ("RMSで直接確認されました · {when}", "Confirmed directly in RMS · {when}"),
    "fee_line": ("送料: {fees}", "Shipping fee: {fees}"),
    "processing_hint": (
        "楽天処理済になったら、このカードが変わります。",
        "This card changes when Rakuten has processed the order.",
    ),
    "sending_hint": (
        "RMSに送信中です。ボットが結果を確認します (再送はしません)。",
        "Sending to RMS; the bot checks the result (it never resends).",
    ),
}
_t = catalogue(_TEXTS)

_HEADS = {
    Stage.AWAITING: "head_awaiting",
    Stage.SENDING: "head_sending",
    Stage.PROCESSING: "head_processing",
    Stage.PROCESSED: "head_processed",
    Stage.CANCELLED: "head_cancelled",
}
_HINTS = {Stage.PROCESSING: "processing_hint", Stage.SENDING: "sending_hint"}


@dataclass(frozen=True, slots=True)
class CardNote:
    """The last thing someone did to the order (rendered already), and the stage it was in:
    shown as news while the order stays in that stage, as a quiet line afterwards."""

    text: str
    stage: str
    fact: str = ""


def _buttons(record: OrderRecord, lang: Lang) -> list[Block]:
    value = value_for(record)
    refetch = button(t("btn_refetch", lang), ids.REFETCH_ORDER, value)
    details = button(t("btn_details", lang), ids.SHOW_DETAILS, value)
    if record.stage is Stage.AWAITING and record.bundle_id is None:
        return [actions(confirm_button(record, lang), refetch, details)]
    if record.stage is Stage.PROCESSING:
        return [actions(refetch, details)]
    return [actions(details)]


def _who_line(record: OrderRecord, lang: Lang) -> str | None:
    if record.confirmed_by == "rms":
        return _t("confirmed_in_rms", lang, when=jst(record.confirmed_at, lang))
    if record.confirmed_by:
        when = jst(record.confirmed_at, lang)
        return _t("confirmed_line", lang, who=who(record.confirmed_by, lang), when=when)
    return None


def living_card(
    record: OrderRecord,
    shop_name: str,
    api_option: bool,
    lang: Lang = "ja",
    *,
    now: datetime | None = None,
    note: CardNote | None = None,
    url: str | None = None,
) -> Message:
    """The card of ``record`` as it is now (``note``: the last action on it, if any; ``url``:
    the order's page in RMS)."""
    current = note is not None and note.stage == record.stage.value
    if record.stage in (Stage.NEEDS_ACTION, Stage.ERROR) or record.stage not in _HEADS:
        text = note.text if note is not None and current else None
        return flag_card(record, shop_name, api_option, lang, now=now, note=text, url=url)
    title = _t(_HEADS[record.stage], lang)
    blocks: list[Block] = [header(title)]
    summary = [f"`{record.number}`", escape(shop_name), orderer_text(record.snapshot.orderer)]
    if url:
        summary.append(f"<{url}|{t('open_in_rms', lang)}>")
    blocks.append(context(" · ".join(summary)))
    if note is not None and current:
        blocks.append(section(note.text))
    facts = [line for line in (_who_line(record, lang),) if line]
    if note is not None and not current and note.fact:
        facts.append(note.fact)
    if record.intended_fees and not (note is not None and note.fact):
        facts.append(_t("fee_line", lang, fees=fees_text(record, lang)))
    if facts:
        blocks.append(context(" · ".join(facts)))
    if record.stage in _HINTS:
        blocks.append(context(_t(_HINTS[record.stage], lang)))
    blocks += _buttons(record, lang)
    return message(f"{title} {record.number} ({shop_name})", blocks)

"""Auto-confirm in Slack (pure): the held card, the dry-run post, /rms held, /rms auto, alerts."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from core.model import OrderRecord
from core.remediation import lookup
from handlers.render import ids
from handlers.render.auto_texts import HOLD_REASONS
from handlers.render.blocks import (
    Block,
    Message,
    actions,
    button,
    context,
    escape,
    header,
    line_sections,
    message,
    modal,
    section,
    text_input,
)
from handlers.render.i18n import Lang, jst, t, who
from handlers.render.order_view import head_fields, value_for

KEEP_HOLDING = "keep_holding"  # button: value "shop|order_number"
KEEP_MODAL = "keep_holding_modal"
KEEP_BLOCK = "keep_note"
KEEP_INPUT = "keep_note_input"
MAX_LIST = 40  # /rms held lines in one answer; the rest is counted


def hold_reason_text(reason: str, lang: Lang) -> str:
    """A rule's name in the staff's words."""
    ja, en = HOLD_REASONS.get(reason, (reason, reason))
    return ja if lang == "ja" else en


def reasons_line(reasons: Sequence[str], lang: Lang) -> str:
    """The reasons, joined for one line."""
    return " / ".join(hold_reason_text(r, lang) for r in reasons)


def held_card(
    record: OrderRecord,
    reasons: Sequence[str],
    shop_name: str,
    lang: Lang,
    *,
    now: datetime | None = None,
    proposal_how: Sequence[str] = (),
    note: str = "",
    noted_by: str | None = None,
) -> Message:
    """One living card per held order: why it was held, and what a person can do."""
    value = value_for(record)
    bullet = "\n".join(f"• {hold_reason_text(r, lang)}" for r in reasons)
    blocks: list[Block] = [
        header(t("held_header", lang)),
        section(
            t("held_intro", lang, shop=escape(shop_name), number=record.number) + "\n" + bullet
        ),
        head_fields(record, lang, now),
    ]
    if proposal_how:
        blocks.append(context(t("held_proposal", lang, how=escape("; ".join(proposal_how)))))
    if note:
        blocks.append(context(t("held_note", lang, who=who(noted_by, lang), note=escape(note))))
    elements = []
    if record.snapshot.fee_unset:
        elements.append(button(t("btn_fee_approve", lang), ids.OPEN_FEE_MODAL, value, "primary"))
    elif record.progress == 100 and record.bundle_id is None:
        elements.append(button(t("btn_approve", lang), ids.CONFIRM_ORDER, value, "primary"))
    elements.append(button(t("btn_keep", lang), KEEP_HOLDING, value))
    elements.append(button(t("btn_refetch", lang), ids.REFETCH_ORDER, value))
    blocks.append(actions(*elements))
    text = f"{t('held_header', lang)} {record.number}: {reasons_line(reasons, lang)}"
    return message(text, blocks)


def keep_modal(number: str, lang: Lang, metadata: str) -> dict[str, Any]:
    """保留のまま: a note saying why the order stays held."""
    return modal(
        KEEP_MODAL,
        t("keep_title", lang),
        [
            section(f"`{number}`"),
            text_input(KEEP_BLOCK, KEEP_INPUT, t("keep_label", lang), max_length=500),
        ],
        submit=t("keep_submit", lang),
        close=t("close", lang),
        private_metadata=metadata,
    )


def dry_run_post(
    shop_name: str, confirm: Sequence[str], held: Mapping[str, Sequence[str]], lang: Lang
) -> Message:
    """What auto-confirm would have done today; nothing was written to RMS."""
    lines = [t("dry_run_confirm", lang, n=len(confirm))]
    lines += [f"• `{n}`" for n in confirm[:MAX_LIST]]
    lines.append(t("dry_run_held", lang, n=len(held)))
    lines += [f"• `{n}` — {reasons_line(r, lang)}" for n, r in list(held.items())[:MAX_LIST]]
    title = t("dry_run_header", lang, shop=shop_name)
    return message(title, [header(title), *line_sections(lines)])


def held_list(
    shop_name: str,
    rows: Sequence[tuple[OrderRecord, Sequence[str], str]],
    lang: Lang,
    now: datetime,
) -> Message:
    """/rms held: oldest first, with reasons and the 14-day deadline (row: record, reasons,
    note)."""
    if not rows:
        return message(t("held_list_empty", lang, shop=shop_name), [])
    lines = []
    for record, reasons, note in rows[:MAX_LIST]:
        due = record.snapshot.cancel_due
        deadline = t("held_list_due", lang, due=due.isoformat()) if due else ""
        ordered = jst(record.snapshot.ordered_at, lang)
        line = f"• `{record.number}` {ordered} — {reasons_line(reasons, lang)} ({deadline})"
        lines.append(line + (f"\n    📝 {escape(note)}" if note else ""))
    if len(rows) > MAX_LIST:
        lines.append(f"… +{len(rows) - MAX_LIST}")
    title = t("held_list_header", lang, shop=shop_name, n=len(rows))
    return message(title, [header(title), *line_sections(lines)])


def mode_word(mode: str, lang: Lang) -> str:
    """オン / オフ / ドライラン."""
    return t(f"auto_mode_{mode}", lang)


def auto_status(rows: Sequence[tuple[str, str]], paused: bool, lang: Lang) -> Message:
    """/rms auto status: each shop's mode, and the pause."""
    suffix = t("auto_paused_suffix", lang) if paused else ""
    lines = [
        t("auto_status", lang, shop=escape(name), mode=mode_word(mode, lang), paused=suffix)
        for name, mode in rows
    ]
    return message("\n".join(lines), line_sections(lines))


def auto_announcement(data: Mapping[str, Any], shop_name: str, lang: Lang) -> Message:
    """Posted in the shop's channel when a person changes its mode, pauses or resumes."""
    actor = who(str(data.get("actor") or ""), lang)
    if "paused" in data:
        key = "auto_paused" if data["paused"] else "auto_resumed"
        text = t(key, lang, who=actor)
    else:
        mode = mode_word(str(data.get("mode")), lang)
        text = t("auto_changed", lang, who=actor, shop=escape(shop_name), mode=mode)
    return message(text, [section(text)])


def watchdog_alert(kind: str, data: Mapping[str, Any], shop_name: str, lang: Lang) -> Message:
    """The watchdog's alert (or its recovery) for one shop."""
    check = str(data.get("check"))
    shop = escape(shop_name)
    if kind == "watchdog_recovered":
        text = t(f"watchdog_recovered_{check}", lang, shop=shop)
    elif check == "silent":
        text = t("watchdog_silent", lang, shop=shop, minutes=data.get("minutes"))
    elif check == "failing":
        since = data.get("since")
        when = jst(datetime.fromisoformat(str(since)), lang) if since else "—"
        error = lookup(str(data.get("error") or "unknown")).title.get(lang)
        text = t("watchdog_failing", lang, shop=shop, since=when, error=escape(error))
    else:
        text = t("watchdog_held", lang, shop=shop, held=data.get("held"), total=data.get("total"))
    return message(text, [section(text)])


def with_pause_notice(
    view: dict[str, Any], by: str, at: datetime | None, lang: Lang
) -> dict[str, Any]:
    """App Home while every shop is paused: the notice right under the title."""
    text = t("home_auto_paused", lang, who=who(by, lang), at=jst(at, lang) if at else "—")
    blocks = list(view.get("blocks") or [])
    blocks.insert(1, section(text))
    return {**view, "blocks": blocks}

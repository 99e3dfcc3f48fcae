"""The flag card for a 要対応 order (and what replaces it once resolved), and the 詳細 view."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from core.events import FlagReason
from core.model import UNSET_FEE, OrderRecord, Stage
from core.outcomes import ErrorInfo, OrderOutcome, Outcome, Reason
from core.remediation import (
    MANUAL_FEE_STEPS,
    PREVENT_UNSET_FEE_STEPS,
    PREVENT_UNSET_FEE_SUMMARY,
    PREVENT_UNSET_FEE_TITLE,
)
from handlers.render import ids
from handlers.render.blocks import (
    MAX_BLOCKS,
    Block,
    Message,
    actions,
    button,
    confirm_dialog,
    context,
    divider,
    escape,
    fields,
    header,
    line_sections,
    message,
    section,
)
from handlers.render.i18n import (
    Lang,
    flag_reason_text,
    jst,
    reason_text,
    stage_label,
    t,
    who,
    yen,
)
from handlers.render.order_view import (
    due_warning,
    fees_text,
    head_fields,
    orderer_text,
    package_section,
    remarks_section,
    totals_fields,
    value_for,
)
from handlers.render.remedy import entry_for, inline_steps, numbered, remedy_blocks

MAX_CARD_PACKAGES = 8

_HEADERS: dict[str, str] = {
    FlagReason.SHIPPING_FEE_UNSET: "flag_header_fee",
    FlagReason.BUNDLE_RULE: "flag_header_bundle",
    FlagReason.UNKNOWN_ERROR: "flag_header_unknown",
}


def _reason_blocks(record: OrderRecord, lang: Lang, api_option: bool = True) -> list[Block]:
    reason = record.flag_reason
    if reason == FlagReason.UNKNOWN_ERROR:
        error = ErrorInfo("unknown", record.error_code, record.error_message)
        return remedy_blocks(error, lang, with_title=False)
    if reason == FlagReason.BUNDLE_RULE:
        return []  # the bundle note below says it
    if record.snapshot.fee_unset or reason == FlagReason.SHIPPING_FEE_UNSET:
        return [section(t("fee_unset_explain" if api_option else "fee_unset_explain_manual", lang))]
    return [section(flag_reason_text(reason, lang))]


def confirm_button(record: OrderRecord, lang: Lang, label_key: str = "btn_confirm") -> Any:
    """注文確認通知を送信, behind Slack's confirmation dialog (one order)."""
    dialog = confirm_dialog(
        t("dialog_title", lang),
        t("dialog_text", lang, count=f"`{record.number}` "),
        t("dialog_yes", lang),
        t("dialog_no", lang),
        style="primary",
    )
    return button(t(label_key, lang), ids.CONFIRM_ORDER, value_for(record), "primary", dialog)


def _card_buttons(
    record: OrderRecord, lang: Lang, *, confirmable: bool = False, api_option: bool = True
) -> Block:
    value = value_for(record)
    elements = []
    if record.bundle_id is None:  # a bundled order never offers confirmation (unbundle first)
        if record.snapshot.fee_unset:
            label = t("btn_fee" if api_option else "btn_fee_record", lang)
            elements.append(button(label, ids.OPEN_FEE_MODAL, value, "primary"))
        elif confirmable and record.progress == 100:
            elements.append(confirm_button(record, lang))
    elements.append(button(t("btn_refetch", lang), ids.REFETCH_ORDER, value))
    elements.append(button(t("btn_details", lang), ids.SHOW_DETAILS, value))
    return actions(*elements)


def _next_steps(record: OrderRecord, api_option: bool, lang: Lang) -> list[Block]:
    if not record.snapshot.fee_unset:
        return []
    prevent = context(t("prevent_line", lang, summary=PREVENT_UNSET_FEE_SUMMARY.get(lang)))
    if record.bundle_id is not None:  # the bundle note already says what to do
        return [prevent]
    if api_option:
        nxt = t("next_api", lang)
    else:
        nxt = t("next_manual", lang, steps=inline_steps(MANUAL_FEE_STEPS, lang))
    return [context(nxt), prevent]


def _order_blocks(record: OrderRecord, lang: Lang, now: datetime | None) -> list[Block]:
    order = record.snapshot
    blocks: list[Block] = []
    warning = due_warning(order, now, lang)
    if warning:
        blocks.append(section(f"*{warning}*"))
    blocks.append(head_fields(record, lang, now))
    shown = order.packages[:MAX_CARD_PACKAGES]
    blocks += [package_section(p, i, lang) for i, p in enumerate(shown, 1)]
    if len(order.packages) > len(shown):
        blocks.append(context(t("more_packages", lang, n=len(order.packages) - len(shown))))
    blocks.append(totals_fields(order, lang))
    remarks = remarks_section(order, lang)
    if remarks:
        blocks.append(remarks)
    if record.bundle_id is not None:
        blocks.append(section(t("bundled_note", lang, number=record.number)))
    return blocks


def _full_card(
    record: OrderRecord,
    shop_name: str,
    api_option: bool,
    lang: Lang,
    now: datetime | None,
    note: str | None = None,
    url: str | None = None,
) -> Message:
    fallback_key = "flag_header_fee" if record.snapshot.fee_unset else "flag_header"
    title = t(_HEADERS.get(record.flag_reason or "", fallback_key), lang)
    place = f"🏪 {escape(shop_name)}" + (f" · <{url}|{t('open_in_rms', lang)}>" if url else "")
    blocks: list[Block] = [header(title), context(place)]
    if note:
        blocks.append(section(f"*{note}*"))
    blocks += _reason_blocks(record, lang, api_option)
    blocks += _order_blocks(record, lang, now)
    confirmable = record.flag_reason == FlagReason.UNKNOWN_ERROR
    blocks.append(_card_buttons(record, lang, confirmable=confirmable, api_option=api_option))
    blocks += _next_steps(record, api_option, lang)
    return message(f"{title} {record.number} ({shop_name})", blocks[:MAX_BLOCKS])


def stale_fee_text(outcome: OrderOutcome, lang: Lang) -> str:
    """「⛔ 送料は既に設定済みです: 900円 — 佐藤 …。入力された 700円 は反映していません。」

    Without the API option (a recorded fee, Reason.FEE_RECORDED) it also says how to change it.
    """
    standing = " / ".join(yen(v, lang) for v in (outcome.fees or {}).values()) or "—"
    by = who(outcome.by, lang) if outcome.by and outcome.by != "rms" else t("in_rms", lang)
    when = f" {jst(outcome.at, lang)}" if outcome.at else ""
    typed = " / ".join(
        yen(int(v), lang) if v.isdigit() else escape(v) for v in outcome.detail.split(" / ") if v
    )
    key = "stale_fee_record" if outcome.reason is Reason.FEE_RECORDED else "stale_fee"
    return t(key, lang, fee=standing, who=by, when=when, typed=typed or "—")


def outcome_line(
    record: OrderRecord,
    resolved: OrderOutcome,
    api_option: bool,
    lang: Lang,
    actor: str | None = None,
    fees: Mapping[int, int] | None = None,
) -> str:
    """One line saying what an action on this order did and who did it (a card's news)."""
    return _resolved_line(record, resolved, api_option, lang, actor, fees)


def _resolved_line(
    record: OrderRecord,
    resolved: OrderOutcome,
    api_option: bool,
    lang: Lang,
    actor: str | None,
    fees: Mapping[int, int] | None,
) -> str:
    stage = stage_label(resolved.stage or record.stage, lang)
    person = who(actor or resolved.by or record.confirmed_by, lang)
    kind, amounts = resolved.outcome, fees_text(record, lang, fees)
    fee = f"{t('fee_word', lang)} {amounts}".strip()  # 「送料 800円」, or just 「送料」 if unknown
    if kind is Outcome.CONFIRMED:
        key = "resolved_fee_confirmed" if api_option and amounts else "resolved_confirmed"
        return t(key, lang, fee=fee, stage=stage, who=person)
    if kind is Outcome.FEE_RECORDED:
        return t("resolved_fee_recorded", lang, fee=fee, who=person)
    if kind is Outcome.ALREADY_CONFIRMED:
        when = jst(resolved.at or record.confirmed_at, lang)
        return "↩️ " + t("already_line", lang, who=who(resolved.by, lang), when=when)
    if kind is Outcome.ADOPTED:
        return t("resolved_adopted", lang, stage=stage)
    if kind is Outcome.PENDING:
        return t("resolved_pending", lang)
    if resolved.stage is Stage.CANCELLED:
        return t("resolved_cancelled", lang)
    if kind is Outcome.REFUSED and resolved.reason in (Reason.NO_FEE_NEEDED, Reason.FEE_RECORDED):
        return stale_fee_text(resolved, lang)
    if kind is Outcome.REFUSED and resolved.reason is not None:
        return f"⛔ {reason_text(resolved.reason, lang)}"
    if kind is Outcome.FAILED and resolved.error is not None:
        return f"❌ {entry_for(resolved.error).title.get(lang)}"
    if resolved.stage is Stage.AWAITING:
        return f"✅ {t('fee_ready', lang)}"
    return t("resolved_refreshed", lang, stage=stage)


def _resolved_extra(record: OrderRecord, resolved: OrderOutcome, lang: Lang) -> list[Block]:
    kind, value = resolved.outcome, value_for(record)
    refetch = button(t("btn_refetch", lang), ids.REFETCH_ORDER, value)
    details = button(t("btn_details", lang), ids.SHOW_DETAILS, value)
    if kind is Outcome.FEE_RECORDED:
        return [section(numbered(MANUAL_FEE_STEPS, lang)), actions(refetch, details)]
    if kind is Outcome.ALREADY_CONFIRMED:
        return [context(t("already_advice", lang))]
    if kind is Outcome.FAILED and resolved.error is not None:
        entry = entry_for(resolved.error)
        elements = []
        if entry.retry and record.bundle_id is None:
            retry_action = ids.OPEN_FEE_MODAL if record.snapshot.fee_unset else ids.CONFIRM_ORDER
            elements.append(button(t("btn_retry", lang), retry_action, value, "primary"))
        elements += [refetch, details]
        return [*remedy_blocks(resolved.error, lang, with_title=False), actions(*elements)]
    if resolved.stage in (Stage.PROCESSING, Stage.SENDING) or kind is Outcome.PENDING:
        return [context(t("processing_next", lang))]
    if resolved.stage is Stage.AWAITING and record.bundle_id is None:
        return [actions(confirm_button(record, lang), refetch, details)]
    if kind is Outcome.REFUSED:
        return [actions(refetch, details)]
    return []


def flag_card(
    record: OrderRecord,
    shop_name: str,
    api_option: bool,
    lang: Lang = "ja",
    *,
    resolved: OrderOutcome | None = None,
    now: datetime | None = None,
    actor: str | None = None,
    fees: Mapping[int, int] | None = None,
    note: str | None = None,
    url: str | None = None,
) -> Message:
    """The card for a 要対応 order, or — given ``resolved`` — the outcome that replaces it.

    ``now`` enables 「あと N 日」 and the red deadline line; ``actor`` is who resolved it;
    ``fees`` (basketId → yen) names the fee just entered when the record does not hold it yet;
    ``note`` is news shown on top of an unresolved card (who did what last).
    """
    if resolved is None:
        return _full_card(record, shop_name, api_option, lang, now, note=note, url=url)
    still_unset = resolved.reason in (Reason.FEE_STILL_UNSET, Reason.BAD_FEE) or (
        resolved.outcome is Outcome.REFRESHED and resolved.stage is Stage.NEEDS_ACTION
    )
    line = _resolved_line(record, resolved, api_option, lang, actor, fees)
    if still_unset:  # nothing was resolved: keep the whole actionable card, with the news on top
        return _full_card(record, shop_name, api_option, lang, now, note=line)
    summary = " · ".join(
        [f"`{record.number}`", escape(shop_name), orderer_text(record.snapshot.orderer)]
    )
    blocks = [section(line), context(summary), *_resolved_extra(record, resolved, lang)]
    return message(f"{line} {record.number}", blocks)


def _confirmed_text(record: OrderRecord, lang: Lang) -> str:
    if not record.confirmed_by and record.confirmed_at is None:
        return "—"
    return f"{who(record.confirmed_by, lang)} {jst(record.confirmed_at, lang)}"


_FEE_FIELDS: dict[str, tuple[str, str]] = {
    "postagePrice": ("送料 (注文全体)", "shipping fee (whole order)"),
    "deliveryPrice": ("代引料", "cash-on-delivery fee"),
    "paymentCharge": ("決済手数料", "payment fee"),
}


def unset_fees_text(record: OrderRecord, lang: Lang) -> str:
    """「送料 (注文全体), 送付先2の送料」: the unset fees in the staff's words."""
    order, names = record.snapshot, []
    for field in order.unset_fee_fields():
        if field in _FEE_FIELDS:
            ja, en = _FEE_FIELDS[field]
            names.append(en if lang == "en" else ja)
    for index, package in enumerate(order.packages, 1):
        if package.postage_price == UNSET_FEE and len(order.packages) > 1:
            names.append(t("package_fee", lang, i=index))
    return ", ".join(dict.fromkeys(names))


def _progress_text(progress: int, lang: Lang) -> str:
    from handlers.render.alerts import progress_label

    return f"{progress_label(progress, lang)} ({progress})"


def order_details(
    record: OrderRecord, lang: Lang = "ja", *, now: datetime | None = None, api_option: bool = False
) -> Message:
    """Everything about one order, for the 詳細 button (sent ephemeral); the fee steps are the
    ones of the shop's API option."""
    order = record.snapshot
    title = t("details_title", lang, number=record.number)
    extra = [
        f"*{t('progress_code', lang)}*\n{_progress_text(order.progress, lang)}",
        f"*{t('delivery_method', lang)}*\n{escape(order.delivery_name) or '—'}",
        f"*{t('confirmed_at_rms', lang)}*\n{jst(order.confirmed_at, lang)}",
        f"*{t('fixed_at', lang)}*\n{jst(order.fixed_at, lang)}",
        f"*{t('confirmed_by', lang)}*\n{_confirmed_text(record, lang)}",
        f"*{t('bundle', lang)}*\n{escape(record.bundle_id or '—')}",
    ]
    if record.intended_fees:
        extra.append(f"*{t('intended_fees', lang)}*\n{fees_text(record, lang)}")
    if order.fee_unset:
        extra.append(f"*{t('unset_fields', lang)}*\n" + unset_fees_text(record, lang))
    if record.error_key or record.error_code:
        err = " ".join(escape(x) for x in (record.error_key, record.error_code) if x)
        extra.append(f"*{t('error', lang)}*\n{err} {escape(record.error_message)}".strip())
    blocks: list[Block] = [header(title), head_fields(record, lang, now), fields(extra)]
    blocks += [
        package_section(p, i, lang, item_limit=30, detailed=True)
        for i, p in enumerate(order.packages[:20], 1)
    ]
    blocks.append(totals_fields(order, lang))
    if order.remarks.strip():
        blocks += line_sections([f"*{t('remarks', lang)}*", escape(order.remarks)])[:3]
    if order.fee_unset:
        steps = (
            t("next_api", lang)
            if api_option
            else f"*{t('manual_title', lang)}*\n{numbered(MANUAL_FEE_STEPS, lang)}"
        )
        blocks += [
            divider(),
            section(steps),
            section(
                f"*{PREVENT_UNSET_FEE_TITLE.get(lang)}*\n{numbered(PREVENT_UNSET_FEE_STEPS, lang)}"
            ),
        ]
    return message(title, blocks[:MAX_BLOCKS])

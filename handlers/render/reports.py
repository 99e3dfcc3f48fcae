"""Per-order result lists for /confirm and /rms-status, the confirm-all prompt and progress."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from core.model import Stage
from core.outcomes import OrderOutcome, Outcome, Reason, Report
from core.remediation import lookup
from handlers.render import ids
from handlers.render.blocks import (
    Block,
    Message,
    actions,
    button,
    confirm_dialog,
    context,
    escape,
    header,
    message,
    section,
)
from handlers.render.i18n import (
    Lang,
    jst,
    outcome_label,
    reason_label,
    reason_text,
    stage_label,
    t,
    who,
    yen,
)
from handlers.render.i18n import count as n_orders
from handlers.render.remedy import (
    as_messages,
    entry_for,
    inline_steps,
    number_buttons,
    order_lines_split,
    thread_blocks,
)


@dataclass
class _Group:
    """Orders sharing one explanation (a reason or an error kind), with notes and buttons."""

    subtitle: str | None
    lines: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    buttons: list[Block] = field(default_factory=list)


@dataclass
class _Section:
    """A titled part of a report: ✅ 注文確認通知を送信 N件, ❌ エラー N件, …"""

    title: str
    groups: list[_Group]


def _detail(o: OrderOutcome, lang: Lang) -> str:
    """The outcome's detail in words: a stage it came from (if different), else as given."""
    if not o.detail:
        return ""
    try:
        before = Stage(o.detail)
    except ValueError:
        return f" ({escape(o.detail)})"
    if before is o.stage:
        return ""
    return f" ({t('was_stage', lang, stage=stage_label(before, lang))})"


def _line(o: OrderOutcome, text: str, lang: Lang = "ja") -> str:
    detail = _detail(o, lang)
    if o.fees:
        amounts = " + ".join(yen(o.fees[basket], lang) for basket in sorted(o.fees))
        detail += f" ({t('postage', lang)} {amounts})"
    return f"• `{o.order_number}` — {text}{detail}"


def _numbers(items: Sequence[OrderOutcome]) -> list[str]:
    return [o.order_number for o in items]


def _error_groups(shop: str, failed: Sequence[OrderOutcome], lang: Lang) -> list[_Group]:
    by_key: dict[str, list[OrderOutcome]] = {}
    for o in failed:
        entry = entry_for(o.error) if o.error else lookup("unknown")
        by_key.setdefault(entry.key, []).append(o)
    groups = []
    for key, items in by_key.items():
        entry = lookup(key)
        lines = []
        for o in items:
            raw = ""
            if o.error is not None:
                code = f"`{escape(o.error.code)}` " if o.error.code else ""
                raw = f"{code}{escape(o.error.message[:120])}".strip()
            lines.append(_line(o, raw or entry.title.get(lang), lang))
        groups.append(
            _Group(
                f"{entry.title.get(lang)} {n_orders(len(items), lang)}",
                lines,
                [t("steps_inline", lang, steps=inline_steps(entry.steps, lang))],
                number_buttons(
                    shop, _numbers(items), lang, retry=entry.retry, refetch=entry.refetch
                ),
            )
        )
    return groups


def _refused_groups(shop: str, refused: Sequence[OrderOutcome], lang: Lang) -> list[_Group]:
    groups: list[_Group] = []
    already = [o for o in refused if o.outcome is Outcome.ALREADY_CONFIRMED]
    if already:
        lines = [
            _line(o, t("already_line", lang, who=who(o.by, lang), when=jst(o.at, lang)), lang)
            for o in already
        ]
        title = f"{outcome_label(Outcome.ALREADY_CONFIRMED, lang)} {n_orders(len(already), lang)}"
        groups.append(_Group(title, lines, [t("already_advice", lang)]))
    by_reason: dict[Reason | None, list[OrderOutcome]] = {}
    for o in refused:
        if o.outcome is Outcome.REFUSED:
            by_reason.setdefault(o.reason, []).append(o)
    for reason, items in by_reason.items():
        label = reason_label(reason, lang) if reason else outcome_label(Outcome.REFUSED, lang)
        buttons: list[Block] = []
        if reason is Reason.CANCELLED:
            buttons = number_buttons(shop, _numbers(items), lang, retry=False, refetch=True)
        groups.append(
            _Group(
                f"{label} {n_orders(len(items), lang)}",
                [_line(o, label, lang) for o in items],
                [reason_text(reason, lang)] if reason else [],
                buttons,
            )
        )
    return groups


def _render(title: str, report: Report, sections: Sequence[_Section], lang: Lang) -> list[Message]:
    """Lay sections out in a main message; long lists and overflow go to thread replies."""
    total = n_orders(len(report.outcomes), lang)
    blocks: list[Block] = [
        header(title),
        context(t("report_by", lang, who=who(report.actor, lang), count=total)),
    ]
    thread: list[Block] = []
    for sec in sections:
        blocks.append(section(f"*{sec.title}*"))
        for group in sec.groups:
            if group.subtitle:
                blocks.append(section(f"_{escape(group.subtitle)}_"))
            listed, rest = order_lines_split(group.lines, lang)
            blocks += listed
            blocks += [context(note) for note in group.notes]
            blocks += group.buttons
            thread += thread_blocks(group.subtitle or sec.title, rest, lang)
    fallback = f"{title} ({total})"
    return as_messages(blocks, fallback) + as_messages(thread, t("continued", lang, title=title))


def _common_sections(report: Report, lang: Lang) -> list[_Section]:
    """The ⛔ / ❌ / ⏳ sections every report shares."""
    sections = []
    refused = [
        o for o in report.outcomes if o.outcome in (Outcome.REFUSED, Outcome.ALREADY_CONFIRMED)
    ]
    if refused:
        title = t("sec_refused", lang, count=n_orders(len(refused), lang))
        sections.append(_Section(title, _refused_groups(report.shop, refused, lang)))
    failed = report.by_outcome(Outcome.FAILED)
    if failed:
        title = t("sec_failed", lang, count=n_orders(len(failed), lang))
        sections.append(_Section(title, _error_groups(report.shop, failed, lang)))
    pending = report.by_outcome(Outcome.PENDING)
    if pending:
        lines = [_line(o, outcome_label(Outcome.PENDING, lang), lang) for o in pending]
        title = t("sec_pending", lang, count=n_orders(len(pending), lang))
        sections.append(_Section(title, [_Group(None, lines, [t("pending_next", lang)])]))
    return sections


_COMMON = (Outcome.REFUSED, Outcome.ALREADY_CONFIRMED, Outcome.FAILED, Outcome.PENDING)


def confirm_report(report: Report, lang: Lang = "ja", *, shop_name: str) -> list[Message]:
    """The result of /confirm or a confirm button: [main, *thread replies], nothing dropped."""
    sections: list[_Section] = []
    confirmed = report.by_outcome(Outcome.CONFIRMED)
    if confirmed:
        lines = [_line(o, stage_label(o.stage or Stage.PROCESSING, lang), lang) for o in confirmed]
        title = t("sec_confirmed", lang, count=n_orders(len(confirmed), lang))
        moving = any(o.stage in (None, Stage.SENDING, Stage.PROCESSING) for o in confirmed)
        notes = [t("processing_next", lang)] if moving else []  # a living report: never stale
        sections.append(_Section(title, [_Group(None, lines, notes)]))
    adopted = report.by_outcome(Outcome.ADOPTED)
    if adopted:
        lines = [_line(o, t("chg_adopted", lang) + _stage_suffix(o, lang), lang) for o in adopted]
        title = t("sec_adopted", lang, count=n_orders(len(adopted), lang))
        sections.append(_Section(title, [_Group(None, lines)]))
    sections += _common_sections(report, lang)
    others = [
        o
        for o in report.outcomes
        if o.outcome not in (*_COMMON, Outcome.CONFIRMED, Outcome.ADOPTED)
    ]
    if others:
        lines = [
            _line(o, outcome_label(o.outcome, lang) + _stage_suffix(o, lang), lang) for o in others
        ]
        title = t("sec_other", lang, count=n_orders(len(others), lang))
        sections.append(_Section(title, [_Group(None, lines)]))
    title = t("report_header_confirm", lang, shop=shop_name)
    return _render(title, report, sections, lang)


def _stage_suffix(o: OrderOutcome, lang: Lang) -> str:
    return f" ({stage_label(o.stage, lang)})" if o.stage else ""


_CHANGE = {
    Stage.PROCESSED: "chg_processed",
    Stage.PROCESSING: "chg_processing",
    Stage.CANCELLED: "chg_cancelled",
    Stage.AWAITING: "chg_awaiting",
    Stage.NEEDS_ACTION: "chg_needs_action",
    Stage.SENDING: "chg_sending",
    Stage.ERROR: "chg_error",
}
_STAGE_ORDER = (
    Stage.PROCESSED,
    Stage.PROCESSING,
    Stage.CANCELLED,
    Stage.AWAITING,
    Stage.NEEDS_ACTION,
    Stage.SENDING,
    Stage.ERROR,
)


def refetch_report(report: Report, lang: Lang = "ja", *, shop_name: str) -> list[Message]:
    """The result of /rms-status or a 再取得 button, grouped by the order's new stage."""
    by_stage: dict[Stage | None, list[str]] = {}
    unchanged = [o for o in report.outcomes if _unchanged(o)]
    several = len(report.outcomes) > 1
    for o in report.outcomes:
        if o.outcome in _COMMON or (several and _unchanged(o)):
            continue
        if _unchanged(o) and o.stage is not None:
            label = t("unchanged_one", lang, stage=stage_label(o.stage, lang))
            by_stage.setdefault(o.stage, []).append(_line(o, label, lang))
            continue
        change = t(_CHANGE[o.stage], lang) if o.stage else outcome_label(o.outcome, lang)
        if o.outcome is Outcome.ADOPTED:
            change = t("chg_adopted", lang) + _stage_suffix(o, lang)
        by_stage.setdefault(o.stage, []).append(_line(o, change, lang))
    sections = []
    for stage in (*_STAGE_ORDER, None):
        lines = by_stage.get(stage)
        if not lines:
            continue
        label = stage_label(stage, lang, emoji=True) if stage else t("sec_other", lang, count="")
        title = t("sec_stage", lang, label=label.strip(), count=n_orders(len(lines), lang))
        sections.append(_Section(title, [_Group(None, lines)]))
    sections += _common_sections(report, lang)
    if several and unchanged:  # one line for everything RMS still shows as it was
        counts: dict[Stage, int] = {}
        for o in unchanged:
            if o.stage is not None:
                counts[o.stage] = counts.get(o.stage, 0) + 1
        parts = " · ".join(
            f"{stage_label(stage, lang)} {n_orders(counts[stage], lang)}"
            for stage in _STAGE_ORDER
            if stage in counts
        )
        line = t("unchanged_many", lang, count=n_orders(len(unchanged), lang), parts=parts)
        sections.append(_Section(line, []))
    title = t("report_header_refetch", lang, shop=shop_name)
    return _render(title, report, sections, lang)


def _unchanged(o: OrderOutcome) -> bool:
    """A re-fetch that found the order as the bot already knew it."""
    return o.outcome is Outcome.REFRESHED and o.stage is not None and o.detail == o.stage.value


def confirm_all_prompt(
    count: int, excluded: Mapping[Reason, int], shop_name: str, lang: Lang = "ja", value: str = ""
) -> Message:
    """「注文確認待ち 12件 に注文確認通知を送信しますか？ (除外: 送料未設定 2件, 同梱 1件)」."""
    skipped = ", ".join(
        f"{reason_label(reason, lang)} {n_orders(n, lang)}" for reason, n in excluded.items() if n
    )
    excluded_text = f"\n{t('excluded', lang, items=skipped)}" if skipped else ""
    shop = escape(shop_name)
    if count <= 0:
        text = t("nothing_to_confirm", lang, shop=shop) + excluded_text
        return message(text, [section(text)])
    n = n_orders(count, lang)
    question = t("confirm_all_question", lang, shop=shop, count=n) + excluded_text
    dialog = confirm_dialog(
        t("dialog_title", lang),
        t("dialog_text", lang, count=n),
        t("dialog_yes", lang),
        t("dialog_no", lang),
        style="primary",
    )
    buttons = actions(
        button(t("btn_confirm_all", lang, count=n), ids.CONFIRM_ALL, value, "primary", dialog),
        button(t("btn_cancel", lang), ids.CANCEL_ALL, value),
    )
    blocks = [section(question), context(t("confirm_all_note", lang)), buttons]
    return message(question.replace("*", ""), blocks)


def progress_message(done: int, total: int, lang: Lang = "ja") -> Message:
    """「注文確認通知を送信中… 100/250」 with a bar, for editing one message in place."""
    total = max(total, 0)
    done = min(max(done, 0), total) if total else max(done, 0)
    width = 20
    filled = round(width * done / total) if total else width
    bar = "▓" * filled + "░" * (width - filled)
    key = "progress_done" if total and done >= total else "progress"
    text = t(key, lang, done=done, total=total)
    return message(text, [section(f"{text}\n`{bar}`")])

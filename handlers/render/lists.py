"""Ephemeral lists (/rms pending, /rms flagged), /rms help and input errors."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta

from core.model import OrderRecord
from handlers.render import ids
from handlers.render.blocks import (
    Block,
    Message,
    button,
    context,
    escape,
    header,
    line_sections,
    message,
    section,
)
from handlers.render.i18n import (
    Lang,
    age,
    count,
    days_left,
    due_text,
    flag_reason_text,
    jst,
    jst_date,
    stage_label,
    t,
)
from handlers.render.order_view import person_name, value_for

MAX_LISTED = 20


def _when(record: OrderRecord, lang: Lang, now: datetime | None) -> str:
    """「注文から13日 · 確認期限まで1日 (11/29)」: RMS's order time and cancelDueDate, never the
    bot's own bookkeeping (a restarted bot must not make an old order look new)."""
    order = record.snapshot
    parts = [f"{t('ordered_at', lang)} {jst(order.ordered_at, lang)}"]
    if now is not None:
        fresh = now - order.ordered_at < timedelta(minutes=1)
        since = age(order.ordered_at, now, lang)
        parts.append(t("age_new", lang) if fresh else t("age", lang, age=since))
    if order.cancel_due is not None:
        if now is None:
            parts.append(f"{t('cancel_due', lang)} {due_text(order.cancel_due, now, lang)}")
        else:
            left = days_left(order.cancel_due, now)
            key = "due_in" if left > 0 else ("due_in_today" if left == 0 else "due_passed")
            parts.append(f"{t(key, lang, n=left)} ({jst_date(order.cancel_due, lang)})")
    return " · ".join(parts)


def _more(records: Sequence[OrderRecord], lang: Lang) -> list[Block]:
    rest = len(records) - MAX_LISTED
    return [context(t("more", lang, n=rest))] if rest > 0 else []


def pending_list(
    records: Sequence[OrderRecord],
    lang: Lang = "ja",
    shop_name: str = "",
    *,
    now: datetime | None = None,
) -> Message:
    """/rms pending: orders awaiting confirmation (number, stage, age / deadline), max 20."""
    title = t("pending_title", lang, shop=escape(shop_name), count=count(len(records), lang))
    if not records:
        return message(title, [section(f"*{title}*\n{t('empty_pending', lang)}")])
    lines = [
        f"• `{r.number}` — {stage_label(r.stage, lang, emoji=True)} · {_when(r, lang, now)}"
        for r in records[:MAX_LISTED]
    ]
    blocks = [section(f"*{title}*"), *line_sections(lines), *_more(records, lang)]
    return message(title, blocks)


def _flag_button(record: OrderRecord, lang: Lang) -> dict[str, object]:
    value = value_for(record)
    if record.snapshot.fee_unset and record.bundle_id is None:
        return button(t("btn_fee", lang), ids.OPEN_FEE_MODAL, value, "primary")
    return button(t("btn_details", lang), ids.SHOW_DETAILS, value)


def flagged_list(
    records: Sequence[OrderRecord],
    lang: Lang = "ja",
    shop_name: str = "",
    *,
    now: datetime | None = None,
) -> Message:
    """/rms flagged: 要対応 orders, each with its 送料を入力 button (details when bundled)."""
    title = t("flagged_title", lang, shop=escape(shop_name), count=count(len(records), lang))
    if not records:
        return message(title, [section(f"*{title}*\n{t('empty_flagged', lang)}")])
    blocks: list[Block] = [section(f"*{title}*")]
    for r in records[:MAX_LISTED]:
        bundled = " · 📦" if r.bundle_id else ""
        text = (
            f"`{r.number}` — {flag_reason_text(r.flag_reason, lang)}{bundled}\n"
            f"{person_name(r.snapshot.orderer)} · {_when(r, lang, now)}"
        )
        blocks.append(section(text, accessory=_flag_button(r, lang)))
    return message(title, blocks + _more(records, lang))


_HELP: dict[str, tuple[tuple[str, str, str], ...]] = {
    # (command, ja, en)
    "commands": (
        (
            "/confirm 123456-20261128-0000000001 …",
            "注文確認通知を送信します (複数可・スペース区切り)",
            "Send the order confirmation (several numbers, space-separated)",
        ),
        (
            "/confirm all [shop]",
            "注文確認待ちの全注文に一括で送信します (確認ボタンが出ます)",
            "Confirm every order awaiting confirmation (asks first)",
        ),
        (
            "/rms-status <番号…|all> [shop]",
            "RMSステータスを取得し、結果の取得 (5分おき) に戻します",
            "Re-fetch the RMS status and put the orders back into result polling",
        ),
        (
            "/rms pending [shop]",
            "注文確認待ちの注文を表示します",
            "List orders awaiting confirmation",
        ),
        (
            "/rms flagged [shop]",
            "要対応 (送料未設定など) の注文を表示します",
            "List orders that need action (fee not set, …)",
        ),
        (
            "/rms held [shop]",
            "自動確認で保留中の注文を古い順に表示します (理由・確認期限つき)",
            "List orders auto-confirm held, oldest first (reasons, deadline)",
        ),
        (
            "/rms auto [shop] on|off|dry-run|status · /rms auto pause|resume",
            "自動確認の切り替え (管理者のみ)・全店舗の一時停止と再開",
            "Switch auto-confirm (admins only); pause or resume it in every shop",
        ),
        (
            "/rms candidates [shop]",
            "同梱候補 (同じ注文者・同じお届け先の注文確認待ち) を表示します",
            "List bundle candidates (same orderer and destination, awaiting confirmation)",
        ),
        (
            "/rms bundle A B [shop]",
            "注文を同梱します (送料修正・注文確認の後に)",
            "Bundle orders (after fees are fixed and they are confirmed)",
        ),
        (
            "/rms unbundle A [shop]",
            "同梱を解除します (同梱後の変更は解除してから)",
            "Unbundle (required before changing a bundled order)",
        ),
        ("/rms summary [shop]", "本日のまとめを表示します", "Show today's summary"),
        (
            "/rms license [shop]",
            "新しいライセンスキーを登録します (画面で入力・暗号化して保存)",
            "Enter a new licence key (in a form; stored encrypted)",
        ),
        ("/rms help", "この説明を表示します", "Show this help"),
    ),
}

_HELP_NOTE = (
    "注文確認は一度しかできません。必ず【楽天処理済】に変わってから発送してください。"
    "[shop] は店舗のキーか表示名 (例: `main` または `メイン店`)。"
    "省略するとこのチャンネルの店舗です。",
    "An order can be confirmed only once. Ship only after it shows Rakuten processed. "
    "[shop] is a shop's key or display name (e.g. `main`); without it, this channel's shop.",
)


def _command(cmd: str, lang: Lang) -> str:
    return cmd.replace("番号", "numbers") if lang == "en" else cmd


def help_message(lang: Lang = "ja") -> Message:
    """/rms help: every command with an example."""
    lines = [
        f"`{_command(cmd, lang)}`\n      {en if lang == 'en' else ja}"
        for cmd, ja, en in _HELP["commands"]
    ]
    title = t("help_title", lang)
    note = _HELP_NOTE[1] if lang == "en" else _HELP_NOTE[0]
    return message(title, [header(title), *line_sections(lines), context(note)])


def error_message(text: str, lang: Lang = "ja") -> Message:
    """An ephemeral input error; ``text`` is shown escaped (it may quote what the user typed)."""
    shown = t("error_prefix", lang, text=escape(text))
    return message(shown, [section(shown)])


def bad_order_number(token: str, lang: Lang = "ja") -> Message:
    """「注文番号の形式が正しくありません: 12345-2026-1 (例: …)」."""
    return error_message(t("err_bad_number", lang, token=token), lang)

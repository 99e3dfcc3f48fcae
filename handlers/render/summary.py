"""The daily summary for managers: per shop and total, with the change since the day before."""

from __future__ import annotations

from datetime import date, datetime

from core.licenses import LICENSE_WARN_DAYS
from core.remediation import lookup
from core.summary import NEAR_CANCEL_DAYS, DailySummary, ShopDay
from handlers.render.blocks import (
    Block,
    Message,
    context,
    divider,
    escape,
    fields,
    header,
    message,
    section,
    split_blocks,
)
from handlers.render.held import hold_reason_text
from handlers.render.i18n import Lang, age, catalogue, count, t, who

MAX_ACTORS = 5

_TEXTS: dict[str, tuple[str, str]] = {
    "header_today": ("📊 本日のサマリー {day}", "📊 Today's summary {day}"),
    "header_day": ("📊 {day} のサマリー", "📊 Summary for {day}"),
    "all_clear": ("✅ 対応が必要な注文はありません", "✅ No orders need action"),
    "quiet": ("本日は注文の動きはありませんでした。", "No order activity today."),
    "attention": ("⚠️ 対応が必要な注文: {items}", "⚠️ Orders that need action: {items}"),
    "total": ("合計 ({n}店舗)", "Total ({n} shops)"),
    "new": ("🆕 新規注文", "🆕 New orders"),
    "confirmed": ("📤 注文確認", "📤 Confirmed"),
    "processed": ("✅ 楽天処理済", "✅ Rakuten processed"),
    "processing": ("⏳ 楽天処理中", "⏳ Rakuten processing"),
    "cancelled": ("🚫 キャンセル", "🚫 Cancelled"),
    "needs_action": ("⚠️ 要対応", "⚠️ Needs action"),
    "errors": ("❌ エラー", "❌ Errors"),
    "near_cancel": ("🔴 自動キャンセル間近 ({n}日以内)", "🔴 Near auto-cancel (≤ {n} days)"),
    "awaiting": ("🕒 注文確認待ち", "🕒 Awaiting confirmation"),
    "license": ("🔑 ライセンスキー", "🔑 Licence key"),
    "delta": ("前日比 {d}", "{d} vs the day before"),
    "oldest": ("最長 {age}", "oldest {age}"),
    "more_actors": ("他{n}名", "{n} more"),
    "lic_left": ("あと{n}日 ({date}まで)", "{n} days left (until {date})"),
    "lic_today": ("本日まで", "expires today"),
    "lic_expired": ("⛔ 期限切れ", "⛔ expired"),
    "lic_unknown": ("未確認", "not checked"),
    "more_shops": ("…他{n}店舗は省略しました", "…{n} more shops not shown"),
    "fallback": ("本日のサマリー {day}", "Daily summary {day}"),
}

_WEEKDAYS = ("月", "火", "水", "木", "金", "土", "日")
_WEEKDAYS_EN = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")


_t = catalogue(_TEXTS)


def day_label(day: date, lang: Lang = "ja") -> str:
    """11/28 (土) / Sat 11/28."""
    if lang == "en":
        return f"{_WEEKDAYS_EN[day.weekday()]} {day.month}/{day.day}"
    return f"{day.month}/{day.day} ({_WEEKDAYS[day.weekday()]})"


def _delta(now: int, before: int | None, lang: Lang) -> str:
    if before is None or (now == 0 and before == 0):
        return ""
    diff = now - before
    sign = "±0" if diff == 0 else f"{diff:+d}"
    return f" ({_t('delta', lang, d=sign)})"


def _figure(label: str, n: int, before: int | None, lang: Lang, extra: str = "") -> str:
    return f"*{label}*\n{count(n, lang)}{_delta(n, before, lang)}{extra}"


def _license(day: ShopDay, lang: Lang) -> str:
    left = day.license_days_left
    if left is None:
        return _t("lic_unknown", lang)
    if left < 0:
        return _t("lic_expired", lang)
    if left == 0:
        return f"⚠️ {_t('lic_today', lang)}"
    expires = day.license_expires
    date_text = f"{expires.month}/{expires.day}" if expires else "—"
    text = _t("lic_left", lang, n=left, date=date_text)
    return f"⚠️ {text}" if left <= LICENSE_WARN_DAYS else text


def _actors(day: ShopDay, lang: Lang) -> str:
    shown = [f"{who(actor)} {n}" for actor, n in day.confirmed_by[:MAX_ACTORS]]
    hidden = len(day.confirmed_by) - MAX_ACTORS
    if hidden > 0:
        shown.append(_t("more_actors", lang, n=hidden))
    return " · ".join(shown)


def _automation(day: ShopDay, lang: Lang) -> str:
    """Auto-confirmed / by a person / held (top reasons) / auto fee, when automation ran."""
    auto = dict(day.confirmed_by).get("auto", 0)
    if not (auto or day.held_orders or day.auto_fee):
        return ""
    top = ", ".join(f"{hold_reason_text(r, lang)} {n}" for r, n in day.held[:3])
    return "\n" + t(
        "summary_auto",
        lang,
        auto=auto,
        person=day.confirmed - auto,
        held=day.held_orders,
        top=f" ({top})" if top else "",
        fee=day.auto_fee,
    )


def _errors(day: ShopDay, lang: Lang) -> str:
    return " · ".join(f"{escape(lookup(key).title.get(lang))} {n}" for key, n in day.errors[:5])


def _oldest(since: datetime | None, now: datetime, lang: Lang) -> str:
    return f" — {_t('oldest', lang, age=age(since, now, lang))}" if since else ""


def shop_fields(day: ShopDay, now: datetime, lang: Lang) -> list[str]:
    """The ten figures of one shop (or the total) as Block Kit fields."""
    prev = day.previous
    state = prev if prev is not None and prev.has_state else None
    actors, errors = _actors(day, lang), _errors(day, lang)

    def before(name: str, stateful: bool = False) -> int | None:
        source = state if stateful else prev
        return None if source is None else int(getattr(source, name))

    return [
        _figure(_t("new", lang), day.new, before("new"), lang),
        _figure(
            _t("confirmed", lang),
            day.confirmed,
            before("confirmed"),
            lang,
            (f"\n{actors}" if actors else "") + _automation(day, lang),
        ),
        _figure(_t("processed", lang), day.processed, before("processed"), lang),
        _figure(
            _t("processing", lang),
            day.processing,
            before("processing", True),
            lang,
            _oldest(day.processing_since, now, lang),
        ),
        _figure(_t("cancelled", lang), day.cancelled, before("cancelled"), lang),
        _figure(
            _t("needs_action", lang),
            day.needs_action,
            before("needs_action", True),
            lang,
            _oldest(day.needs_action_since, now, lang),
        ),
        _figure(
            _t("errors", lang),
            day.error_count,
            None if prev is None else prev.error_count,
            lang,
            f"\n{errors}" if errors else "",
        ),
        _figure(
            _t("near_cancel", lang, n=NEAR_CANCEL_DAYS),
            day.near_cancel,
            before("near_cancel", True),
            lang,
        ),
        _figure(_t("awaiting", lang), day.awaiting, before("awaiting", True), lang),
        f"*{_t('license', lang)}*\n{_license(day, lang)}",
    ]


def _attention(day: ShopDay, lang: Lang) -> str:
    if day.attention == 0:
        return _t("all_clear", lang)
    items = [
        f"{_t(key, lang, n=NEAR_CANCEL_DAYS).split(' ', 1)[1]} {count(n, lang)}"
        for key, n in (
            ("needs_action", day.needs_action),
            ("errors", day.error_orders),
            ("near_cancel", day.near_cancel),
        )
        if n
    ]
    return _t("attention", lang, items=" · ".join(items))


def summary_messages(summary: DailySummary, lang: Lang = "ja") -> list[Message]:
    """[main message, *thread replies]: every shop, each message within Slack's limits."""
    label = day_label(summary.day, lang)
    title = _t("header_today" if summary.is_today else "header_day", lang, day=label)
    now = summary.generated_at
    blocks: list[Block] = [header(title), section(f"*{_attention(summary.total, lang)}*")]
    if summary.quiet:
        blocks.append(context(_t("quiet", lang)))
        lines = [
            f"*{escape(d.name)}* — {_t('license', lang)}: {_license(d, lang)}"
            for d in summary.shops
        ]
        blocks += [context(*lines[i : i + 10]) for i in range(0, len(lines), 10)]
    else:
        if len(summary.shops) > 1:
            total_name = _t("total", lang, n=len(summary.shops))
            blocks.append(fields(shop_fields(summary.total, now, lang), text=f"*{total_name}*"))
        for day in summary.shops:
            blocks += [divider(), fields(shop_fields(day, now, lang), text=f"*{escape(day.name)}*")]
    fallback = f"{_t('fallback', lang, day=label)} — {_attention(summary.total, lang)}"
    return [message(fallback, chunk) for chunk in split_blocks(blocks)]


def summary_message(summary: DailySummary, lang: Lang = "ja") -> Message:
    """One message (e.g. the ephemeral `/rms summary`); extra shops are named as left out."""
    messages = summary_messages(summary, lang)
    main = messages[0]
    if len(messages) > 1:
        shown = sum(1 for b in main["blocks"] if b.get("type") == "section" and "fields" in b)
        left = len(summary.shops) + (1 if len(summary.shops) > 1 else 0) - shown
        note = context(_t("more_shops", lang, n=max(left, 0)))
        blocks = [*main["blocks"][:49], note]
        main = message(main["text"], blocks)
    return main

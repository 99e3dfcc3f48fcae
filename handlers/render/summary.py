"""The daily summary for managers: per shop and total, with the change since the day before."""

from __future__ import annotations

from datetime import date, datetime

from core.licenses import LICENSE_WARN_DAYS
from core.model import Stage
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
    line_sections,
    message,
    section,
    split_blocks,
)
from handlers.render.held import hold_reason_text
from handlers.render.i18n import (
    Lang,
    age,
    catalogue,
    count,
    flag_reason_text,
    stage_label,
    t,
    who,
    yen,
)

MAX_ACTORS = 5

_TEXTS: dict[str, tuple[str, str]] = {
    "header_today": ("📊 本日のサマリー {day}", "📊 Today's summary {day}"),
    "header_day": ("📊 {day} のサマリー", "📊 Summary for {day}"),
    "all_clear": ("✅ 対応が必要な注文はありません", "✅ No orders need action"),
    "quiet": ("本日は注文の動きはありませんでした。", "No order activity today."),
    "attention": ("⚠️ 対応が必要な注文: {items}", "⚠️ Orders that need action: {items}"),
    "total": ("合計 ({n}店舗)", "Total ({n} shops)"),
    "new": ("🆕 受注", "🆕 Orders received"),
    "amount": ("受注金額 {yen}", "amount {yen}"),
    "by_bot": ("ボットで確認 {n}", "confirmed by the bot {n}"),
    "in_rms": ("RMSで直接確認 {n}", "confirmed directly in RMS {n}"),
    "lead": (
        "⏱ 中央値: 注文→確認 {first} · 確認→楽天処理済 {second}",
        "⏱ Median: order → confirmation {first} · confirmation → Rakuten processed {second}",
    ),
    "waiting_title": ("*対応が必要な注文 {n}*", "*Orders that need action: {n}*"),
    "waiting_line": (
        "• `{number}` — {why} · 注文から{age}",
        "• `{number}` — {why} · ordered {age} ago",
    ),
    "waiting_more": ("…他{n}件 (`/rms flagged`)", "…{n} more (`/rms flagged`)"),
    "fees_title": ("*💴 承認された送料*", "*💴 Fees approved*"),
    "fee_line": ("• `{number}` {fees} — {who} ({how})", "• `{number}` {fees} — {who} ({how})"),
    "fee_api": ("RMSに書き込み済み", "written to RMS"),
    "fee_manual": ("RMSで修正", "fixed in RMS"),
    "license_of": ("🔑 ライセンスキー ({shop})", "🔑 Licence key ({shop})"),
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


def _duration(minutes: int | None, lang: Lang) -> str:
    if minutes is None:
        return "—"
    return t("minutes", lang, n=minutes) if minutes < 120 else t("hours", lang, n=minutes // 60)


def detail_blocks(day: ShopDay, now: datetime, lang: Lang, order_url: str = "") -> list[Block]:
    """Lead times, the orders to act on (with age and a link) and the fees approved."""
    d = day.detail
    blocks: list[Block] = []
    if d.to_confirm is not None or d.to_processed is not None:
        lead = _t(
            "lead",
            lang,
            first=_duration(d.to_confirm, lang),
            second=_duration(d.to_processed, lang),
        )
        blocks.append(context(lead))
    if d.waiting:
        lines = [_t("waiting_title", lang, n=count(d.waiting_total, lang))]
        for w in d.waiting:
            why = flag_reason_text(w.reason, lang) if w.stage is Stage.NEEDS_ACTION else ""
            why = why or stage_label(w.stage, lang)
            line = _t(
                "waiting_line", lang, number=w.number, why=why, age=age(w.ordered_at, now, lang)
            )
            if order_url:
                link = order_url.replace("{order_number}", w.number)
                line += f" · <{link}|{t('open_in_rms', lang)}>"
            lines.append(line)
        if d.waiting_total > len(d.waiting):
            lines.append(_t("waiting_more", lang, n=d.waiting_total - len(d.waiting)))
        blocks += line_sections(lines)
    if d.fees:
        lines = [_t("fees_title", lang)]
        for f in d.fees[:10]:
            amounts = " / ".join(yen(v, lang) for v in f.fees) or "—"
            how = _t("fee_api" if f.via_api else "fee_manual", lang)
            lines.append(
                _t("fee_line", lang, number=f.number, fees=amounts, who=who(f.actor, lang), how=how)
            )
        blocks += line_sections(lines)
    return blocks


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
    people = [(actor, n) for actor, n in day.confirmed_by if actor.lower() != "rms"]
    shown = [f"{who(actor, lang)} {n}" for actor, n in people[:MAX_ACTORS]]
    hidden = len(people) - MAX_ACTORS
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
    # compare only with a day the bot saw whole (its summary was built): never 前日比 on day one
    prev = day.previous if day.previous is not None and day.previous.has_state else None
    state = prev
    actors, errors = _actors(day, lang), _errors(day, lang)

    def before(name: str, stateful: bool = False) -> int | None:
        source = state if stateful else prev
        return None if source is None else int(getattr(source, name))

    return [
        _figure(
            _t("new", lang),
            day.new,
            before("new"),
            lang,
            f"\n{_t('amount', lang, yen=yen(day.detail.amount, lang))}",
        ),
        _figure(
            _t("confirmed", lang),
            day.confirmed,
            before("confirmed"),
            lang,
            f"\n{_confirmed_how(day, lang)}"
            + (f"\n{actors}" if actors else "")
            + _automation(day, lang),
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
            _oldest(_oldest_order(day), now, lang),
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
        f"*{_license_label(day, lang)}*\n{_license(day, lang)}",
    ]


def _license_label(day: ShopDay, lang: Lang) -> str:
    shop = day.license_shop or day.name
    return _t("license_of", lang, shop=escape(shop)) if shop else _t("license", lang)


def _oldest_order(day: ShopDay) -> datetime | None:
    """The oldest order needing action, by RMS's order time (not when the bot first saw it)."""
    times = [w.ordered_at for w in day.detail.waiting if w.stage is Stage.NEEDS_ACTION]
    return min(times, default=None)


def _confirmed_how(day: ShopDay, lang: Lang) -> str:
    in_rms = sum(n for actor, n in day.confirmed_by if actor.lower() == "rms")
    by_bot = day.confirmed - in_rms
    return " · ".join(
        [_t("by_bot", lang, n=count(by_bot, lang)), _t("in_rms", lang, n=count(in_rms, lang))]
    )


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


def summary_messages(
    summary: DailySummary, lang: Lang = "ja", *, order_url: str = ""
) -> list[Message]:
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
            blocks += detail_blocks(day, now, lang, order_url)
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

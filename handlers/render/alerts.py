"""Shop-level alerts: licence key lifecycle, RMS health and the acquisition-status warning."""

from __future__ import annotations

from datetime import datetime

from core.licenses import KEY_NOT_ACTIVE
from core.remediation import CATALOGUE, lookup
from handlers.render.blocks import Block, Message, context, escape, header, message, section
from handlers.render.i18n import Lang, catalogue, to_jst
from handlers.render.remedy import numbered

_TEXTS: dict[str, tuple[str, str]] = {
    "warn_header": (
        "🔑 ライセンスキーの期限まであと{n}日 — {shop}",
        "🔑 Licence key expires in {n} days — {shop}",
    ),
    "warn_today_header": (
        "🔑 ライセンスキーの期限は本日までです — {shop}",
        "🔑 Licence key expires today — {shop}",
    ),
    "warn_body": (
        "*{shop}* のRMSライセンスキー (licenseKey) は *{date} 23:59* に期限切れになります。"
        "期限が切れるとRMSとの連携 (注文の取得・注文確認通知) が止まります。",
        "The RMS licence key of *{shop}* expires at *{date} 23:59* JST. After that the bot can "
        "no longer fetch or confirm orders.",
    ),
    "expired_header": (
        "⛔ ライセンスキーの期限が切れました — {shop}",
        "⛔ Licence key expired — {shop}",
    ),
    "expired_body": (
        "RMSが *{shop}* のライセンスキーを受け付けません (認証エラー)。{when}"
        "注文の取得と注文確認通知は、新しいキーに更新するまで止まっています。",
        "RMS refuses the licence key of *{shop}* (authentication error).{when} Fetching and "
        "confirming orders is stopped until the key is renewed.",
    ),
    "expired_when": ("(期限: {date}) ", " (Expiry: {date}.)"),
    "renew_title": ("更新の手順", "How to renew"),
    "renew_auto": (
        "貼り付けた後はボットが新しいキーを自動で確認し、使えるようになったらお知らせします "
        "(反映まで5〜30分)。それまでは今のキーを使い続けます。",
        "After you paste it the bot checks the new key by itself and tells you when it works "
        "(5–30 minutes). Until then it keeps using the current key.",
    ),
    "renewed_header": (
        "✅ ライセンスキーを更新しました — {shop}",
        "✅ Licence key renewed — {shop}",
    ),
    "renewed_body": (
        "新しいキーが使えるようになりました。有効期限: *{date} 23:59*",
        "The new key works. Valid until *{date} 23:59* JST.",
    ),
    "check_header": (
        "⚠️ ライセンスキーの有効期限を確認できませんでした — {shop}",
        "⚠️ Could not check the licence key expiry — {shop}",
    ),
    "check_temporary": (
        "RMSの一時的なエラーの可能性があります ({title})。次回の確認でもう一度試します。",
        "This may be a temporary RMS error ({title}); the bot tries again at the next check.",
    ),
    "check_repeats": ("繰り返し確認できない場合", "If it keeps failing"),
    "not_active_header": (
        "⚠️ 新しいライセンスキーが使えません — {shop}",
        "⚠️ The new licence key does not work — {shop}",
    ),
    "not_active_body": (
        "貼り付けた新しいキーは60分たってもRMSに受け付けられませんでした。"
        "今までのキーを使い続けています。",
        "RMS still refused the pasted key after 60 minutes. The bot keeps using the old key.",
    ),
    "not_active_steps": (
        "RMSの「ライセンスキーの確認・変更」で表示されるキーと同じか確認してください",
        "Check that it is the key shown in RMS 「ライセンスキーの確認・変更」",
    ),
    "not_active_again": (
        "もう一度 `/rms license` で貼り付けてください",
        "Paste it again with `/rms license`",
    ),
    "unhealthy_header": (
        "🔴 RMSとの連携でエラーが続いています — {shop}",
        "🔴 RMS keeps failing — {shop}",
    ),
    "unhealthy_note": (
        "回復するまで、ボットは間隔をあけて自動で再試行します。回復したらお知らせします。",
        "The bot keeps retrying at a safe pace and tells you when RMS recovers.",
    ),
    "recovered": ("🟢 RMSとの連携が回復しました — {shop}", "🟢 RMS works again — {shop}"),
    "recovered_was": ("(直前のエラー: {title})", "(it was: {title})"),
    "code": ("RMSのコード: `{code}`", "RMS code: `{code}`"),
    "acq_header": ("⚠️ 取得ステータスの確認 — {shop}", "⚠️ Order acquisition status — {shop}"),
    "acq_body": (
        "*{shop}* は [{status}] から注文を取得する設定です (取得日数: {days}日)。\n"
        "• 基本的には [注文確認待ち] から取得してください。\n"
        "• 発送待ちから取得する場合は取得日数にご注意ください "
        "(入金後にステータスが変更されるため、古い注文が取得されないことがあります)。",
        "*{shop}* fetches orders from [{status}] (days back: {days}).\n"
        "• Normally fetch from [注文確認待ち] (awaiting confirmation).\n"
        "• When fetching from 発送待ち (awaiting shipment), mind the days-back window: orders "
        "move there only after payment, so older ones can be missed.",
    ),
    "dead_header": (
        "📮 Slackに投稿できないメッセージがあります — {shop}",
        "📮 A message could not be posted to Slack — {shop}",
    ),
    "dead_body": (
        "<#{channel}> への投稿 ({what}) をSlackが受け付けませんでした (`{error}`)。"
        "このメッセージは再送しません。他のチャンネルへの投稿は続いています。",
        "Slack refused a post ({what}) to <#{channel}> (`{error}`). This message will not be "
        "sent again; posts to other channels go on.",
    ),
    "dead_steps": (
        "チャンネルがアーカイブ・削除されていないか、非公開チャンネルならボットが招待されているかを"
        "確認してください。このチャンネルへの投稿が再び成功するまで、このお知らせは1回だけです。",
        "Check that the channel is not archived or deleted and, if it is private, that the bot "
        "is invited. You get this alert once until a post to that channel works again.",
    ),
}

_PROGRESS: dict[int, tuple[str, str]] = {
    100: ("注文確認待ち", "awaiting confirmation"),
    200: ("楽天処理中", "Rakuten processing"),
    300: ("発送待ち", "awaiting shipment"),
    400: ("変更確定待ち", "awaiting change"),
    500: ("発送済", "shipped"),
    600: ("支払手続き中", "payment in progress"),
    700: ("支払手続き済", "payment done"),
    800: ("キャンセル確定待ち", "cancel pending"),
    900: ("キャンセル確定", "cancelled"),
}


def progress_label(progress: int, lang: Lang) -> str:
    """RMS's name of an orderProgress code (注文確認待ち, …), in the staff's language."""
    pair = _PROGRESS.get(progress, (str(progress), str(progress)))
    return pair[1] if lang == "en" else pair[0]


_TEMPORARY = frozenset({"unavailable", "maintenance", "rate_limited", "protocol"})


_t = catalogue(_TEXTS)


def _date(moment: datetime | None) -> str:
    return "—" if moment is None else f"{to_jst(moment):%Y/%m/%d}"


def _renew_blocks(lang: Lang) -> list[Block]:
    steps = CATALOGUE["auth"].steps[:2]  # issue a new key in RMS; paste it with /rms license
    return [
        section(f"*{_t('renew_title', lang)}*\n{numbered(steps, lang)}"),
        context(_t("renew_auto", lang)),
    ]


def license_warning(
    shop_name: str, days_left: int, expires_at: datetime | None, lang: Lang = "ja"
) -> Message:
    """14 / 7 / 3 / 1 days before expiry: the date and the renewal steps."""
    shop = escape(shop_name)
    title = (
        _t("warn_today_header", lang, shop=shop_name)
        if days_left <= 0
        else _t("warn_header", lang, n=days_left, shop=shop_name)
    )
    blocks = [
        header(title),
        section(_t("warn_body", lang, shop=shop, date=_date(expires_at))),
        *_renew_blocks(lang),
    ]
    return message(title, blocks)


def license_expired(shop_name: str, expires_at: datetime | None, lang: Lang = "ja") -> Message:
    """The key no longer works: what stopped and how to renew."""
    title = _t("expired_header", lang, shop=shop_name)
    when = _t("expired_when", lang, date=_date(expires_at)) if expires_at else ""
    blocks = [
        header(title),
        section(_t("expired_body", lang, shop=escape(shop_name), when=when)),
        *_renew_blocks(lang),
    ]
    return message(title, blocks)


def license_renewed(shop_name: str, expires_at: datetime | None, lang: Lang = "ja") -> Message:
    """ "renewed, valid until …"."""
    title = _t("renewed_header", lang, shop=shop_name)
    return message(
        title, [header(title), section(_t("renewed_body", lang, date=_date(expires_at)))]
    )


def license_check_failed(shop_name: str, error_key: str, lang: Lang = "ja") -> Message:
    """The expiry check was refused or failed: enable license.expiryDate.get in RMS."""
    if error_key == KEY_NOT_ACTIVE:
        title = _t("not_active_header", lang, shop=shop_name)
        steps = "\n".join(
            f"{i}. {s}"
            for i, s in enumerate((_t("not_active_steps", lang), _t("not_active_again", lang)), 1)
        )
        return message(title, [header(title), section(_t("not_active_body", lang)), section(steps)])
    entry = CATALOGUE["license_check_failed"]
    title = _t("check_header", lang, shop=shop_name)
    if error_key in _TEMPORARY:  # RMS failed: say so first; the setting is only the fallback
        temporary = _t("check_temporary", lang, title=lookup(error_key).title.get(lang))
        blocks = [
            header(title),
            section(temporary),
            section(f"*{_t('check_repeats', lang)}*\n{numbered(entry.steps, lang)}"),
        ]
    else:
        blocks = [
            header(title),
            section(entry.cause.get(lang)),
            section(numbered(entry.steps, lang)),
        ]
    return message(title, blocks)


def rms_unhealthy(
    shop_name: str, error_key: str, code: str | None = None, lang: Lang = "ja"
) -> Message:
    """RMS keeps failing for a shop (intake / polling): what it is and what to do."""
    entry = lookup(error_key)
    title = _t("unhealthy_header", lang, shop=shop_name)
    lines = [f"*{escape(entry.title.get(lang))}*", entry.cause.get(lang)]
    if code:
        lines.append(_t("code", lang, code=escape(code).replace("`", "'")))
    blocks = [
        header(title),
        section("\n".join(lines)),
        section(numbered(entry.steps, lang)),
        context(_t("unhealthy_note", lang)),
    ]
    return message(title, blocks)


def rms_recovered(shop_name: str, was: str | None = None, lang: Lang = "ja") -> Message:
    """RMS answers again."""
    title = _t("recovered", lang, shop=shop_name)
    blocks = [section(f"*{escape(title)}*")]
    if was:
        blocks.append(context(_t("recovered_was", lang, title=lookup(was).title.get(lang))))
    return message(title, blocks)


def acquisition_warning(
    shop_name: str, progress: int, days_back: int, lang: Lang = "ja"
) -> Message:
    """The shop fetches from a status other than 注文確認待ち (orders may be missed)."""
    pair = _PROGRESS.get(progress, (str(progress), str(progress)))
    status = pair[1] if lang == "en" else pair[0]
    title = _t("acq_header", lang, shop=shop_name)
    body = _t("acq_body", lang, shop=escape(shop_name), status=status, days=days_back)
    return message(title, [header(title), section(body)])


def delivery_failed(
    shop_name: str, channel: str, what: str, error: str, lang: Lang = "ja"
) -> Message:
    """A message was dead-lettered: which channel, what Slack said, what to check."""
    title = _t("dead_header", lang, shop=shop_name)
    body = _t("dead_body", lang, channel=channel, what=escape(what), error=escape(error))
    return message(title, [header(title), section(body), context(_t("dead_steps", lang))])

"""The result digest of one poll cycle for one shop: a main message plus thread replies."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import date

from core.digest import Digest, DigestLine
from core.remediation import lookup
from handlers.render.blocks import (
    Block,
    Message,
    context,
    divider,
    escape,
    header,
    line_sections,
    message,
    section,
    split_blocks,
)
from handlers.render.i18n import (
    Lang,
    catalogue,
    count,
    flag_reason_text,
    jst,
    jst_date,
    left_text,
    t,
    who,
    yen,
)

_TEXTS: dict[str, tuple[str, str]] = {
    # section: (ja, en) title; the short form goes into the header
    "processed": ("✅ 楽天処理済 — 出荷できます", "✅ Rakuten processed — ready to ship"),
    "processed_short": ("楽天処理済 (出荷OK)", "Ready to ship"),
    "flagged": ("⚠️ 要対応", "⚠️ Needs action"),
    "flagged_short": ("要対応", "Needs action"),
    "errors": ("❌ エラー", "❌ Errors"),
    "errors_short": ("エラー", "Errors"),
    "stuck": ("⏳ 楽天処理中のまま", "⏳ Still Rakuten processing"),
    "stuck_short": ("楽天処理中のまま", "Still processing"),
    "deadline": ("🔴 自動キャンセル間近", "🔴 Close to auto-cancel"),
    "deadline_short": ("自動キャンセル間近", "Close to auto-cancel"),
    "cancelled": ("🚫 キャンセル", "🚫 Cancelled"),
    "cancelled_short": ("キャンセル", "Cancelled"),
    "confirmed": ("📤 注文確認通知を送信", "📤 Order confirmation sent"),
    "confirmed_short": ("確認通知送信", "Confirmed"),
    "adopted": ("↩️ RMSで直接確認済み", "↩️ Confirmed directly in RMS"),
    "adopted_short": ("RMSで確認済", "Adopted"),
    "fee_resolved": ("💴 送料設定済み", "💴 Shipping fee resolved"),
    "fee_resolved_short": ("送料設定済", "Fee resolved"),
    "new": ("🆕 新着", "🆕 New orders"),
    "new_short": ("新着", "New"),
    # lines
    "after_confirm": ("確認から{n}分", "{n} min after confirmation"),
    "stuck_hours": ("{h}時間", "{h} h"),
    "prepay": ("前払い: 入金待ちの可能性", "prepaid: probably waiting for payment"),
    "due": ("確認期限 {due} ({rest})", "confirm by {due} ({rest})"),
    "cancel_800": ("キャンセル確定待ち", "cancel pending"),
    "cancel_900": ("キャンセル確定", "cancelled"),
    "do_not_ship": ("⚠️ 発送しないでください", "⚠️ do not ship"),
    "fee_line": ("送料 {fees}", "shipping {fees}"),
    "via_api": ("RMSに反映済み", "written to RMS"),
    "via_rms": ("RMSで修正済み", "fixed in RMS"),
    "card": ("カード", "card"),
    "errors_pointer": (
        "対応方法は上のエラーカード (対応方法) をご覧ください。",
        "See the remediation card above for what to do.",
    ),
    "flagged_pointer": (
        "要対応の注文にはそれぞれカードを投稿しています。",
        "Each order that needs action has its own card.",
    ),
    "digest_context": ("{shop} · {when} 時点", "{shop} · as of {when}"),
    "fallback": ("{shop}: {summary}", "{shop}: {summary}"),
}

INLINE_ORDERS = 20
"""At most this many order lines per section in the main message; the rest go to the thread."""

_SECTIONS = (
    "processed",
    "flagged",
    "errors",
    "stuck",
    "deadline",
    "cancelled",
    "confirmed",
    "adopted",
    "fee_resolved",
)
"""Listed sections in display order; 新着 (new) follows as one line of numbers."""


_t = catalogue(_TEXTS)


def _num(number: str, link: str | None = None) -> str:
    if link and "|" not in link and ">" not in link:
        return f"<{link}|{escape(number)}>"
    return f"`{escape(number)}`"


def _processed(line: DigestLine, lang: Lang, link: str | None) -> str:
    minutes = line.data.get("minutes")
    tail = f" — {_t('after_confirm', lang, n=minutes)}" if isinstance(minutes, int) else ""
    return f"• {_num(line.order_number)}{tail}"


def _flagged(line: DigestLine, lang: Lang, link: str | None) -> str:
    reason = flag_reason_text(line.data.get("reason"), lang)
    return f"• {_num(line.order_number, link)} — {reason}"


def _error(line: DigestLine, lang: Lang, link: str | None) -> str:
    entry = lookup(line.data.get("error_key") or line.data.get("code"))
    code = line.data.get("code")
    code_text = f" (`{_clean_code(code)}`)" if code else ""
    card = f" → <{link}|{_t('card', lang)}>" if link and "|" not in link else ""
    return f"• {_num(line.order_number)} — {escape(entry.title.get(lang))}{code_text}{card}"


def _clean_code(code: object) -> str:
    return escape(code).replace("`", "'")


def _stuck(line: DigestLine, lang: Lang, link: str | None) -> str:
    hours = line.data.get("hours")
    text = f"• {_num(line.order_number)}"
    if isinstance(hours, int | float):
        text += f" — {_t('stuck_hours', lang, h=f'{hours:g}')}"
    if line.data.get("prepay"):
        text += f" ({_t('prepay', lang)})"
    return text


def _deadline(line: DigestLine, lang: Lang, link: str | None) -> str:
    due_raw, left = line.data.get("due"), line.data.get("days_left")
    text = f"• {_num(line.order_number, link)}"
    try:
        due = date.fromisoformat(str(due_raw))
    except ValueError:
        return text
    rest = left_text(left, lang) if isinstance(left, int) else "—"
    return f"{text} — {_t('due', lang, due=jst_date(due, lang), rest=rest)}"


def _cancelled(line: DigestLine, lang: Lang, link: str | None) -> str:
    progress = line.data.get("progress")
    label = _t("cancel_800" if progress == 800 else "cancel_900", lang)
    text = f"• {_num(line.order_number)} — {label}"
    if line.data.get("from") in ("processing", "processed"):
        text += f" {_t('do_not_ship', lang)}"
    return text


def _confirmed(line: DigestLine, lang: Lang, link: str | None) -> str:
    actor = line.data.get("actor")
    return f"• {_num(line.order_number)}" + (f" — {who(str(actor), lang)}" if actor else "")


def _adopted(line: DigestLine, lang: Lang, link: str | None) -> str:
    return f"• {_num(line.order_number)}"


def _fee_resolved(line: DigestLine, lang: Lang, link: str | None) -> str:
    fees = line.data.get("fees")
    text = f"• {_num(line.order_number)}"
    if isinstance(fees, Mapping) and fees:
        amounts = " / ".join(yen(int(v), lang) for v in fees.values())
        text += f" — {_t('fee_line', lang, fees=amounts)}"
    text += f" ({_t('via_api' if line.data.get('via_api') else 'via_rms', lang)})"
    actor = line.data.get("actor")
    return text + (f" — {who(str(actor), lang)}" if actor else "")


_LINE: dict[str, Callable[[DigestLine, Lang, str | None], str]] = {
    "processed": _processed,
    "flagged": _flagged,
    "errors": _error,
    "stuck": _stuck,
    "deadline": _deadline,
    "cancelled": _cancelled,
    "confirmed": _confirmed,
    "adopted": _adopted,
    "fee_resolved": _fee_resolved,
}

_POINTERS = {"errors": "errors_pointer", "flagged": "flagged_pointer"}


def digest_summary(digest: Digest, lang: Lang) -> str:
    """「楽天処理済 (出荷OK) 12件 · 要対応 2件」: every non-empty section with its count."""
    parts = [
        f"{_t(name + '_short', lang)} {count(len(lines), lang)}"
        for name, lines in digest.sections()
        if lines
    ]
    return " · ".join(parts)


def digest_messages(
    digest: Digest,
    lang: Lang = "ja",
    *,
    shop_name: str,
    card_links: Mapping[str, str] | None = None,
) -> list[Message]:
    """[main message, *thread replies] for one digest; [] when the digest is empty.

    At most 20 order lines per section in the main message (the rest go to the thread);
    every message stays within 50 blocks and every text within 3,000 characters.
    """
    if digest.empty:
        return []
    links = card_links or {}
    summary = digest_summary(digest, lang)
    latest = max(line.at for _, lines in digest.sections() for line in lines)
    blocks: list[Block] = [
        header(f"📦 {summary}"),
        context(_t("digest_context", lang, shop=escape(shop_name), when=jst(latest, lang))),
    ]
    thread: list[Block] = []
    for name in _SECTIONS:
        lines: tuple[DigestLine, ...] = getattr(digest, name)
        if not lines:
            continue
        title = f"{_t(name, lang)} {count(len(lines), lang)}"
        rendered = [_LINE[name](line, lang, links.get(line.order_number)) for line in lines]
        head, rest = rendered[:INLINE_ORDERS], rendered[INLINE_ORDERS:]
        blocks += [divider(), section(f"*{title}*"), *line_sections(head)]
        if rest:
            blocks.append(context(t("more_in_thread", lang, n=len(rest))))
            thread += [section(f"*{t('continued', lang, title=title)}*"), *line_sections(rest)]
        if name in _POINTERS:
            blocks.append(context(_t(_POINTERS[name], lang)))
    if digest.new:
        shown = " ".join(_num(line.order_number) for line in digest.new[:INLINE_ORDERS])
        more = len(digest.new) - INLINE_ORDERS
        tail = f" (+{more})" if more > 0 else ""
        blocks.append(context(f"{_t('new', lang)} {count(len(digest.new), lang)}: {shown}{tail}"))
    fallback = _t("fallback", lang, shop=shop_name, summary=summary)
    chunks = split_blocks(blocks) + (split_blocks(thread) if thread else [])
    return [message(fallback, chunk) for chunk in chunks]

"""Words, amounts and times as a shop clerk reads them: Japanese by default, English optional."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import date, datetime, timedelta, timezone
from typing import Literal

from core.events import FlagReason
from core.model import UNSET_FEE, Stage
from core.outcomes import Outcome, Reason
from handlers.render.auto_texts import AUTO_TEXTS
from handlers.render.blocks import escape
from handlers.render.texts import TEXTS

Lang = Literal["ja", "en"]

JST = timezone(timedelta(hours=9), "JST")
"""Japan has no daylight saving time, so a fixed offset is exact."""

_STAGES: dict[Stage, tuple[str, str, str]] = {
    Stage.NEEDS_ACTION: ("⚠️", "要対応", "Needs action"),
    Stage.AWAITING: ("🕒", "注文確認待ち", "Awaiting confirmation"),
    Stage.SENDING: ("📤", "確認送信中", "Sending"),
    Stage.PROCESSING: ("⏳", "楽天処理中", "Rakuten processing"),
    Stage.PROCESSED: ("✅", "楽天処理済", "Rakuten processed (ready to ship)"),
    Stage.CANCELLED: ("🚫", "キャンセル", "Cancelled"),
    Stage.ERROR: ("❌", "エラー", "Error"),
}

_REASONS: dict[Reason, tuple[str, str, str, str]] = {
    # reason: (short ja, short en, explanation ja, explanation en)
    Reason.UNKNOWN_ORDER: (
        "見つからない注文",
        "not found",
        "この店舗のRMSに該当する注文が見つかりませんでした。注文番号と店舗をご確認ください。",
        "No such order in RMS for this shop. Check the order number and the shop.",
    ),
    Reason.NOT_ALLOWED: (
        "権限なし",
        "not allowed",
        "実行時に権限を確認したところ、この操作の権限がありませんでした。RMSには何も送信していません。",
        "When it was carried out, you no longer had permission for this. Nothing was sent to RMS.",
    ),
    Reason.ROLE_UNKNOWN: (
        "権限を確認できず",
        "permission unknown",
        "実行時に権限を確認できませんでした（Slackのユーザーグループを読めません）。RMSには何も送信していません。しばらくしてからもう一度お試しください。",
        "Your permission could not be checked when it was carried out (Slack's user groups "
        "could not be read). Nothing was sent to RMS. Please try again shortly.",
    ),
    Reason.FEE_UNSET: (
        "送料未設定",
        "fee not set",
        "送料未設定 (-9,999円) のため送信しませんでした。"
        "先に [送料を入力して承認…] から送料を入力してください。",
        "The shipping fee is not set (-9,999), so nothing was sent. Enter the fee first.",
    ),
    Reason.BUNDLED: (
        "同梱",
        "bundled",
        "同梱注文のため注文確認通知はできません。変更は同梱を解除してから行ってください。",
        "Bundled orders are never confirmed here. Unbundle before any change.",
    ),
    Reason.CANCELLED: (
        "キャンセル",
        "cancelled",
        "お客様もしくは楽天にてキャンセルされた注文です。発送しないでください。",
        "The order was cancelled by the customer or by Rakuten. Do not ship it.",
    ),
    Reason.IN_FLIGHT: (
        "送信中",
        "being sent",
        "この注文の注文確認通知を送信中です。結果をお待ちください (二重に送信はしません)。",
        "Its confirmation is being sent right now; wait for the result (it is never sent twice).",
    ),
    Reason.NOT_CONFIRMED: (
        "注文確認前",
        "not confirmed",
        "同梱の前に、すべての注文の送料修正と注文確認通知を済ませてください "
        "(楽天処理中・楽天処理済)。",
        "Before bundling, fix fees and confirm every order (Rakuten processing / processed).",
    ),
    Reason.SHIPPED: (
        "発送済",
        "shipped",
        "RMSで既に発送済み以降の状態です (RMSから再取得して確認しました)。同梱できません。",
        "RMS shows it already shipped or further on (re-read from RMS just now); it cannot be "
        "bundled.",
    ),
    Reason.ALREADY_BUNDLED: (
        "同梱済",
        "already bundled",
        "既に同梱されています。",
        "Already bundled.",
    ),
    Reason.NOT_BUNDLED: ("未同梱", "not bundled", "同梱されていません。", "Not bundled."),
    Reason.TOO_FEW: (
        "件数不足",
        "too few",
        "同梱には2件以上の注文が必要です。",
        "A bundle needs two or more orders.",
    ),
    Reason.DIFFERENT_DESTINATION: (
        "注文者・送付先が異なる",
        "different destination",
        "注文者または送付先が異なるため同梱できません。",
        "Orders with a different orderer or address cannot be bundled.",
    ),
    Reason.OTHER_MEMBER: (
        "他の注文が同梱できない",
        "another order cannot be bundled",
        "この注文は同梱できますが、他の注文が同梱できないため、どれも同梱していません。",
        "This order could be bundled, but another one cannot, so none was bundled.",
    ),
    Reason.NO_FEE_NEEDED: (
        "送料設定済",
        "fee already set",
        "この注文に送料未設定の項目はありません。",
        "This order has no unset fee.",
    ),
    Reason.FEE_RECORDED: (
        "送料は記録済み",
        "fee already recorded",
        "この注文の送料は、このフォームを開いた後に他の人が記録しました。入力は反映していません。",
        "Someone recorded this order's fee after this form was opened; your input was not applied.",
    ),
    Reason.BAD_FEE: (
        "送料の入力誤り",
        "bad fee",
        "送料は、すべての送付先に0以上の整数 (円) で入力してください。",
        "Enter a whole number of yen (0 or more) for every package.",
    ),
    Reason.FEE_STILL_UNSET: (
        "送料未設定のまま",
        "fee still unset",
        "RMSではまだ送料未設定 (-9,999円) です。RMSで送料を修正・保存してから、もう一度 "
        "[RMSステータスを取得] を押してください。",
        "RMS still reports the fee as not set. Fix and save it in RMS, then re-fetch again.",
    ),
    Reason.AUTO_STOPPED: (
        "自動確認は停止中",
        "auto-confirm stopped",
        "自動確認が一時停止・オフにされたため送信しませんでした。再開後にもう一度判定します。",
        "Auto-confirm was paused or switched off, so nothing was sent; it decides again after "
        "it resumes.",
    ),
}

_FLAG_REASONS: dict[str, tuple[str, str]] = {
    FlagReason.SHIPPING_FEE_UNSET: ("送料未設定 (-9,999円)", "shipping fee not set (-9,999)"),
    FlagReason.BUNDLE_RULE: (
        "同梱中の注文への変更 (同梱を解除してから)",
        "change to a bundled order (unbundle first)",
    ),
    FlagReason.UNKNOWN_ERROR: ("RMSの不明なエラー", "unknown RMS error"),
}

_OUTCOMES: dict[Outcome, tuple[str, str]] = {
    Outcome.CONFIRMED: ("注文確認通知を送信", "confirmation sent"),
    Outcome.ALREADY_CONFIRMED: ("確認済み (再送なし)", "already confirmed (not resent)"),
    Outcome.ADOPTED: ("RMSで確認済みを反映", "adopted from RMS"),
    Outcome.REFUSED: ("送信しませんでした", "not sent"),
    Outcome.FAILED: ("エラー", "error"),
    Outcome.PENDING: ("結果確認中", "result pending"),
    Outcome.REFRESHED: ("RMSステータスを取得", "re-fetched"),
    Outcome.FEE_RECORDED: ("送料を記録", "fee recorded"),
    Outcome.BUNDLED: ("同梱しました", "bundled"),
    Outcome.UNBUNDLED: ("同梱を解除しました", "unbundled"),
}


def _pick(pair: tuple[str, str], lang: Lang) -> str:
    return pair[1] if lang == "en" else pair[0]


def catalogue(texts: Mapping[str, tuple[str, str]]) -> Callable[..., str]:
    """A ``t``-like lookup over a module's own (ja, en) texts; unknown keys are a bug."""

    def text(key: str, lang: Lang = "ja", **kw: object) -> str:
        chosen = _pick(texts[key], lang)
        return chosen.format(**kw) if kw else chosen

    return text


def t(key: str, lang: Lang = "ja", **kw: object) -> str:
    """Return string ``key`` in ``lang``, formatted with ``kw``; an unknown key returns itself."""
    pair = TEXTS.get(key) or AUTO_TEXTS.get(key)
    if pair is None:
        return key
    return _pick(pair, lang).format(**kw) if kw else _pick(pair, lang)


def stage_label(stage: Stage | None, lang: Lang = "ja", *, emoji: bool = False) -> str:
    """要対応 / 注文確認待ち / … (English: Needs action / …), optionally with its emoji."""
    if stage is None:
        return "—"
    icon, ja, en = _STAGES[stage]
    label = en if lang == "en" else ja
    return f"{icon} {label}" if emoji else label


def reason_label(reason: Reason, lang: Lang = "ja") -> str:
    """A short label for a refusal reason, for counts (「送料未設定 2件」)."""
    ja, en, _, _ = _REASONS[reason]
    return en if lang == "en" else ja


def reason_text(reason: Reason, lang: Lang = "ja") -> str:
    """The full explanation of a refusal reason, in the clerk's words."""
    _, _, ja, en = _REASONS[reason]
    return en if lang == "en" else ja


def flag_reason_text(reason: FlagReason | str | None, lang: Lang = "ja") -> str:
    """Why an order is 要対応."""
    pair = _FLAG_REASONS.get(str(reason or ""), ("要対応", "needs action"))
    return _pick(pair, lang)


def outcome_label(outcome: Outcome, lang: Lang = "ja") -> str:
    """A short label for an outcome."""
    return _pick(_OUTCOMES[outcome], lang)


def yen(amount: int | None, lang: Lang = "ja") -> str:
    """A fee: 1,234円 / ¥1,234; RMS's -9999 reads 送料未設定 / fee not set."""
    if amount is None:
        return "—"
    if amount == UNSET_FEE:
        return _pick(TEXTS["fee_unset_short"], lang)
    return f"¥{amount:,}" if lang == "en" else f"{amount:,}円"


def yen_total(amount: int | None, lang: Lang = "ja") -> str:
    """A total derived from the fee: -9999 reads 未確定 / not determined."""
    if amount == UNSET_FEE:
        return _pick(TEXTS["total_undetermined"], lang)
    return yen(amount, lang)


def to_jst(moment: datetime) -> datetime:
    """Convert to JST; a naive datetime is taken to be JST already (RMS sends +0900)."""
    return moment.replace(tzinfo=JST) if moment.tzinfo is None else moment.astimezone(JST)


def jst(moment: datetime | None, lang: Lang = "ja") -> str:
    """11/28 14:05 (JST)."""
    if moment is None:
        return "—"
    local = to_jst(moment)
    return f"{local.month}/{local.day} {local:%H:%M}"


def jst_date(day: date | None, lang: Lang = "ja") -> str:
    """11/28 for a date (English the same: staff share screenshots)."""
    return "—" if day is None else f"{day.month}/{day.day}"


def days_left(due: date, now: datetime) -> int:
    """Whole days from today (JST) to ``due``; 0 on the day, negative when past."""
    return (due - to_jst(now).date()).days


def due_text(due: date | None, now: datetime | None, lang: Lang = "ja") -> str:
    """11/30 (あと2日) — or just the date when ``now`` is not given."""
    if due is None:
        return "—"
    if now is None:
        return jst_date(due, lang)
    return f"{jst_date(due, lang)} ({left_text(days_left(due, now), lang)})"


def left_text(left: int, lang: Lang = "ja") -> str:
    """あと2日 / 本日まで / 期限切れ."""
    if left < 0:
        return t("overdue", lang)
    if left == 0:
        return t("due_today", lang)
    return t("days_left", lang, n=left)


def age(since: datetime, now: datetime, lang: Lang = "ja") -> str:
    """How long ago, in the largest sensible unit: 5分 / 3時間 / 2日."""
    minutes = max(0, int((now - since).total_seconds() // 60))
    if minutes < 60:
        return t("minutes", lang, n=minutes)
    if minutes < 48 * 60:
        return t("hours", lang, n=minutes // 60)
    return t("days", lang, n=minutes // (24 * 60))


def count(n: int, lang: Lang = "ja") -> str:
    """12件 / 12 orders."""
    if lang == "en":
        return f"{n} order" if n == 1 else f"{n} orders"
    return f"{n}件"


def who(user: str | None, lang: Lang = "ja") -> str:
    """A Slack mention for a user id, "RMS" for confirmations made in RMS, auto-confirm in
    words, else the escaped name."""
    if not user:
        return "—"
    if user.lower() == "rms":
        return "RMS"
    if user == "auto":  # core.auto.AUTO_ACTOR: auto-confirm
        return "自動確認" if lang == "ja" else "auto-confirm"
    if user[:1] in ("U", "W") and user.isalnum():
        return f"<@{user}>"
    if user[:1] == "S" and user.isalnum():
        return f"<!subteam^{user}>"
    return escape(user)

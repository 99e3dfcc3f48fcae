"""Short texts the handlers send themselves (acks, refusals); the renderers hold the rest."""

from __future__ import annotations

from handlers.render.i18n import catalogue

_TEXTS: dict[str, tuple[str, str]] = {
    "accepted_confirm": (
        "{count}件の注文確認通知を受け付けました。結果はこのチャンネルに投稿します。",
        "Confirming {count} order(s); results will be posted in this channel.",
    ),
    "accepted_refetch": ("RMSステータスを取得しています…", "Fetching the RMS status…"),
    "accepted_bundle": (
        "RMSで最新の状態を確認してから同梱します…",
        "Checking the latest RMS status before bundling…",
    ),
    "confirm_all_started": (
        "注文確認通知の送信を開始しました。進み具合はチャンネルに表示します。",
        "Started sending confirmations; progress is shown in the channel.",
    ),
    "confirm_all_cancelled": (
        "キャンセルしました。何も送信していません。",
        "Cancelled. Nothing was sent.",
    ),
    "not_allowed": (
        "この操作の権限がありません。管理者に CONFIRMERS / ADMINS への追加を依頼してください。",
        "You are not allowed to do this. Ask an admin to add you to CONFIRMERS / ADMINS.",
    ),
    "roles_unknown": (
        "権限を確認できませんでした（Slackのユーザーグループを読めません）。"
        "しばらくしてからもう一度お試しください。",
        "Your permission could not be checked (the Slack user group could not be read). "
        "Please try again in a moment.",
    ),
    "admins_unset": (
        "管理者 (ADMINS) が設定されていないため、この操作はできません。"
        "デプロイ担当者に ADMINS の設定を依頼してください。",
        "No admins are configured, so nobody may do this. "
        "Ask whoever deploys the bot to set ADMINS.",
    ),
    "unknown_order": ("注文 {number} は見つかりませんでした。", "Order {number} was not found."),
    "fee_empty": ("送料を入力してください (0〜{max}の整数)", "Enter the fee: whole yen, 0–{max}"),
    "fee_negative": (
        "マイナスの送料は入力できません: 「{text}」",
        "A fee cannot be negative: “{text}”",
    ),
    "fee_decimal": (
        "小数は入力できません: 「{text}」。1円単位の整数で入力してください",
        "No decimals: “{text}”. Enter whole yen",
    ),
    "fee_too_high": (
        "送料の上限は{max}です: 「{text}」(上限は MAX_POSTAGE_YEN で変更できます)",
        "The fee may be at most {max}: “{text}” (the limit is MAX_POSTAGE_YEN)",
    ),
    "fee_not_number": (
        "送料として読めません: 「{text}」(例: 800、1,000円)",
        "Not a fee: “{text}” (e.g. 800 or 1,000)",
    ),
    "fee_working": ("送料を反映しています…", "Applying the fee…"),
    "license_saved": (
        "新しいライセンスキーを受け付けました (暗号化して保存、表示はしません)。"
        "有効になるまで5〜30分かかることがあります。使えるようになったら"
        "チャンネルでお知らせします。",
        "New licence key accepted (stored encrypted, never shown). It can take "
        "5–30 minutes to work; the shop channel will be told when it does.",
    ),
    "license_needs_secret_key": (
        "SECRET_KEY が設定されていないため、ライセンスキーを保存できません。"
        "デプロイ担当者に設定を依頼してください。",
        "SECRET_KEY is not set, so licence keys cannot be stored. "
        "Ask whoever deploys the bot to set it.",
    ),
    "license_empty": ("ライセンスキーを入力してください", "Paste the new licence key"),
    "license_too_long": (
        "ライセンスキーは50文字以内です",
        "A licence key has at most 50 characters",
    ),
    "unexpected_error": (
        "申し訳ありません。処理中に予期しないエラーが発生しました。もう一度お試しください。"
        "繰り返す場合は管理者に連絡してください。",
        "Sorry, something unexpected went wrong. Please try again; if it keeps "
        "happening, tell an admin.",
    ),
    "summary_unavailable": ("サマリーはまだ利用できません。", "The summary is not available yet."),
}


say = catalogue(_TEXTS)
"""The text for a key in a language."""

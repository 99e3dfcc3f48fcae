"""Turn InvalidInputError("kind:detail") from parsing into the clerk's words (ja/en)."""

from __future__ import annotations

from core.errors import InvalidInputError
from handlers.render.i18n import Lang

_TEXT: dict[str, tuple[str, str]] = {
    "empty": (
        "注文番号を指定してください (例: `/confirm 123456-20261128-0000000001` または "
        "`/confirm all`)",
        "Give order numbers (e.g. `/confirm 123456-20261128-0000000001`) or `all`.",
    ),
    "bad_numbers": (
        "注文番号の形式が正しくありません: {detail} "
        "(例: 123456-20261128-0000000001)。RMSには何も送信していません。",
        "Not an order number: {detail} (e.g. 123456-20261128-0000000001). Nothing was sent to RMS.",
    ),
    "all_and_numbers": (
        "`all` と注文番号は同時に指定できません。",
        "Use either `all` or order numbers, not both.",
    ),
    "too_many": (
        "一度に指定できるのは500件までです ({detail}件指定されました)。"
        "多い場合は `all` を使ってください。",
        "At most 500 order numbers per command (got {detail}); use `all` instead.",
    ),
    "which_shop": ("どの店舗か指定してください: {detail}", "Which shop? Add one of: {detail}"),
    "unknown_shop": (
        "店舗が見つかりません: {detail} (使える名前: {names})",
        "No such shop: {detail} (names you can use: {names})",
    ),
    "shops": ("店舗は1つだけ指定してください: {detail}", "Name only one shop: {detail}"),
    "unknown_subcommand": (
        "`/rms {detail}` は使えません。`/rms help` で使い方を表示します。",
        "Unknown: `/rms {detail}`. Try `/rms help`.",
    ),
    "bundle_needs_two": (
        "同梱には2件以上の注文番号が必要です (例: `/rms bundle A B`)。",
        "Bundling needs two or more order numbers (`/rms bundle A B`).",
    ),
    "auto_usage": (
        "`/rms auto [店舗] on | off | dry-run | status` または `/rms auto pause | resume` "
        "の形で指定してください ({detail})。",
        "Use `/rms auto [shop] on | off | dry-run | status` or `/rms auto pause | resume` "
        "({detail}).",
    ),
    "unbundle_needs_one": (
        "同梱を解除する注文番号を1つ指定してください。",
        "Give exactly one order number of the bundle to dissolve.",
    ),
}


def input_error_text(error: InvalidInputError, lang: Lang) -> str:
    """The message for a parsing error; unknown kinds fall back to the raw text."""
    kind, _, detail = str(error).partition(":")
    pair = _TEXT.get(kind)
    if pair is None:
        return str(error)
    detail, _, names = detail.partition("|")
    return (pair[0] if lang == "ja" else pair[1]).format(detail=detail, names=names)

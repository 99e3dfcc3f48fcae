"""Strings of auto-confirm (held cards, dry runs, /rms auto, /rms held, the watchdog), (ja, en)."""

from __future__ import annotations

HOLD_REASONS: dict[str, tuple[str, str]] = {
    "fee_unset": ("送料未設定 (-9,999円)", "shipping fee not set (-9,999)"),
    "remarks": ("備考欄に購入者の記入あり", "the buyer wrote in the remarks"),
    "total": ("合計金額が基準以上", "total at or above the threshold"),
    "payment": ("確認が必要な支払方法 (代引き等)", "payment method to check (e.g. COD)"),
    "item": ("確認が必要な商品・SKU", "a listed item or SKU"),
    "remote_island": ("離島あて", "remote island"),
    "gift": ("注文者と送付先が異なる (ギフト)", "recipient differs from orderer (gift)"),
    "bundle_candidate": ("同梱候補あり", "could be shipped together with another order"),
    "caution": ("RMSの注意表示あり", "RMS caution flag"),
    "reservation": ("予約・定期購入・頒布会", "reservation or subscription order"),
    "blocklist": ("要注意リストの注文者・住所", "orderer or address on the blocklist"),
    "kept": ("担当者が保留中", "kept on hold by a person"),
}

AUTO_TEXTS: dict[str, tuple[str, str]] = {
    "held_header": ("⏸️ 自動確認を保留しました", "⏸️ Held from auto-confirm"),
    "held_intro": (
        "*{shop}* の注文 `{number}` は次の理由で自動確認せず、担当者の判断を待っています:",
        "Order `{number}` of *{shop}* was not confirmed automatically, for these reasons:",
    ),
    "held_note": ("保留メモ ({who}): {note}", "Hold note ({who}): {note}"),
    "held_proposal": ("送料の提案: {how}", "Proposed fee: {how}"),
    "btn_approve": ("承認して確認", "Approve and confirm"),
    "btn_fee_approve": ("送料を入力して承認…", "Enter fee and approve…"),
    "btn_keep": ("保留のまま", "Keep holding"),
    "keep_title": ("保留のまま", "Keep holding"),
    "keep_label": ("保留の理由・メモ", "Why it stays held (note)"),
    "keep_submit": ("保存", "Save"),
    "keep_done": ("`{number}` を保留のままにしました。", "`{number}` stays held."),
    "auto_fee_done": (
        "🤖 送料 {fees} を送料表から自動で反映し、注文確認を送りました ({how})。",
        "🤖 Fee {fees} written from the fee table and the order confirmed ({how}).",
    ),
    "dry_run_header": ("🧪 自動確認ドライラン: {shop}", "🧪 Auto-confirm dry run: {shop}"),
    "dry_run_confirm": (
        "*自動で確認する注文 ({n}件)* (ドライランのためRMSには送信していません)",
        "*Would confirm ({n})* (dry run: nothing was sent to RMS)",
    ),
    "dry_run_held": ("*保留する注文 ({n}件)*", "*Would hold ({n})*"),
    "held_list_header": ("⏸️ 保留中の注文: {shop} ({n}件)", "⏸️ Held orders: {shop} ({n})"),
    "held_list_empty": (
        "{shop} に保留中の注文はありません。",
        "{shop} has no held orders.",
    ),
    "held_list_due": ("確認期限 {due}", "confirm by {due}"),
    "auto_status": (
        "*{shop}*: 自動確認 `{mode}`{paused}",
        "*{shop}*: auto-confirm `{mode}`{paused}",
    ),
    "auto_paused_suffix": (" (⏸️ 全店舗一時停止中)", " (⏸️ all shops paused)"),
    "auto_mode_on": ("オン", "on"),
    "auto_mode_off": ("オフ", "off"),
    "auto_mode_dry_run": ("ドライラン", "dry run"),
    "auto_changed": (
        "🤖 {who} が *{shop}* の自動確認を `{mode}` にしました。",
        "🤖 {who} set auto-confirm of *{shop}* to `{mode}`.",
    ),
    "auto_paused": (
        "⏸️ {who} が全店舗の自動確認を一時停止しました。`/rms auto resume` で再開します。",
        "⏸️ {who} paused auto-confirm in every shop. `/rms auto resume` resumes it.",
    ),
    "auto_resumed": (
        "▶️ {who} が全店舗の自動確認を再開しました。",
        "▶️ {who} resumed auto-confirm in every shop.",
    ),
    "auto_usage": (
        "使い方: `/rms auto [店舗] on | off | dry-run | status` または `/rms auto pause | resume`",
        "Usage: `/rms auto [shop] on | off | dry-run | status` or `/rms auto pause | resume`",
    ),
    "home_auto_paused": (
        "⏸️ *自動確認は全店舗で一時停止中です* ({who}、{at})。`/rms auto resume` で再開します。",
        "⏸️ *Auto-confirm is paused in every shop* ({who}, {at}). `/rms auto resume` resumes it.",
    ),
    "watchdog_silent": (
        "🔕 *{shop}*: {minutes}分間、新しい注文を取得していません (この時間帯としては長すぎます)。"
        "RMSの連携設定・ライセンスキーを確認してください。",
        "🔕 *{shop}*: no new order for {minutes} minutes, longer than usual at this hour. "
        "Check the RMS connection and licence key.",
    ),
    "watchdog_failing": (
        "🚨 *{shop}*: RMSへの呼び出しが{since}以降すべて失敗しています ({error})。",
        "🚨 *{shop}*: every RMS call has failed since {since} ({error}).",
    ),
    "watchdog_held": (
        "⚠️ *{shop}*: 本日の注文 {total}件のうち {held}件を自動確認で保留しました。"
        "保留ルールを確認してください (`/rms held`)。",
        "⚠️ *{shop}*: auto-confirm held {held} of today's {total} orders. "
        "Check the hold rules (`/rms held`).",
    ),
    "watchdog_recovered_silent": (
        "✅ *{shop}*: 新しい注文をまた取得できています。",
        "✅ *{shop}*: new orders are arriving again.",
    ),
    "watchdog_recovered_failing": (
        "✅ *{shop}*: RMSへの呼び出しが再び成功しています。",
        "✅ *{shop}*: calls to RMS succeed again.",
    ),
    "watchdog_recovered_held": (
        "✅ *{shop}*: 自動確認で保留した注文の割合が基準内に戻りました。",
        "✅ *{shop}*: the share of orders held from auto-confirm is back under the threshold.",
    ),
    "summary_auto": (
        "自動確認 {auto}件 / 担当者 {person}件 / 保留 {held}件{top} / 送料自動反映 {fee}件",
        "Auto-confirmed {auto} / by a person {person} / held {held}{top} / auto fee {fee}",
    ),
}

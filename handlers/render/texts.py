"""The user-facing strings, (ja, en) per key; i18n.t() formats them. Japanese is the default."""

from __future__ import annotations

_ADVICE_JA = (
    "注文確認は楽天の仕様上一度しかできません。変更はRMSの管理画面から行ってください "
    "(APIオプションご契約の場合は送料等をAPIで更新できます)。"
)
_ADVICE_EN = (
    "Rakuten allows the order confirmation only once. Make further changes in RMS's admin "
    "screen (with the API option, the shipping fee etc. can be updated through the API)."
)

TEXTS: dict[str, tuple[str, str]] = {
    # order fields
    "shop": ("店舗", "Shop"),
    "order_number": ("注文番号", "Order"),
    "stage": ("ステータス", "Status"),
    "ordered_at": ("注文日時", "Ordered"),
    "cancel_due": ("確認期限", "Confirm by"),
    "days_left": ("あと{n}日", "{n} days left"),
    "due_today": ("本日まで", "due today"),
    "overdue": ("期限切れ", "overdue"),
    "due_warning": (
        "🔴 確認期限まであと{n}日です。"
        "期限までに注文確認通知を送らないと自動でキャンセルされます。",
        "🔴 {n} days left to confirm. Unconfirmed orders are cancelled automatically.",
    ),
    "orderer": ("注文者", "Orderer"),
    "payment": ("支払方法", "Payment"),
    "delivery_method": ("配送方法", "Delivery"),
    "recipient": ("送付先", "Ship to"),
    "package_n": ("送付先 {i}", "Package {i}"),
    "island": ("🏝️ 離島", "🏝️ remote island"),
    "postage": ("送料", "Shipping"),
    "fee_word": ("送料", "Shipping fee"),
    "goods_total": ("商品合計", "Items total"),
    "delivery_fee": ("代引料", "COD fee"),
    "payment_charge": ("決済手数料", "Payment fee"),
    "total": ("合計", "Total"),
    "request_price": ("請求額", "Amount billed"),
    "remarks": ("備考", "Remarks"),
    "tax_incl": ("税込", "incl. tax"),
    "more_packages": ("他{n}件の送付先は [詳細] で表示します", "{n} more packages under [Details]"),
    "more_items": ("…他{n}点", "…{n} more items"),
    # buttons
    "btn_fee": ("送料を入力して承認…", "Enter fee and approve…"),
    "btn_fee_record": ("送料を記録…", "Record the fee…"),
    "btn_refetch": ("RMSステータスを取得", "Re-fetch RMS status"),
    "btn_details": ("詳細", "Details"),
    "open_in_rms": ("RMSで開く", "Open in RMS"),
    "btn_confirm": ("注文確認通知を送信", "Send order confirmation"),
    "btn_retry": ("再試行", "Retry"),
    "btn_part": ("{label} ({i}/{n})", "{label} ({i}/{n})"),
    "btn_cancel": ("キャンセル", "Cancel"),
    "btn_confirm_all": ("{count}に注文確認通知を送信", "Confirm {count}"),
    # flag card
    "flag_header_fee": ("⚠️ 要対応: 送料未設定の注文です", "⚠️ Needs action: shipping fee not set"),
    "flag_header_bundle": ("⚠️ 要対応: 同梱中の注文です", "⚠️ Needs action: bundled order"),
    "flag_header_unknown": (
        "⚠️ 要対応: RMSが不明なエラーを返しました",
        "⚠️ Needs action: unknown RMS error",
    ),
    "flag_header": ("⚠️ 要対応", "⚠️ Needs action"),
    "fee_unset_short": ("送料未設定", "fee not set"),
    "total_undetermined": ("未確定", "not determined"),
    "fee_unset_explain": (
        "RMS側の送料設定がされておらず、送料が「-9,999円」(未設定) になっています。"
        "送料を入力して承認してください。",
        "RMS has no shipping fee for this order (it reports -9,999 yen). Enter the fee to "
        "approve it.",
    ),
    "fee_unset_explain_manual": (
        "RMS側の送料設定がされておらず、送料が「-9,999円」(未設定) になっています。"
        "送料はRMSで修正してください (下の手順)。[送料を記録…] で控えを残せます。",
        "RMS has no shipping fee for this order (it reports -9,999 yen). Fix the fee in RMS "
        "(steps below); [Record the fee…] keeps a note of it here.",
    ),
    "bundled_note": (
        "📦 同梱中: 変更は同梱を解除してから (`/rms unbundle {number}`)。"
        "同梱注文には注文確認通知のボタンは表示されません。",
        "📦 Bundled: unbundle before any change (`/rms unbundle {number}`). Bundled orders have "
        "no confirmation button.",
    ),
    "next_api": (
        "➡️ [送料を入力して承認…] で送料を入力すると、ボットがRMSに送料を書き込み、"
        "注文確認通知を送信します。",
        "➡️ Enter the fee with [Enter fee and approve…]: the bot writes it to RMS and sends the "
        "order confirmation.",
    ),
    "next_manual": (
        "➡️ APIオプション未契約のため、送料はRMSで修正してください: {steps}",
        "➡️ No API option: fix the fee in RMS yourself: {steps}",
    ),
    "prevent_line": (
        "💡 再発防止: {summary} (手順は [詳細])",
        "💡 Prevent it: {summary} ([Details])",
    ),
    "rms_code": ("RMSのコード: `{code}`", "RMS code: `{code}`"),
    "rms_message": ("RMSのメッセージ: {message}", "RMS message: {message}"),
    "still_unset": (
        "RMSではまだ送料未設定です ({when} 取得)。",
        "RMS still reports the fee as not set ({when}).",
    ),
    # resolved cards
    "resolved_fee_confirmed": (
        "✅ {fee} を反映し、注文確認通知を送信しました ({stage}) — {who}",
        "✅ {fee} written to RMS and order confirmation sent ({stage}) — {who}",
    ),
    "resolved_fee_recorded": (
        "📝 {fee} を記録しました — {who}。RMSで送料を修正してから [RMSステータスを取得] "
        "を押してください",
        "📝 {fee} recorded — {who}. Fix the fee in RMS, then press [Re-fetch RMS status]",
    ),
    "resolved_confirmed": (
        "✅ 注文確認通知を送信しました ({stage}) — {who}",
        "✅ Order confirmation sent ({stage}) — {who}",
    ),
    "stale_fee": (
        "⛔ 送料は既に設定済みです: {fee} — {who}{when}。入力された {typed} は反映していません。",
        "⛔ The fee was already set: {fee} — {who}{when}. Your {typed} was not applied.",
    ),
    "stale_fee_record": (
        "⛔ 送料は既に記録されています: {fee} — {who}{when}。"
        "入力された {typed} は反映していません。"
        "変更するときは、カードの [送料を記録…] からもう一度開いてください"
        " (記録した送料が表示されます)。",
        "⛔ A fee was already recorded: {fee} — {who}{when}. Your {typed} was not applied. "
        "To change it, open [Record the fee…] on the card again (it shows the recorded fee).",
    ),
    "in_rms": ("RMSで設定", "set in RMS"),
    "fee_fact": ("💴 送料 {fees} — {who}", "💴 Shipping fee {fees} — {who}"),
    "report_posted": (
        "✅ 結果はチャンネルに投稿しました。",
        "✅ The result is posted in the channel.",
    ),
    "resolved_adopted": (
        "↩️ RMSで確認済みのため取り込みました ({stage})",
        "↩️ Already confirmed in RMS; adopted ({stage})",
    ),
    "resolved_refreshed": ("🔄 RMSステータスを取得しました: {stage}", "🔄 RMS status: {stage}"),
    "resolved_cancelled": ("🚫 この注文はキャンセルされました", "🚫 This order was cancelled"),
    "resolved_pending": (
        "⏳ 結果確認中: ボットが自動でRMSの状態を確認します (再送はしません)",
        "⏳ Result pending: the bot checks RMS by itself (it never resends)",
    ),
    "fee_ready": (
        "RMSで送料が設定されました。注文確認通知を送信できます。",
        "RMS now has the fee. The order can be confirmed.",
    ),
    "processing_next": (
        "楽天処理中です。必ず【楽天処理済】に変わってから発送してください。"
        "変わったらお知らせします。",
        "Rakuten is processing it. Ship only after it shows Rakuten processed; the bot will tell "
        "you.",
    ),
    # reports
    "report_header_confirm": ("注文確認通知の結果 — {shop}", "Order confirmation results — {shop}"),
    "report_header_refetch": ("RMSステータスの取得結果 — {shop}", "RMS status results — {shop}"),
    "report_header_other": ("処理結果 — {shop}", "Results — {shop}"),
    "report_by": ("{who} のリクエスト・{count}", "Requested by {who} · {count}"),
    "sec_confirmed": (
        "✅ 注文確認通知を送信 (楽天処理中) {count}",
        "✅ Confirmation sent (Rakuten processing) {count}",
    ),
    "sec_adopted": (
        "↩️ 確認済み (RMSで確認済みを反映) {count}",
        "↩️ Already confirmed in RMS (adopted) {count}",
    ),
    "sec_refused": ("⛔ 送信しませんでした {count}", "⛔ Not sent {count}"),
    "sec_failed": ("❌ エラー {count}", "❌ Errors {count}"),
    "sec_pending": ("⏳ 結果確認中 {count}", "⏳ Result pending {count}"),
    "sec_other": ("ℹ️ その他 {count}", "ℹ️ Other {count}"),
    "sec_stage": ("{label} {count}", "{label} {count}"),
    "already_line": ("既に注文確認済みです ({who}, {when})", "Already confirmed ({who}, {when})"),
    "already_advice": (_ADVICE_JA, _ADVICE_EN),
    "pending_next": (
        "結果をまだ確認できていません。ボットが自動でRMSステータスを取得して確認します "
        "(再送はしません)。",
        "The result is not known yet. The bot re-fetches the RMS status by itself (it never "
        "resends).",
    ),
    "more_in_thread": ("…他{n}件はスレッドに表示します", "…{n} more in the thread"),
    "continued": ("{title} (続き)", "{title} (continued)"),
    "steps_inline": ("対応方法: {steps}", "What to do: {steps}"),
    "unchanged_one": ("変化なし ({stage})", "no change ({stage})"),
    "unchanged_many": ("変化なし {count}: {parts}", "No change for {count}: {parts}"),
    "chg_adopted": ("RMSで直接確認済みでした", "was confirmed directly in RMS"),
    "chg_cancelled": ("キャンセルされました", "cancelled"),
    "chg_processed": ("楽天処理済になりました。発送できます", "Rakuten processed: ready to ship"),
    "chg_processing": (
        "楽天処理中です。結果を自動で確認します",
        "Rakuten processing; the bot keeps checking",
    ),
    "chg_awaiting": ("注文確認待ちです", "awaiting confirmation"),
    "chg_needs_action": ("要対応です (送料未設定など)", "needs action (e.g. fee not set)"),
    "chg_sending": ("確認送信中です", "confirmation being sent"),
    "chg_error": ("エラーです", "error"),
    # confirm all / progress
    "confirm_all_question": (
        "*{shop}*: 注文確認待ち *{count}* に注文確認通知を送信しますか？",
        "*{shop}*: send the order confirmation to *{count}* awaiting confirmation?",
    ),
    "excluded": ("(除外: {items})", "(excluded: {items})"),
    "confirm_all_note": (
        "注文確認は一度しかできません。送信後は【楽天処理済】に変わってから発送してください。",
        "A confirmation can be sent only once. Ship only after an order shows Rakuten processed.",
    ),
    "dialog_title": ("注文確認通知を送信しますか？", "Send order confirmations?"),
    "dialog_text": (
        "{count}に注文確認通知を送信します。注文確認は一度しかできず、取り消せません。",
        "This sends the confirmation for {count}. It can be sent only once and cannot be undone.",
    ),
    "dialog_yes": ("送信する", "Send"),
    "dialog_no": ("やめる", "Back"),
    "nothing_to_confirm": (
        "*{shop}*: 注文確認通知を送信できる注文 (注文確認待ち) はありません。",
        "*{shop}*: no orders awaiting confirmation.",
    ),
    "progress": (
        "注文確認通知を送信中… {done}/{total}",
        "Sending order confirmations… {done}/{total}",
    ),
    "progress_done": (
        "注文確認通知の送信が終わりました {done}/{total}",
        "Confirmations sent {done}/{total}",
    ),
    # remediation card
    "what_happened": ("何が起きたか", "What happened"),
    "bot_did": ("ボットが行ったこと", "What the bot did"),
    "how_to_fix": ("対応方法", "What to do"),
    "affected": ("対象の注文 {count}", "Orders affected: {count}"),
    "did_retried": ("自動で{n}回再試行しました", "Retried {n} times automatically"),
    "did_refetched": ("RMSステータスを取得しました", "Re-fetched the RMS status"),
    "did_will_reconcile": ("自動で結果を確認します", "Will check the result automatically"),
    "did_paused": ("一時停止してから再試行します", "Paused; will retry"),
    "did_nothing": ("まだ何もしていません", "Nothing yet"),
    # lists
    "pending_title": (
        "注文確認待ち — {shop} ({count})",
        "Awaiting confirmation — {shop} ({count})",
    ),
    "flagged_title": ("要対応 — {shop} ({count})", "Needs action — {shop} ({count})"),
    "empty_pending": ("注文確認待ちの注文はありません。", "No orders awaiting confirmation."),
    "empty_flagged": ("要対応の注文はありません。", "No orders need action."),
    "age": ("注文から{age}", "{age} since the order"),
    "age_new": ("注文されたばかり", "just ordered"),
    "due_in": ("確認期限まで{n}日", "{n} days left to confirm"),
    "due_in_today": ("確認期限は本日", "confirm today"),
    "due_passed": ("確認期限切れ", "past the confirmation deadline"),
    "more": ("他{n}件", "{n} more"),
    "minutes": ("{n}分", "{n} min"),
    "hours": ("{n}時間", "{n} h"),
    "days": ("{n}日", "{n} days"),
    # modals
    "fee_modal_title": ("送料の入力", "Shipping fee"),
    "close": ("キャンセル", "Cancel"),
    "fee_modal_intro": (
        "*{number}* の送料を送付先ごとに入力してください。",
        "Enter the shipping fee for each package of *{number}*.",
    ),
    "fee_label": ("送料 (円) — 送付先: {name} {pref}", "Fee (yen) — ship to: {name} {pref}"),
    "fee_placeholder": ("例: 800", "e.g. 800"),
    "fee_hint": (
        "0〜{max}の整数で入力してください (例: 800、1,000円)",
        "A whole number of yen, 0–{max} (e.g. 800 or 1,000)",
    ),
    "submit_next": ("次へ", "Next"),
    "fee_modal_next": (
        "[次へ] を押すと、新しい請求額と実行内容の確認画面になります。まだ何も送信しません。",
        "[Next] shows the new order total and what will happen. Nothing is sent yet.",
    ),
    "fee_effect_api": (
        "RMSに送料を書き込み、注文確認通知を送信します。注文確認は一度しかできません。",
        "Writes the fee to RMS and sends the order confirmation (it can be sent only once).",
    ),
    "fee_effect_manual": (
        "送料を記録します（RMSへの書き込みはしません）。RMSで送料を修正してください。",
        "Records the fee (nothing is written to RMS). Fix the fee in RMS.",
    ),
    "fee_review_title": ("送料の確認", "Check the fee"),
    "fee_review_intro": (
        "*{number}* の送料と新しい請求額を確認してください。",
        "Check the fee and the new order total of *{number}*.",
    ),
    "fee_review_package": (
        "送付先: {name} {pref} — 送料 {fee}",
        "Ship to: {name} {pref} — fee {fee}",
    ),
    "fee_review_effect": ("*[確定] を押すと:* {effect}", "*On [Confirm]:* {effect}"),
    "submit_confirm": ("確定", "Confirm"),
    "total_goods": ("商品合計 (税込)", "Goods (incl. tax)"),
    "total_buyer_fee": ("購入者負担の手数料", "Fee paid by the buyer"),
    "total_coupons": ("クーポン", "Coupons"),
    "total_points": ("ポイント利用", "Points used"),
    "total_request": ("請求額", "Order total"),
    "total_unknown": ("不明", "unknown"),
    "total_unknown_note": (
        "請求額は確定できません (不明: {parts})。RMSで確認してください。",
        "The order total cannot be known ({parts} unknown); check it in RMS.",
    ),
    "license_title": ("ライセンスキーの更新", "Licence key"),
    "license_submit": ("保存する", "Save"),
    "license_intro": (
        "*{shop}* の新しいライセンスキーを入力してください。",
        "Enter the new licence key for *{shop}*.",
    ),
    "license_label": ("新しいライセンスキー", "New licence key"),
    "license_placeholder": ("RMSで発行した新しいキーを貼り付け", "Paste the key issued in RMS"),
    "license_secret": (
        "🔒 キーは暗号化して保存され、Slackやログに表示されることはありません。",
        "🔒 The key is stored encrypted and is never shown in Slack or in logs.",
    ),
    "license_delay": (
        "⏳ 新しいキーが使えるようになるまで5〜30分かかることがあります。",
        "⏳ A new key can take 5–30 minutes to start working.",
    ),
    # details
    "details_title": ("注文詳細: {number}", "Order details: {number}"),
    "progress_code": ("RMSステータス", "RMS status"),
    "confirmed_at_rms": ("注文確認日時 (RMS)", "Confirmed in RMS"),
    "fixed_at": ("注文確定日時", "Fixed at"),
    "bundle": ("同梱", "Bundle"),
    "confirmed_by": ("注文確認", "Confirmed"),
    "intended_fees": ("記録した送料", "Recorded fees"),
    "unset_fields": ("未設定の項目", "Unset fields"),
    "package_fee": ("送付先{i}の送料", "shipping fee of package {i}"),
    "was_stage": ("以前: {stage}", "was: {stage}"),
    "error": ("エラー", "Error"),
    "prevent_title": ("再発防止の設定 (RMS)", "Prevention setting (RMS)"),
    "manual_title": (
        "RMSでの送料修正 (APIオプションなし)",
        "Fixing the fee in RMS (no API option)",
    ),
    # input errors
    "error_prefix": ("⚠️ {text}", "⚠️ {text}"),
    "err_bad_number": (
        "注文番号の形式が正しくありません: {token} (例: 123456-20261128-0000000001)",
        "Not a valid order number: {token} (e.g. 123456-20261128-0000000001)",
    ),
    "help_title": ("rms-bot の使い方", "rms-bot help"),
}

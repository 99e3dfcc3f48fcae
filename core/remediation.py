"""The remediation catalogue: what each RMS error means and what staff (and the bot) do about it."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Text:
    """One user-facing string in Japanese (the default) and English."""

    ja: str
    en: str

    def get(self, lang: str) -> str:
        """Return the text in ``lang``; anything but "en" reads Japanese."""
        return self.en if lang == "en" else self.ja


@dataclass(frozen=True, slots=True)
class Remediation:
    """One catalogue entry. ``retry``/``refetch`` say which buttons make sense for it."""

    key: str
    title: Text
    cause: Text
    steps: tuple[Text, ...]
    retry: bool
    refetch: bool


def _t(ja: str, en: str) -> Text:
    return Text(ja, en)


_RENEW_PATH = "店舗様向け情報・サービス › WEB APIサービス › 利用設定 › ライセンスキーの確認・変更"
_FUNCTIONS_PATH = "店舗様向け情報・サービス › WEB APIサービス › 利用機能編集"
_FUNCTIONS = (
    "rpay.order.searchOrder / rpay.order.getOrder / rpay.order.confirmOrder / "
    "rpay.order.updateOrderSender / license.expiryDate.get"
)
_NOT_CONFIRMABLE_JA = "該当の注文は注文確認ができる状態ではありませんでした"

_ENTRIES: tuple[Remediation, ...] = (
    Remediation(
        "auth",
        _t(
            "認証エラー (licenseKey有効期限切れの可能性があります)",
            "Authentication error (the licence key has probably expired)",
        ),
        _t(
            "RMSが認証を受け付けませんでした。"
            "ライセンスキーの有効期限 (発行から90日) が切れているか、"
            "キーが正しくない可能性があります。",
            "RMS refused the credentials. The licence key has probably expired (keys last 90 days "
            "from issue) or it is wrong.",
        ),
        (
            _t(
                f"RMSで「{_RENEW_PATH}」を開き「新しいライセンスキーを発行」を押します",
                f"In RMS open 「{_RENEW_PATH}」 and press "
                "「新しいライセンスキーを発行」 (issue a new key)",
            ),
            _t(
                "Slackで `/rms license` を実行し、開いた画面に新しいキーを貼り付けます "
                "(キーはチャンネルに貼らないでください)",
                "Run `/rms license` in Slack and paste the new key into the form that opens "
                "(never paste a key into a channel)",
            ),
            _t(
                "新しいキーの反映には5〜30分ほどかかります。反映後に [再試行] を押してください",
                "A new key takes 5–30 minutes to start working; then press [Retry]",
            ),
        ),
        retry=True,
        refetch=False,
    ),
    Remediation(
        "function_disabled",
        _t("API機能が有効になっていません (ES04-01)", "API function not enabled (ES04-01)"),
        _t(
            "このライセンスキーでは必要なAPI機能を利用できません。発行したばかりのキーも、"
            "有効になるまでの最大30分ほどは同じエラーになります。",
            "The licence key may not use the API function it needs. A freshly issued key also "
            "answers this for up to 30 minutes until it becomes active.",
        ),
        (
            _t(f"RMSで「{_FUNCTIONS_PATH}」を開きます", f"In RMS open 「{_FUNCTIONS_PATH}」"),
            _t(f"{_FUNCTIONS} を有効にして保存します", f"Enable {_FUNCTIONS} and save"),
            _t(
                "キーを発行したばかりの場合は30分ほど待ってから [再試行] を押してください",
                "If the key was issued just now, wait about 30 minutes, then press [Retry]",
            ),
        ),
        retry=True,
        refetch=False,
    ),
    Remediation(
        "rate_limited",
        _t(
            "Forbidden-Exceeded QPS Limitation (リクエスト数の上限)",
            "Forbidden-Exceeded QPS Limitation (too many requests)",
        ),
        _t(
            "審査件数が多いときなどに出る一時的なエラーです。RMSへのリクエスト数が上限を超えました。",
            "A temporary error, common when many orders are being screened: RMS's request limit "
            "was exceeded.",
        ),
        (
            _t(
                "ボットが間隔をあけて自動で再試行します。通常は対応不要です",
                "The bot paces its requests and retries by itself; usually nothing to do",
            ),
            _t(
                "しばらくしても「注文確認待ち」のままなら [再試行] を押してください",
                "If the order is still 注文確認待ち (awaiting confirmation) after a while, "
                "press [Retry]",
            ),
        ),
        retry=True,
        refetch=False,
    ),
    Remediation(
        "maintenance",
        _t("API In Maintenance (RMSメンテナンス中)", "API In Maintenance (RMS maintenance)"),
        _t(
            "APIのメンテナンスにより、注文確認通知が完了していない可能性があります。"
            "定期メンテナンスは通常 日曜 2:00〜8:00 (日本時間) です。",
            "The confirmation may not have completed because the API is under maintenance. "
            "Scheduled maintenance is typically Sunday 02:00–08:00 JST.",
        ),
        (
            _t(
                "ボットが一時停止し、メンテナンス明けに自動で再試行します",
                "The bot pauses and retries by itself after the maintenance",
            ),
            _t(
                f"その後「{_NOT_CONFIRMABLE_JA}」となった場合は、ボットがRMSステータスを取得し、"
                "【楽天処理中】または【楽天処理済】に更新します",
                "If RMS then says the order is not confirmable, the bot re-fetches the RMS status "
                "itself and updates it to Rakuten processing / Rakuten processed",
            ),
            _t(
                "「注文確認待ち」のまま残っている場合は [再試行] を押してください",
                "If it is still awaiting confirmation, press [Retry]",
            ),
        ),
        retry=True,
        refetch=True,
    ),
    Remediation(
        "unavailable",
        _t("APIエラー (一時的な接続エラー)", "API error (temporary connection error)"),
        _t(
            "一時的なAPI接続エラーです。RMSで処理されたか分からないため、ボットは注文確認通知を"
            "二重に送らず、RMSの状態を確認します。",
            "A temporary API connection error. Since it is unknown whether RMS acted, the bot does "
            "not resend the confirmation; it checks the order in RMS instead.",
        ),
        (
            _t(
                "ボットが自動で再試行し、RMSステータスを取得して処理済みかを確認しました",
                "The bot retried and re-fetched the RMS status to check whether RMS did it",
            ),
            _t(
                "【楽天処理中】または【楽天処理済】になっていれば対応は不要です",
                "If it shows Rakuten processing / Rakuten processed, nothing more to do",
            ),
            _t(
                "まだ「注文確認待ち」の場合は [再試行] を押してください",
                "If it is still awaiting confirmation, press [Retry]",
            ),
        ),
        retry=True,
        refetch=True,
    ),
    Remediation(
        "protocol",
        _t("RMSから想定外の応答がありました", "Unexpected answer from RMS"),
        _t(
            "RMSの応答が仕様と異なっていました。元のコードとメッセージを記録しています。"
            "RMSで処理されたか分からないため、ボットがRMSステータスを取得しました。",
            "RMS answered in a shape it does not document. The raw code and message are kept. "
            "Since it is unknown whether RMS acted, the bot re-fetched the RMS status.",
        ),
        (
            _t(
                "[RMSステータスを取得] で最新の状態を確認してください",
                "Press [Re-fetch RMS status] to see the latest state",
            ),
            _t(
                "繰り返し起きる場合は、コードとメッセージを添えて管理者にご連絡ください",
                "If it keeps happening, tell your administrator, with the code and message",
            ),
        ),
        retry=False,
        refetch=True,
    ),
    Remediation(
        "rejected",
        _t("RMSがリクエストを受け付けませんでした", "RMS refused the request"),
        _t(
            "RMSがリクエストを検証し、受け付けませんでした (コードとメッセージは下記のとおり)。",
            "RMS validated the request and refused it (code and message below).",
        ),
        (
            _t(
                "メッセージの内容を確認し、RMSで注文内容を修正してください",
                "Read the message and correct the order in RMS",
            ),
            _t(
                "修正後に [RMSステータスを取得] を押してください",
                "Then press [Re-fetch RMS status]",
            ),
        ),
        retry=False,
        refetch=True,
    ),
    Remediation(
        "not_confirmable",
        _t(_NOT_CONFIRMABLE_JA, "The order was not in a confirmable state"),
        _t(
            "RMS側で既に注文確認が行われている可能性があります。",
            "The order was probably already confirmed in RMS.",
        ),
        (
            _t(
                "ボットがRMSステータスを取得し、【楽天処理中】または【楽天処理済】に更新されるか確認しました",
                "The bot re-fetched the RMS status itself to see whether it became Rakuten "
                "processing / Rakuten processed",
            ),
            _t(
                "更新されない場合は、RMSで注文のステータスをご確認ください",
                "If it does not change, check the order's status in RMS",
            ),
        ),
        retry=False,
        refetch=True,
    ),
    Remediation(
        "cancelled",
        _t("注文はキャンセルされています", "The order is cancelled"),
        _t(
            "お客様もしくは楽天にて注文がキャンセルされたため、注文確認通知はできません。",
            "The order was cancelled by the customer or by Rakuten, so it cannot be confirmed.",
        ),
        (
            _t("この注文は発送しないでください", "Do not ship this order"),
            _t("詳細はRMSの注文詳細でご確認ください", "See the order in RMS for details"),
        ),
        retry=False,
        refetch=True,
    ),
    Remediation(
        "postage_unset",
        _t("送料が未設定の注文です (-9,999円)", "Shipping fee not set (-9,999 yen)"),
        _t(
            "RMS側の送料設定がされておらず送料が「—-円」表示のため、注文確認通知ができません。",
            "RMS has no shipping fee for this order (shown as 「—-円」), "
            "so it cannot be confirmed.",
        ),
        (
            _t(
                "APIオプションご契約の場合: [送料を入力して承認…] から送料を入力すると、"
                "ボットがRMSに反映して注文確認通知を送信します",
                "With the API option: enter the fee with [Enter fee and approve…]; the bot writes "
                "it to RMS and sends the confirmation",
            ),
            _t(
                "APIオプション未契約の場合: RMSで対象の注文の送料を修正し、Slackで "
                "[RMSステータスを取得] を押してください",
                "Without the API option: fix the fee on the order in RMS, then press "
                "[Re-fetch RMS status] in Slack",
            ),
        ),
        retry=False,
        refetch=True,
    ),
    Remediation(
        "unknown",
        _t("不明なエラー", "Unknown error"),
        _t(
            "RMSがボットの知らないエラーを返しました。元のコードとメッセージを記録しています。",
            "RMS answered with an error the bot does not know. The raw code and text are kept.",
        ),
        (
            _t(
                "[RMSステータスを取得] で注文の状態を確認してください",
                "Press [Re-fetch RMS status] to check the order",
            ),
            _t(
                "解決しない場合は、RMSのコードとメッセージを添えてサポートにお問い合わせください",
                "If that does not help, contact support with the RMS code and message",
            ),
        ),
        retry=False,
        refetch=True,
    ),
    Remediation(
        "license_check_failed",
        _t(
            "ライセンスキーの有効期限を確認できませんでした",
            "Could not check the licence key expiry",
        ),
        _t(
            "有効期限の確認にはライセンス管理API (license.expiryDate.get) が必要です。"
            "利用機能編集で有効になっていない可能性があります。",
            "The expiry check needs the licence-management function license.expiryDate.get, "
            "which is probably not enabled in 利用機能編集.",
        ),
        (
            _t(
                f"RMSで「{_FUNCTIONS_PATH}」を開き、LicenseManagementAPI (ライセンス管理API) の "
                "license.expiryDate.get を有効にします",
                f"In RMS open 「{_FUNCTIONS_PATH}」 and enable license.expiryDate.get "
                "(LicenseManagementAPI)",
            ),
            _t(
                "有効にすると、キーの期限 (90日) が切れる前にボットがお知らせします",
                "Then the bot warns you before the key expires (keys last 90 days)",
            ),
        ),
        retry=False,
        refetch=False,
    ),
)

CATALOGUE: dict[str, Remediation] = {entry.key: entry for entry in _ENTRIES}

_CODES: dict[str, str] = {
    "ES01-01": "auth",
    "GA0001": "auth",
    "ES04-01": "function_disabled",
    "ORDER_EXT_API_CONFIRM_ORDER_ERROR_102": "cancelled",
    "ORDER_EXT_API_CONFIRM_ORDER_ERROR_103": "not_confirmable",
    "ORDER_EXT_API_CONFIRM_ORDER_ERROR_105": "postage_unset",
    "-9999": "postage_unset",
}

# Phrases staff (and RMS) use for the same errors, matched by substring.
_PHRASES: tuple[tuple[str, str], ...] = (
    (_NOT_CONFIRMABLE_JA, "not_confirmable"),
    ("exceeded qps limitation", "rate_limited"),
    ("qpslimit", "rate_limited"),
    ("api in maintenance", "maintenance"),
    ("認証エラー", "auth"),
    ("un-authorised", "auth"),
    ("apiエラー", "unavailable"),
)

PREVENT_UNSET_FEE_TITLE = _t(
    "次回から送料未設定 (-9,999円) にしない設定 (RMS・一度だけ)",
    "Stop -9,999 (fee not set) from recurring: a one-time RMS setting",
)
PREVENT_UNSET_FEE_SUMMARY = _t(
    "送料の追加が発生しない場合は、RMSの配送方法で「離島他の扱い」を"
    "「離島・一部地域でも追加料金がかかることはありません」にすると、"
    "次回以降 -9,999円 になりません。",
    "If you never charge extra postage, set 「離島他の扱い」 to 「離島・一部地域でも追加料金が"
    "かかることはありません」 for your delivery methods in RMS, and -9,999 will not recur.",
)
PREVENT_UNSET_FEE_STEPS: tuple[Text, ...] = (
    _t(
        "店舗設定 > 6. 基本情報設定 > 1 配送・送料設定 > 配送方法・送料設定 を開く",
        "Open 「店舗設定 > 6. 基本情報設定 > 1 配送・送料設定 > 配送方法・送料設定」",
    ),
    _t(
        "配送方法一覧より、変更したい配送方法の送料設定 [変更] を押す",
        "In the delivery method list, press [変更] on the delivery method's fee setting",
    ),
    _t("「送料無料商品の扱い等」の [編集] を押す", "Press [編集] on 「送料無料商品の扱い等」"),
    _t(
        "「離島他の扱い」を「離島・一部地域でも追加料金がかかることはありません」にして "
        "[プレビュー画面へ進む] を押す",
        "Set 「離島他の扱い」 to 「離島・一部地域でも追加料金がかかることはありません」 and press "
        "[プレビュー画面へ進む]",
    ),
    _t(
        "内容を確認して [登録する] を押し、[戻る] を押す",
        "Check the preview, press [登録する], then [戻る]",
    ),
    _t(
        "該当の配送方法を選択し [チェックした配送方法/送料を反映する] を押す",
        "Tick the delivery method and press [チェックした配送方法/送料を反映する]",
    ),
)
MANUAL_FEE_STEPS: tuple[Text, ...] = (
    _t("RMSで対象の注文を開く", "Open the order in RMS"),
    _t("送料を修正する", "Correct the shipping fee"),
    _t("保存する", "Save"),
    _t("Slackで [RMSステータスを取得] を押す", "In Slack, press [Re-fetch RMS status]"),
)


def lookup(key_or_code: str | None) -> Remediation:
    """Return the entry for a key, a raw RMS code or a known RMS phrase; else ``unknown``."""
    raw = (key_or_code or "").strip()
    if raw in CATALOGUE:
        return CATALOGUE[raw]
    upper = raw.upper()
    if upper in _CODES:
        return CATALOGUE[_CODES[upper]]
    if upper.startswith("ES01-"):
        return CATALOGUE["auth"]
    lowered = raw.lower()
    for phrase, key in _PHRASES:
        if phrase in lowered:
            return CATALOGUE[key]
    return CATALOGUE["unknown"]

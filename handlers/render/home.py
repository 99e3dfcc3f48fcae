"""The App Home tab: a per-shop dashboard with quick buttons."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from core.home import ShopHome
from core.licenses import LICENSE_WARN_DAYS
from core.model import Stage
from core.remediation import lookup
from handlers.render import ids
from handlers.render.blocks import (
    MAX_MODAL_BLOCKS,
    Block,
    actions,
    button,
    context,
    divider,
    escape,
    fields,
    header,
    section,
)
from handlers.render.i18n import Lang, age, catalogue, count, jst, stage_label

__all__ = ["ShopHome", "home_view"]


_TEXTS: dict[str, tuple[str, str]] = {
    "title": ("🏠 rms-bot ダッシュボード", "🏠 rms-bot dashboard"),
    "updated": ("{when} 時点", "as of {when}"),
    "no_shops": ("店舗が設定されていません。", "No shops are configured."),
    "oldest": ("🕰️ 最も古い未対応の注文", "🕰️ Oldest waiting order"),
    "oldest_none": ("🕰️ 未対応の注文はありません", "🕰️ No waiting orders"),
    "ordered": ("{age}前に注文", "ordered {age} ago"),
    "last_success": ("📡 最後にRMSと通信できた日時: {when}", "📡 Last successful RMS call: {when}"),
    "never": ("まだありません", "none yet"),
    "failing": ("🔴 RMSでエラーが続いています: {title}", "🔴 RMS keeps failing: {title}"),
    "license": ("🔑 ライセンスキー: {text}", "🔑 Licence key: {text}"),
    "lic_left": ("あと{n}日", "{n} days left"),
    "lic_today": ("本日まで", "expires today"),
    "lic_expired": ("⛔ 期限切れ", "⛔ expired"),
    "lic_unknown": ("未確認", "not checked"),
    "btn_pending": ("注文確認待ち", "Awaiting confirmation"),
    "btn_flagged": ("要対応", "Needs action"),
    "btn_summary": ("本日のサマリー", "Today's summary"),
    "more_shops": (
        "…他{n}店舗は `/rms summary` でご覧ください",
        "…{n} more shops: see `/rms summary`",
    ),
}

_BLOCKS_PER_SHOP = 5


_t = catalogue(_TEXTS)


def _license(days_left: int | None, lang: Lang) -> str:
    if days_left is None:
        return _t("lic_unknown", lang)
    if days_left < 0:
        return _t("lic_expired", lang)
    text = _t("lic_today", lang) if days_left == 0 else _t("lic_left", lang, n=days_left)
    return f"⚠️ {text}" if days_left <= LICENSE_WARN_DAYS else text


def _shop_blocks(home: ShopHome, lang: Lang, now: datetime) -> list[Block]:
    counts = [
        f"*{stage_label(stage, lang, emoji=True)}*\n{count(home.count(stage), lang)}"
        for stage in Stage
    ]
    if home.oldest_waiting and home.oldest_waiting_at:
        oldest = (
            f"{_t('oldest', lang)}: `{escape(home.oldest_waiting)}` "
            f"({stage_label(home.oldest_waiting_stage, lang)}, "
            f"{_t('ordered', lang, age=age(home.oldest_waiting_at, now, lang))})"
        )
    else:
        oldest = _t("oldest_none", lang)
    last = (
        f"{jst(home.last_success, lang)} ({age(home.last_success, now, lang)})"
        if home.last_success
        else _t("never", lang)
    )
    notes = [
        _t("last_success", lang, when=last),
        _t("license", lang, text=_license(home.license_days_left, lang)),
    ]
    if home.failing:
        notes.insert(0, _t("failing", lang, title=lookup(home.failing).title.get(lang)))
    return [
        header(home.name),
        fields(counts),
        section(oldest),
        context(*notes),
        actions(
            button(_t("btn_pending", lang), ids.HOME_PENDING, home.shop),
            button(_t("btn_flagged", lang), ids.HOME_FLAGGED, home.shop, style="danger")
            if home.count(Stage.NEEDS_ACTION)
            else button(_t("btn_flagged", lang), ids.HOME_FLAGGED, home.shop),
            button(_t("btn_summary", lang), ids.HOME_SUMMARY, home.shop),
        ),
    ]


def home_view(shops: Sequence[ShopHome], lang: Lang, now: datetime) -> dict[str, Any]:
    """The Home tab view (type "home", at most 100 blocks)."""
    blocks: list[Block] = [
        header(_t("title", lang)),
        context(_t("updated", lang, when=jst(now, lang))),
    ]
    if not shops:
        blocks.append(section(_t("no_shops", lang)))
    room = (MAX_MODAL_BLOCKS - len(blocks) - 1) // (_BLOCKS_PER_SHOP + 1)
    for home in shops[:room]:
        blocks += [divider(), *_shop_blocks(home, lang, now)]
    if len(shops) > room:
        blocks.append(context(_t("more_shops", lang, n=len(shops) - room)))
    return {"type": "home", "blocks": blocks}

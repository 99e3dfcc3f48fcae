"""同梱 results and candidate lists for `/rms bundle|unbundle|candidates` (pure)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from core.model import OrderRecord
from core.outcomes import Outcome, Report
from handlers.render.blocks import context, header, line_sections, message
from handlers.render.i18n import Lang, catalogue, reason_text, stage_label
from handlers.render.remedy import entry_for

Message = dict[str, Any]

_T = {
    "bundled": ("📦 同梱しました ({shop}): {bundle}", "📦 Bundled ({shop}): {bundle}"),
    "unbundled": ("同梱を解除しました ({shop})", "Bundle dissolved ({shop})"),
    "refused": ("同梱できませんでした ({shop})", "Could not bundle ({shop})"),
    "rule": (
        "同梱は、送料が確定し注文確認通知を送信済み (楽天処理中・楽天処理済) の注文だけです。"
        "同梱後に内容を変更するときは、先に `/rms unbundle` で解除してください。",
        "Only fee-complete, confirmed orders (Rakuten processing/processed) can be bundled. "
        "To edit a bundled order, unbundle it first with `/rms unbundle`.",
    ),
    "candidates": (
        "同梱候補 ({shop}): 同じ注文者・同じお届け先",
        "Bundle candidates ({shop}): same orderer and destination",
    ),
    "none": ("同梱候補はありません。", "No bundle candidates."),
}


_t = catalogue(_T)


def bundle_report(report: Report, lang: Lang = "ja", *, shop_name: str) -> Message:
    """The outcome of a bundle or unbundle request, every order with its reason."""
    outcomes = report.outcomes
    if outcomes and all(o.outcome is Outcome.BUNDLED for o in outcomes):
        title = _t("bundled", lang, shop=shop_name, bundle=outcomes[0].detail)
    elif outcomes and all(o.outcome is Outcome.UNBUNDLED for o in outcomes):
        title = _t("unbundled", lang, shop=shop_name)
    else:
        title = _t("refused", lang, shop=shop_name)
    lines = []
    for o in outcomes:
        why = f" — {reason_text(o.reason, lang)}" if o.reason else ""
        if o.error is not None and not why:  # RMS could not be re-read before bundling
            why = f" — {entry_for(o.error).title.get(lang)}"
        stage = f" ({stage_label(o.stage, lang)})" if o.stage else ""
        lines.append(f"• `{o.order_number}`{stage}{why}")
    blocks = [header(title), *line_sections(lines), context(_t("rule", lang))]
    return message(title, blocks)


def candidates_message(
    groups: Sequence[Sequence[OrderRecord]], lang: Lang = "ja", *, shop_name: str
) -> Message:
    """Groups of orders that could ship together, with the command to bundle them."""
    title = _t("candidates", lang, shop=shop_name)
    if not groups:
        return message(_t("none", lang), [header(title), context(_t("none", lang))])
    lines = []
    for group in groups[:20]:
        first = group[0].snapshot
        who = f"{first.orderer.family_name} {first.orderer.first_name}".strip()
        numbers = " ".join(r.number for r in group)
        stages = "/".join(stage_label(r.stage, lang) for r in group)
        lines.append(f"• {who}: {stages}\n`/rms bundle {numbers}`")
    return message(title, [header(title), *line_sections(lines), context(_t("rule", lang))])

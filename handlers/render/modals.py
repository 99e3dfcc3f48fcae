"""Modal views: the per-package shipping-fee form, its confirmation, and the licence-key form."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from core.fee_table import Proposal
from core.lifecycle import DEFAULT_MAX_POSTAGE_YEN
from core.model import UNSET_FEE, OrderRecord
from core.order_total import (
    BUYER_FEE,
    COD_FEE,
    COUPONS,
    GOODS,
    PAYMENT_CHARGE,
    POINTS,
    POSTAGE,
    NewTotal,
    new_total,
)
from core.remediation import lookup
from handlers.render import ids
from handlers.render.blocks import Block, context, escape, modal, section, text_input
from handlers.render.i18n import Lang, t, yen, yen_total
from handlers.render.order_view import orderer_text
from handlers.render.remedy import numbered

LICENSE_KEY_MAX = 50
"""RMS licence keys are at most 50 characters."""


def _proposed(proposal: Proposal | None, basket_id: int) -> str | None:
    fee = proposal.fees.get(basket_id) if proposal is not None else None
    return None if fee is None else str(fee)


def _initial_fee(record: OrderRecord, basket_id: int, current: int) -> str | None:
    recorded = (record.intended_fees or {}).get(basket_id)
    if recorded is not None:
        return str(recorded)
    return None if current == UNSET_FEE else str(current)


_TOTAL_LABELS = {
    GOODS: "total_goods",
    POSTAGE: "fee_word",
    COD_FEE: "delivery_fee",
    PAYMENT_CHARGE: "payment_charge",
    BUYER_FEE: "total_buyer_fee",
    COUPONS: "total_coupons",
    POINTS: "total_points",
}


def fee_modal(
    record: OrderRecord,
    api_option: bool,
    lang: Lang = "ja",
    private_metadata: str = "",
    max_fee: int = DEFAULT_MAX_POSTAGE_YEN,
    proposal: Proposal | None = None,
) -> dict[str, Any]:
    """The 送料の入力 modal: one input per package (block f"fee_{basketId}", action fee_input),
    prefilled with the fee table's proposal when there is one (and how it was computed).

    [次へ] only checks the fees; the confirmation view (fee_review_modal) does the rest.
    """
    order = record.snapshot
    intro = "\n".join(
        [
            t("fee_modal_intro", lang, number=record.number),
            f"{t('orderer', lang)}: {orderer_text(order.orderer)}",
            f"{t('goods_total', lang)}: {yen_total(order.goods_price, lang)}",
        ]
    )
    blocks: list[Block] = [section(intro)]
    for package in order.packages:
        rcpt = package.recipient
        label = t("fee_label", lang, name=rcpt.name or "—", pref=rcpt.address.prefecture).strip()
        if package.isolated_island:
            label += f" {t('island', lang)}"
        blocks.append(
            text_input(
                ids.fee_block_id(package.basket_id),
                ids.FEE_INPUT,
                label,
                initial=_initial_fee(record, package.basket_id, package.postage_price)
                or _proposed(proposal, package.basket_id),
                placeholder=t("fee_placeholder", lang),
                hint=t("fee_hint", lang, max=yen(max_fee, lang)),
                max_length=7,
            )
        )
    if proposal is not None:
        blocks.append(context(t("held_proposal", lang, how=escape("; ".join(proposal.how)))))
    blocks.append(context(_effect(api_option, lang)))
    blocks.append(context(t("fee_modal_next", lang)))
    return modal(
        ids.FEE_MODAL,
        t("fee_modal_title", lang),
        blocks,
        submit=t("submit_next", lang),
        close=t("close", lang),
        private_metadata=private_metadata,
    )


def fee_review_modal(
    record: OrderRecord,
    fees: Mapping[int, int],
    api_option: bool,
    lang: Lang = "ja",
    private_metadata: str = "",
) -> dict[str, Any]:
    """The confirmation step: each package's fee, 商品合計 + 送料 … = 請求額, and what 確定 does."""
    order = record.snapshot
    packages = [
        t(
            "fee_review_package",
            lang,
            name=escape(p.recipient.name or "—"),
            pref=p.recipient.address.prefecture,
            fee=yen(fees.get(p.basket_id), lang),
        ).strip()
        for p in order.packages
    ]
    blocks: list[Block] = [
        section(t("fee_review_intro", lang, number=record.number)),
        section("\n".join(packages)),
        section(total_text(new_total(order, fees), lang)),
        section(t("fee_review_effect", lang, effect=_effect(api_option, lang))),
    ]
    return modal(
        ids.FEE_MODAL,
        t("fee_review_title", lang),
        blocks,
        submit=t("submit_confirm", lang),
        close=t("close", lang),
        private_metadata=private_metadata,
    )


def notice_modal(text: str, lang: Lang = "ja") -> dict[str, Any]:
    """A modal that only tells (a refusal at submission): nothing to submit, only close."""
    return modal(
        ids.FEE_MODAL, t("fee_review_title", lang), [section(text)], close=t("close", lang)
    )


def total_text(total: NewTotal, lang: Lang = "ja") -> str:
    """商品合計 (税込) 1,000円 ＋ 送料 800円 … ＝ 請求額 1,800円, one term a line; unknowns said."""
    lines: list[str] = []
    for i, part in enumerate(total.parts):
        sign = "" if i == 0 else ("－" if part.amount is not None and part.amount < 0 else "＋")
        amount = t("total_unknown", lang) if part.amount is None else yen(abs(part.amount), lang)
        lines.append(f"{sign} {t(_TOTAL_LABELS[part.key], lang)}: {amount}".strip())
    if total.total is None:
        unknown = ("、" if lang == "ja" else ", ").join(
            t(_TOTAL_LABELS[k], lang) for k in total.unknown
        )
        lines.append(f"＝ *{t('total_request', lang)}: {t('total_unknown', lang)}*")
        lines.append(t("total_unknown_note", lang, parts=unknown))
    else:
        lines.append(f"＝ *{t('total_request', lang)}: {yen(total.total, lang)}*")
    return "\n".join(lines)


def _effect(api_option: bool, lang: Lang) -> str:
    return t("fee_effect_api" if api_option else "fee_effect_manual", lang)


def license_modal(shop_name: str, lang: Lang = "ja", private_metadata: str = "") -> dict[str, Any]:
    """The licence-key modal: one input, never prefilled; stored encrypted, 5–30 min to apply."""
    renew = lookup("auth")
    blocks: list[Block] = [
        section(t("license_intro", lang, shop=escape(shop_name))),
        section(numbered(renew.steps[:1], lang)),
        text_input(
            ids.LICENSE_BLOCK,
            ids.LICENSE_INPUT,
            t("license_label", lang),
            placeholder=t("license_placeholder", lang),
            max_length=LICENSE_KEY_MAX,
        ),
        context(t("license_secret", lang)),
        context(t("license_delay", lang)),
    ]
    return modal(
        ids.LICENSE_MODAL,
        t("license_title", lang),
        blocks,
        submit=t("license_submit", lang),
        close=t("close", lang),
        private_metadata=private_metadata,
    )

"""Modal views: the per-package shipping-fee form and the licence-key form."""

from __future__ import annotations

from typing import Any

from core.model import UNSET_FEE, OrderRecord
from core.remediation import lookup
from handlers.render import ids
from handlers.render.blocks import Block, context, escape, modal, section, text_input
from handlers.render.i18n import Lang, t, yen_total
from handlers.render.order_view import orderer_text
from handlers.render.remedy import numbered

LICENSE_KEY_MAX = 50
"""RMS licence keys are at most 50 characters (rms-api.md §2.1)."""


def _initial_fee(record: OrderRecord, basket_id: int, current: int) -> str | None:
    recorded = (record.intended_fees or {}).get(basket_id)
    if recorded is not None:
        return str(recorded)
    return None if current == UNSET_FEE else str(current)


def fee_modal(
    record: OrderRecord, api_option: bool, lang: Lang = "ja", private_metadata: str = ""
) -> dict[str, Any]:
    """The 送料の入力 modal: one input per package (block f"fee_{basketId}", action fee_input)."""
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
                initial=_initial_fee(record, package.basket_id, package.postage_price),
                placeholder=t("fee_placeholder", lang),
                hint=t("fee_hint", lang),
                max_length=7,
            )
        )
    blocks.append(context(t("fee_modal_api" if api_option else "fee_modal_manual", lang)))
    return modal(
        ids.FEE_MODAL,
        t("fee_modal_title", lang),
        blocks,
        submit=t("submit_api" if api_option else "submit_manual", lang),
        close=t("close", lang),
        private_metadata=private_metadata,
    )


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

"""Pieces of an order as a clerk reads it, shared by cards, details and modals."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime

from core.lifecycle import DEADLINE_WARN_DAYS
from core.model import UNSET_FEE, Item, OrderRecord, Package, Person, RmsOrder
from handlers.render.blocks import Block, escape, fields, section, truncate
from handlers.render.i18n import (
    Lang,
    days_left,
    due_text,
    jst,
    stage_label,
    t,
    yen,
    yen_total,
)
from handlers.render.ids import pack_value

MAX_ITEMS_PER_PACKAGE = 10
REMARKS_SHORT = 500


def person_name(person: Person) -> str:
    """Name with kana in brackets: 山田 太郎 (ヤマダ タロウ)."""
    kana = f"{person.family_name_kana} {person.first_name_kana}".strip()
    name = person.name or "—"
    return escape(f"{name} ({kana})" if kana else name)


def orderer_text(person: Person) -> str:
    """Orderer: name (kana) · prefecture. Phone numbers and e-mail are never posted."""
    parts = [person_name(person)]
    if person.address.prefecture:
        parts.append(escape(person.address.prefecture))
    return " · ".join(parts)


def fee_text(amount: int, lang: Lang) -> str:
    """A fee value; an unset fee is bold with a warning mark so it cannot be missed."""
    return f"*⚠️ {yen(amount, lang)}*" if amount == UNSET_FEE else yen(amount, lang)


def item_line(item: Item, lang: Lang, *, tax: bool = False) -> str:
    """• name (item number) [choice] units × price."""
    code = f" ({escape(item.item_number)})" if item.item_number else ""
    choice = item.selected_choice.replace("\n", " / ").strip()
    choice_text = f" [{escape(truncate(choice, 120))}]" if choice else ""
    price = f"{item.units} × {yen(item.price, lang)}"
    if tax and item.price_tax_incl and item.price_tax_incl != item.price:
        price += f" ({t('tax_incl', lang)} {yen(item.price_tax_incl, lang)})"
    return f"• {escape(truncate(item.name, 200))}{code}{choice_text}  {price}"


def package_section(
    package: Package,
    index: int,
    lang: Lang,
    *,
    item_limit: int = MAX_ITEMS_PER_PACKAGE,
    detailed: bool = False,
) -> Block:
    """One destination: recipient, address, island flag, items and its shipping fee."""
    rcpt = package.recipient
    island = f"  {t('island', lang)}" if package.isolated_island else ""
    lines = [
        f"*{t('package_n', lang, i=index)}* {person_name(rcpt)}{island}",
        escape(rcpt.address.one_line()) or "—",
    ]
    lines += [item_line(item, lang, tax=detailed) for item in package.items[:item_limit]]
    if len(package.items) > item_limit:
        lines.append(t("more_items", lang, n=len(package.items) - item_limit))
    fee_line = f"{t('postage', lang)}: {fee_text(package.postage_price, lang)}"
    if detailed and package.delivery_price:
        fee_line += f" · {t('delivery_fee', lang)}: {yen(package.delivery_price, lang)}"
    lines.append(fee_line)
    return section("\n".join(lines))


def head_fields(record: OrderRecord, lang: Lang, now: datetime | None) -> Block:
    """Order number, time, deadline, orderer, payment, stage — one fields section."""
    order = record.snapshot
    return fields(
        [
            f"*{t('order_number', lang)}*\n`{record.number}`",
            f"*{t('ordered_at', lang)}*\n{jst(order.ordered_at, lang)}",
            f"*{t('cancel_due', lang)}*\n{due_text(order.cancel_due, now, lang)}",
            f"*{t('stage', lang)}*\n{stage_label(record.stage, lang, emoji=True)}",
            f"*{t('orderer', lang)}*\n{orderer_text(order.orderer)}",
            f"*{t('payment', lang)}*\n{escape(order.settlement) or '—'}",
        ]
    )


def due_warning(order: RmsOrder, now: datetime | None, lang: Lang) -> str | None:
    """The red escalation line when ≤ 2 days are left before the 14-day auto-cancel."""
    if order.cancel_due is None or now is None:
        return None
    left = days_left(order.cancel_due, now)
    return t("due_warning", lang, n=max(left, 0)) if left <= DEADLINE_WARN_DAYS else None


def totals_fields(order: RmsOrder, lang: Lang) -> Block:
    """商品合計 / 送料 / 代引料 / 決済手数料 / 合計 / 請求額 (−9999 reads 未確定 / 送料未設定)."""
    return fields(
        [
            f"*{t('goods_total', lang)}*\n{yen_total(order.goods_price, lang)}",
            f"*{t('postage', lang)}*\n{fee_text(order.postage_price, lang)}",
            f"*{t('delivery_fee', lang)}*\n{yen_total(order.delivery_price, lang)}",
            f"*{t('payment_charge', lang)}*\n{yen_total(order.payment_charge, lang)}",
            f"*{t('total', lang)}*\n{yen_total(order.total_price, lang)}",
            f"*{t('request_price', lang)}*\n{yen_total(order.request_price, lang)}",
        ]
    )


def remarks_section(order: RmsOrder, lang: Lang, *, limit: int = REMARKS_SHORT) -> Block | None:
    """備考 (buyer comments), truncated; None when empty."""
    remarks = order.remarks.strip()
    if not remarks:
        return None
    return section(f"*{t('remarks', lang)}*\n{escape(truncate(remarks, limit))}")


def fees_text(record: OrderRecord, lang: Lang, fees: Mapping[int, int] | None = None) -> str:
    """The fee(s) entered or now in RMS: 800円, or 800円 + 1,200円; "" when none is known."""
    chosen = fees if fees is not None else record.intended_fees
    if chosen:
        amounts = [chosen[basket] for basket in sorted(chosen)]
    else:
        amounts = [p.postage_price for p in record.snapshot.packages] or [
            record.snapshot.postage_price
        ]
    known = [a for a in amounts if a != UNSET_FEE]
    return " + ".join(yen(a, lang) for a in known) if len(known) == len(amounts) else ""


def value_for(record: OrderRecord) -> str:
    """The "shop|order_number" value of one order's buttons."""
    return pack_value(record.shop, record.number)

"""JSON codec for stored snapshots: RmsOrder <-> dict, only what the bot shows or decides on.

Not stored (issue 10 item 7): the raw getOrder JSON (e-mail, birth date, card details …; the fee
write re-reads the full models from RMS at write time), the recipients' phone numbers and the
orderer's address beyond the prefecture. The orderer's phone stays: 同梱 candidates match on it.
"""

from __future__ import annotations

import json
from datetime import date, datetime
from typing import Any

from core.model import Address, Item, Package, Person, RmsOrder, Stage
from core.outcomes import ErrorInfo, OrderOutcome, Outcome, Reason, Report


def _dt(value: str | None) -> datetime | None:
    return datetime.fromisoformat(value) if value else None


def _person(d: dict[str, Any]) -> Person:
    return Person(
        family_name=d.get("family_name", ""),
        first_name=d.get("first_name", ""),
        family_name_kana=d.get("family_name_kana", ""),
        first_name_kana=d.get("first_name_kana", ""),
        phone=d.get("phone", ""),
        address=Address(**d.get("address", {})),
    )


def _person_dict(p: Person, *, orderer: bool) -> dict[str, Any]:
    """Names are shown; the orderer's phone and prefecture, and the recipient's address, too."""
    address: dict[str, str] = {"prefecture": p.address.prefecture}
    if not orderer:
        address |= {
            "zip_code": p.address.zip_code,
            "city": p.address.city,
            "sub_address": p.address.sub_address,
        }
    d: dict[str, Any] = {
        "family_name": p.family_name,
        "first_name": p.first_name,
        "family_name_kana": p.family_name_kana,
        "first_name_kana": p.first_name_kana,
        "address": address,
    }
    if orderer:
        d["phone"] = p.phone
    return d


def dump_order(order: RmsOrder) -> str:
    """Serialise a snapshot to JSON text."""
    d = {
        "number": order.number,
        "progress": order.progress,
        "ordered_at": order.ordered_at.isoformat(),
        "orderer": _person_dict(order.orderer, orderer=True),
        "confirmed_at": order.confirmed_at.isoformat() if order.confirmed_at else None,
        "fixed_at": order.fixed_at.isoformat() if order.fixed_at else None,
        "cancel_due": order.cancel_due.isoformat() if order.cancel_due else None,
        "settlement": order.settlement,
        "settlement_code": order.settlement_code,
        "delivery_name": order.delivery_name,
        "goods_price": order.goods_price,
        "postage_price": order.postage_price,
        "delivery_price": order.delivery_price,
        "payment_charge": order.payment_charge,
        "total_price": order.total_price,
        "request_price": order.request_price,
        "remarks": order.remarks,
        "wrapping_price": order.wrapping_price,
        "buyer_fee": order.buyer_fee,
        "coupon_total": order.coupon_total,
        "points_used": order.points_used,
        "packages": [
            {
                "basket_id": p.basket_id,
                "postage_price": p.postage_price,
                "delivery_price": p.delivery_price,
                "recipient": _person_dict(p.recipient, orderer=False),
                "isolated_island": p.isolated_island,
                "items": [
                    {
                        "item_detail_id": i.item_detail_id,
                        "name": i.name,
                        "item_number": i.item_number,
                        "units": i.units,
                        "price": i.price,
                        "price_tax_incl": i.price_tax_incl,
                        "selected_choice": i.selected_choice,
                    }
                    for i in p.items
                ],
            }
            for p in order.packages
        ],
    }
    return json.dumps(d, ensure_ascii=False, separators=(",", ":"))


def load_order(text: str) -> RmsOrder:
    """Rebuild a snapshot from JSON text written by ``dump_order``.

    A purged order (core/retention.py) has no orderer, recipients or remarks: they read empty.
    A "raw" key written by older versions is ignored.
    """
    d = json.loads(text)
    due = d.get("cancel_due")
    ordered_at = _dt(d["ordered_at"])
    assert ordered_at is not None
    return RmsOrder(
        number=d["number"],
        progress=d["progress"],
        ordered_at=ordered_at,
        orderer=_person(d.get("orderer", {})),
        confirmed_at=_dt(d.get("confirmed_at")),
        fixed_at=_dt(d.get("fixed_at")),
        cancel_due=date.fromisoformat(due) if due else None,
        settlement=d.get("settlement", ""),
        settlement_code=d.get("settlement_code"),
        delivery_name=d.get("delivery_name", ""),
        goods_price=d.get("goods_price", 0),
        postage_price=d.get("postage_price", 0),
        delivery_price=d.get("delivery_price", 0),
        payment_charge=d.get("payment_charge", 0),
        total_price=d.get("total_price", 0),
        request_price=d.get("request_price", 0),
        remarks=d.get("remarks", ""),
        wrapping_price=d.get("wrapping_price"),
        buyer_fee=d.get("buyer_fee"),
        coupon_total=d.get("coupon_total"),
        points_used=d.get("points_used"),
        packages=tuple(
            Package(
                basket_id=p["basket_id"],
                postage_price=p["postage_price"],
                delivery_price=p.get("delivery_price", 0),
                recipient=_person(p.get("recipient", {})),
                isolated_island=p.get("isolated_island", False),
                items=tuple(Item(**i) for i in p.get("items", [])),
            )
            for p in d.get("packages", [])
        ),
    )


def dump_report(report: Report) -> dict[str, Any]:
    """A request's report as JSON-ready data (stored with the finished request)."""
    return {
        "shop": report.shop,
        "actor": report.actor,
        "action": report.action,
        "rms_calls": report.rms_calls,
        "outcomes": [
            {
                "order_number": o.order_number,
                "outcome": o.outcome.value,
                "stage": o.stage.value if o.stage else None,
                "reason": o.reason.value if o.reason else None,
                "error": [o.error.key, o.error.code, o.error.message, list(o.error.bot_did)]
                if o.error
                else None,
                "by": o.by,
                "at": o.at.isoformat() if o.at else None,
                "detail": o.detail,
                "fees": {str(k): v for k, v in o.fees.items()} if o.fees is not None else None,
            }
            for o in report.outcomes
        ],
    }


def load_report(data: dict[str, Any]) -> Report:
    """The inverse of dump_report."""
    outcomes = []
    for o in data["outcomes"]:
        error = o["error"]
        outcomes.append(
            OrderOutcome(
                order_number=o["order_number"],
                outcome=Outcome(o["outcome"]),
                stage=Stage(o["stage"]) if o["stage"] else None,
                reason=Reason(o["reason"]) if o["reason"] else None,
                error=ErrorInfo(error[0], error[1], error[2], tuple(error[3])) if error else None,
                by=o["by"],
                at=_dt(o["at"]),
                detail=o["detail"],
                fees={int(k): v for k, v in o["fees"].items()} if o["fees"] is not None else None,
            )
        )
    return Report(
        shop=data["shop"],
        actor=data["actor"],
        action=data["action"],
        outcomes=tuple(outcomes),
        rms_calls=data["rms_calls"],
    )

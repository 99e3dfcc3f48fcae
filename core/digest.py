"""Result digests (pure): one batch of outbox events → one digest per shop channel."""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field, fields
from datetime import datetime
from typing import Any

from core.events import Event, EventKind
from core.model import ShopConfig


@dataclass(frozen=True, slots=True)
class DigestLine:
    """One order in one digest section, with the data of its latest event there."""

    order_number: str
    at: datetime
    data: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Digest:
    """What changed for one shop in one poll cycle; sections keep the order events came in.

    ``event_ids`` lists every event folded in, so the caller marks exactly those as posted.
    """

    shop: str
    channel: str
    processed: tuple[DigestLine, ...] = ()  # 楽天処理済 — ready to ship
    flagged: tuple[DigestLine, ...] = ()  # newly 要対応
    errors: tuple[DigestLine, ...] = ()  # エラー (one line each; the remediation card explains)
    stuck: tuple[DigestLine, ...] = ()  # still 楽天処理中 past the threshold
    deadline: tuple[DigestLine, ...] = ()  # near the 14-day auto-cancel
    cancelled: tuple[DigestLine, ...] = ()
    confirmed: tuple[DigestLine, ...] = ()  # 注文確認通知を送信
    adopted: tuple[DigestLine, ...] = ()  # confirmed in RMS directly; adopted
    fee_resolved: tuple[DigestLine, ...] = ()  # -9999 fixed
    new: tuple[DigestLine, ...] = ()  # new orders: listed, but never a reason to post
    event_ids: tuple[int, ...] = ()

    def sections(self) -> Iterator[tuple[str, tuple[DigestLine, ...]]]:
        """(name, lines) for every section, in display order, empty ones included."""
        for f in fields(self):
            if f.name not in ("shop", "channel", "event_ids"):
                yield f.name, getattr(self, f.name)

    @property
    def empty(self) -> bool:
        """True when no section but 新着 has a line: new orders alone are not news (they are
        listed in the next digest with something to say, and in /rms pending)."""
        return not any(lines for name, lines in self.sections() if name != "new")


SECTION_OF: dict[EventKind, str] = {
    EventKind.ORDER_PROCESSED: "processed",
    EventKind.ORDER_FLAGGED: "flagged",
    EventKind.ORDER_ERROR: "errors",
    EventKind.ORDER_STUCK: "stuck",
    EventKind.CANCEL_DEADLINE_NEAR: "deadline",
    EventKind.ORDER_CANCELLED: "cancelled",
    EventKind.ORDER_CONFIRMED: "confirmed",
    EventKind.ORDER_ADOPTED: "adopted",
    EventKind.ORDER_FEE_RESOLVED: "fee_resolved",
    EventKind.ORDER_NEW: "new",
}
"""Which digest section each event kind feeds."""

DIGEST_KINDS = frozenset(SECTION_OF)


def is_digest_kind(kind: EventKind | str) -> bool:
    """True for the per-order event kinds a result digest reports."""
    try:
        return EventKind(kind) in DIGEST_KINDS
    except ValueError:
        return False


def build_digests(events: Sequence[Event], shops: Mapping[str, ShopConfig]) -> list[Digest]:
    """Fold a batch of events into one digest per shop (in shop order of first appearance).

    Only digest kinds with an order number are used; events of unknown shops and other kinds
    are left out (and their ids too: they are not this digest's to mark). Within a section an
    order appears once, with its latest event's data. Empty digests are not returned.
    """
    per_shop: dict[str, dict[str, dict[str, DigestLine]]] = {}
    ids: dict[str, list[int]] = {}
    for event in sorted(events, key=lambda e: e.id):
        section = SECTION_OF.get(event.kind)
        if section is None or event.order_number is None or event.shop not in shops:
            continue
        found = per_shop.setdefault(event.shop, {}).setdefault(section, {})
        found.pop(event.order_number, None)  # the latest event wins, placed last
        found[event.order_number] = DigestLine(event.order_number, event.at, dict(event.data))
        ids.setdefault(event.shop, []).append(event.id)
    digests = [
        _digest(shop, shops[shop].channel, found, ids[shop]) for shop, found in per_shop.items()
    ]
    return [d for d in digests if not d.empty]


def _digest(
    shop: str, channel: str, found: dict[str, dict[str, DigestLine]], ids: list[int]
) -> Digest:
    def take(name: str) -> tuple[DigestLine, ...]:
        return tuple(found.get(name, {}).values())

    return Digest(
        shop=shop,
        channel=channel,
        processed=take("processed"),
        flagged=take("flagged"),
        errors=take("errors"),
        stuck=take("stuck"),
        deadline=take("deadline"),
        cancelled=take("cancelled"),
        confirmed=take("confirmed"),
        adopted=take("adopted"),
        fee_resolved=take("fee_resolved"),
        new=take("new"),
        event_ids=tuple(ids),
    )

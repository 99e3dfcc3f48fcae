"""Result digests: grouping events per shop, and rendering them within Slack's limits."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime, timedelta
from typing import Any

from core.digest import Digest, build_digests, is_digest_kind
from core.events import Event, EventKind
from core.model import ShopConfig
from handlers.render.blocks import MAX_BLOCKS, MAX_TEXT
from handlers.render.digest import INLINE_ORDERS, digest_messages

SHOPS = {
    "main": ShopConfig(key="main", name="本店", channel="C0MAIN"),
    "api": ShopConfig(key="api", name="API店", channel="C0API", api_option=True),
}
T0 = datetime(2026, 11, 28, 5, 0, tzinfo=UTC)
NUMBER = re.compile(r"\d{6,7}-\d{8}-\d{8,10}")


def number(i: int, shop: str = "111111") -> str:
    return f"{shop}-20261128-{i:010d}"


class Events:
    def __init__(self) -> None:
        self.items: list[Event] = []

    def add(self, kind: EventKind, order: str | None, shop: str = "main", **data: Any) -> Event:
        at = T0 + timedelta(seconds=len(self.items))
        event = Event(len(self.items) + 1, shop, kind, order, at, data)
        self.items.append(event)
        return event


def texts(value: Any) -> list[str]:
    """Every "text" string inside a Block Kit structure."""
    found: list[str] = []
    if isinstance(value, dict):
        for key, inner in value.items():
            if key == "text" and isinstance(inner, str):
                found.append(inner)
            else:
                found += texts(inner)
    elif isinstance(value, list):
        for inner in value:
            found += texts(inner)
    return found


def numbers_in(messages: list[dict[str, Any]]) -> list[str]:
    return [n for m in messages for t in texts(m["blocks"]) for n in NUMBER.findall(t)]


def assert_within_limits(messages: list[dict[str, Any]]) -> None:
    for m in messages:
        assert len(m["blocks"]) <= MAX_BLOCKS
        assert len(m["text"]) <= MAX_TEXT
        for text in texts(m["blocks"]):
            assert len(text) <= MAX_TEXT
        assert len(json.dumps(m["blocks"], ensure_ascii=False)) < 13_000


def test_events_are_grouped_per_shop_into_sections_and_every_event_id_is_kept():
    ev = Events()
    ev.add(EventKind.ORDER_PROCESSED, number(1), minutes=31)
    ev.add(EventKind.ORDER_CANCELLED, number(2), progress=900, **{"from": "processing"})
    ev.add(EventKind.ORDER_FLAGGED, number(3, "222222"), shop="api", reason="shipping_fee_unset")
    ev.add(EventKind.ORDER_ERROR, number(4), error_key="auth", code="ES01-01")
    ev.add(EventKind.ORDER_NEW, number(5))
    ev.add(EventKind.RMS_UNHEALTHY, None, error_key="unavailable")  # a shop alert, not a digest
    ev.add(EventKind.ORDER_PROCESSED, number(6), shop="unknown")
    digests = {d.shop: d for d in build_digests(ev.items, SHOPS)}
    assert set(digests) == {"main", "api"}
    main = digests["main"]
    assert main.channel == "C0MAIN"
    assert [line.order_number for line in main.processed] == [number(1)]
    assert main.processed[0].data["minutes"] == 31
    assert [line.order_number for line in main.cancelled] == [number(2)]
    assert [line.order_number for line in main.errors] == [number(4)]
    assert [line.order_number for line in main.new] == [number(5)]
    assert main.event_ids == (1, 2, 4, 5)
    assert digests["api"].event_ids == (3,)
    assert [line.order_number for line in digests["api"].flagged] == [number(3, "222222")]


def test_an_order_appears_once_per_section_with_its_latest_data():
    ev = Events()
    ev.add(EventKind.ORDER_STUCK, number(1), hours=2.0)
    ev.add(EventKind.ORDER_STUCK, number(1), hours=3.5)
    digest = build_digests(ev.items, SHOPS)[0]
    assert len(digest.stuck) == 1
    assert digest.stuck[0].data["hours"] == 3.5
    assert digest.event_ids == (1, 2)


def test_nothing_changed_means_no_digest_and_no_message():
    assert build_digests([], SHOPS) == []
    ev = Events()
    ev.add(EventKind.LICENSE_EXPIRING, None, days_left=7)
    ev.add(EventKind.RMS_RECOVERED, None)
    assert build_digests(ev.items, SHOPS) == []
    assert digest_messages(Digest("main", "C0MAIN"), "ja", shop_name="本店") == []


def test_is_digest_kind_covers_the_order_events_only():
    assert is_digest_kind(EventKind.ORDER_PROCESSED)
    assert is_digest_kind("order_new")
    assert not is_digest_kind(EventKind.LICENSE_EXPIRED)
    assert not is_digest_kind("no_such_kind")


def test_300_processed_orders_go_to_thread_replies_without_losing_any():
    ev = Events()
    for i in range(300):
        ev.add(EventKind.ORDER_PROCESSED, number(i), minutes=30)
    ev.add(EventKind.ORDER_CANCELLED, number(900), progress=800)
    [digest] = build_digests(ev.items, SHOPS)
    messages = digest_messages(digest, "ja", shop_name="本店")
    assert len(messages) >= 2
    assert_within_limits(messages)
    main = messages[0]
    assert main["blocks"][0]["type"] == "header"
    assert "📦 楽天処理済 (出荷OK) 300件" in main["blocks"][0]["text"]["text"]
    main_numbers = numbers_in([main])
    assert len([n for n in main_numbers if n != number(900)]) == INLINE_ORDERS
    assert number(900) in main_numbers  # the cancel stays in the main message
    assert any("他280件はスレッド" in t for t in texts(main["blocks"]))
    shown = numbers_in(messages)
    assert sorted(shown) == sorted({number(i) for i in range(300)} | {number(900)})
    assert len(shown) == len(set(shown))  # none shown twice


def test_sections_come_in_the_agreed_order_with_card_links_and_pointers():
    ev = Events()
    ev.add(EventKind.ORDER_NEW, number(9))
    ev.add(EventKind.ORDER_CONFIRMED, number(8), actor="U0TANAKA")
    ev.add(EventKind.ORDER_CANCELLED, number(7), progress=900)
    ev.add(EventKind.CANCEL_DEADLINE_NEAR, number(6), due="2026-11-30", days_left=2)
    ev.add(EventKind.ORDER_STUCK, number(5), hours=2.5, prepay=False)
    ev.add(EventKind.ORDER_ERROR, number(4), error_key="rate_limited", code=None)
    ev.add(EventKind.ORDER_FLAGGED, number(3), reason="shipping_fee_unset")
    ev.add(EventKind.ORDER_PROCESSED, number(2), minutes=12)
    ev.add(EventKind.ORDER_ADOPTED, number(1), **{"from": "awaiting"})
    [digest] = build_digests(ev.items, SHOPS)
    link = "https://example.slack.com/archives/C0MAIN/p1"
    [message] = digest_messages(digest, "ja", shop_name="本店", card_links={number(3): link})
    body = "\n".join(texts(message["blocks"][1:]))  # after the header's summary line
    order = [
        "楽天処理済 — 出荷できます",
        "要対応",
        "エラー",
        "楽天処理中のまま",
        "自動キャンセル間近",
        "キャンセル",
        "注文確認通知を送信",
        "RMSで直接確認済み",
        "新着",
    ]
    positions = [body.index(f"{title} 1件") for title in order]
    assert positions == sorted(positions)
    assert f"<{link}|{number(3)}>" in body
    assert "上のエラーカード" in body
    assert "2.5時間" in body
    assert "11/30 (あと2日)" in body
    assert "<@U0TANAKA>" in body
    assert "新着 1件" in body
    assert number(9) in body  # new orders: listed by number (issue 12), never alone


def test_english_digest():
    ev = Events()
    ev.add(EventKind.ORDER_PROCESSED, number(1), minutes=5)
    ev.add(EventKind.ORDER_ERROR, number(2), error_key="auth", code="ES01-01")
    [digest] = build_digests(ev.items, SHOPS)
    [message] = digest_messages(digest, "en", shop_name="Main shop")
    body = "\n".join(texts(message["blocks"]))
    assert "Ready to ship 1 order" in message["blocks"][0]["text"]["text"]
    assert "Rakuten processed — ready to ship" in body
    assert "Authentication error" in body
    assert "remediation card above" in body
    assert not re.search(r"[ぁ-んァ-ン]", message["text"])


def test_every_section_full_still_fits_slack_limits():
    ev = Events()
    kinds = [
        (EventKind.ORDER_PROCESSED, {"minutes": 30}),
        (EventKind.ORDER_FLAGGED, {"reason": "shipping_fee_unset"}),
        (EventKind.ORDER_ERROR, {"error_key": "unknown", "code": "X" * 400, "message": "m"}),
        (EventKind.ORDER_STUCK, {"hours": 3}),
        (EventKind.CANCEL_DEADLINE_NEAR, {"due": "2026-11-29", "days_left": 1}),
        (EventKind.ORDER_CANCELLED, {"progress": 900}),
        (EventKind.ORDER_CONFIRMED, {"actor": "U0TANAKA"}),
        (EventKind.ORDER_ADOPTED, {}),
        (EventKind.ORDER_FEE_RESOLVED, {"fees": {"1": 800}, "via_api": True, "actor": "U0SATO"}),
        (EventKind.ORDER_NEW, {}),
    ]
    i = 0
    for kind, data in kinds:
        for _ in range(150):
            ev.add(kind, number(i), **data)
            i += 1
    [digest] = build_digests(ev.items, SHOPS)
    messages = digest_messages(digest, "ja", shop_name="本店")
    assert_within_limits(messages)
    shown = set(numbers_in(messages))
    listed = {number(k) for k in range(i - 150)}  # every listed order in full
    new = {number(k) for k in range(i - 150, i)}
    assert listed <= shown and shown - listed <= new  # new ones: the first numbers, then a count


def test_new_orders_alone_make_no_digest():
    ev = Events()
    ev.add(EventKind.ORDER_NEW, number(1))
    assert build_digests(ev.items, SHOPS) == []

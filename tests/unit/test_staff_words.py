"""Every message kind, rendered in ja and en, speaks the staff's words: no internal identifiers
(English stage names, API field names, snake_case keys) and no untranslated text in English."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest

from core.digest import Digest, DigestLine
from core.events import FlagReason
from core.model import UNSET_FEE, Address, Item, OrderRecord, Package, Person, RmsOrder, Stage
from core.outcomes import ErrorInfo, OrderOutcome, Outcome, Reason, Report
from core.summary import DailySummary, ShopDay
from core.summary_detail import DayDetail, FeeApproval, Waiting
from handlers import input_errors
from handlers.render.auto_texts import HOLD_REASONS
from handlers.render.cards import flag_card, order_details
from handlers.render.digest import digest_messages
from handlers.render.held import (
    auto_announcement,
    auto_status,
    dry_run_post,
    held_card,
    held_list,
    keep_modal,
    watchdog_alert,
)
from handlers.render.lists import flagged_list, help_message, pending_list
from handlers.render.living import CardNote, living_card
from handlers.render.reports import confirm_report, refetch_report
from handlers.render.summary import summary_messages

NOW = datetime(2026, 11, 28, 5, 5, tzinfo=UTC)
NUMBER = "123456-20261128-0000000001"
SHOP_NAME = "Tea shop"  # ASCII data: any Japanese in an English message is a missing translation

INTERNAL = [
    re.compile(r"\((?:needs_action|awaiting|sending|processing|processed|cancelled|error)\)"),
    re.compile(r"\b[a-z]+_[a-z_]+\b"),  # snake_case: a catalogue key or an enum value
    re.compile(r"\b[a-z]+[A-Z][A-Za-z]*\b"),  # camelCase: postagePrice, orderProgress, …
    re.compile(r"\b[A-Z][a-z]+[A-Z][A-Za-z]*(?:List|Model)\b"),  # PackageModelList
    re.compile(r"\[\d{3,}\]"),  # PackageModelList[2885742]
]
JAPANESE = re.compile(r"[\u3040-\u30ff\u4e00-\u9fff]")


def _person() -> Person:
    return Person(
        "Yamada", "Taro", "Yamada", "Taro", "090", Address("100-0001", "Tokyo", "Chiyoda")
    )


def _order(progress: int = 100, fee: int = UNSET_FEE) -> RmsOrder:
    return RmsOrder(
        number=NUMBER,
        progress=progress,
        ordered_at=NOW - timedelta(days=13),
        orderer=_person(),
        cancel_due=date(2026, 11, 29),
        settlement="Card",
        delivery_name="Parcel",
        goods_price=6700,
        postage_price=fee,
        total_price=fee,
        request_price=fee,
        packages=(
            Package(2885742, fee, recipient=_person(), items=(Item(1, "Green tea", "t-1", 2),)),
        ),
        remarks="",
    )


def _record(stage: Stage, **changes: Any) -> OrderRecord:
    progress = {Stage.PROCESSING: 200, Stage.PROCESSED: 300, Stage.CANCELLED: 900}.get(stage, 100)
    fee = UNSET_FEE if stage is Stage.NEEDS_ACTION else 800
    record = OrderRecord(
        number=NUMBER,
        shop="tea",
        stage=stage,
        snapshot=_order(progress, fee),
        stage_since=NOW - timedelta(hours=3),
        flag_reason=FlagReason.SHIPPING_FEE_UNSET if stage is Stage.NEEDS_ACTION else None,
        confirmed_by="U0TANAKA" if progress in (200, 300) else None,
        confirmed_at=NOW if progress in (200, 300) else None,
    )
    return replace(record, **changes)


def _outcomes() -> list[OrderOutcome]:
    error = ErrorInfo("not_confirmable", "CONFIRM_ORDER_ERROR_103", "cannot")
    found = []
    for stage in Stage:
        found.append(
            OrderOutcome(NUMBER, Outcome.REFRESHED, stage, detail=Stage.NEEDS_ACTION.value)
        )
    found += [
        OrderOutcome(NUMBER, Outcome.CONFIRMED, Stage.PROCESSING),
        OrderOutcome(NUMBER, Outcome.ADOPTED, Stage.PROCESSING, detail="awaiting"),
        OrderOutcome(NUMBER, Outcome.ALREADY_CONFIRMED, Stage.PROCESSING, by="U0SATO", at=NOW),
        OrderOutcome(NUMBER, Outcome.PENDING, Stage.SENDING),
        OrderOutcome(NUMBER, Outcome.FEE_RECORDED, Stage.NEEDS_ACTION, fees={2885742: 800}),
        OrderOutcome(NUMBER, Outcome.FAILED, Stage.ERROR, error=error),
    ]
    found += [OrderOutcome(NUMBER, Outcome.REFUSED, reason=reason) for reason in Reason]
    return found


def _messages(lang: str) -> Iterator[tuple[str, dict[str, Any]]]:
    flagged = _record(Stage.NEEDS_ACTION)
    for api in (True, False):
        yield f"flag_card api={api}", flag_card(flagged, SHOP_NAME, api, lang, now=NOW)
        yield f"details api={api}", order_details(flagged, lang, now=NOW)
        for o in _outcomes():
            yield (
                f"resolved {o.outcome} {o.reason}",
                flag_card(flagged, SHOP_NAME, api, lang, resolved=o, now=NOW, actor="U0TANAKA"),
            )
    for stage in Stage:
        note = CardNote("news", Stage.NEEDS_ACTION.value, "fact")
        yield f"living {stage}", living_card(_record(stage), SHOP_NAME, False, lang, note=note)
    report = Report(shop="tea", actor="U0TANAKA", action="refetch", outcomes=tuple(_outcomes()))
    yield from (
        (f"refetch {i}", m) for i, m in enumerate(refetch_report(report, lang, shop_name=SHOP_NAME))
    )
    yield from (
        (f"confirm {i}", m) for i, m in enumerate(confirm_report(report, lang, shop_name=SHOP_NAME))
    )
    line = DigestLine(
        NUMBER, NOW, {"reason": "shipping_fee_unset", "minutes": 3, "due": "2026-11-29"}
    )
    sections = dict.fromkeys(("processed", "flagged", "errors", "stuck", "deadline"), (line,))
    sections |= dict.fromkeys(("cancelled", "adopted", "fee_resolved", "new"), (line,))
    sections["confirmed"] = (line, DigestLine(NUMBER, NOW, {"actor": "auto"}))  # auto-confirm
    digest = Digest("tea", "C1", **sections, event_ids=(1,))
    yield from (
        (f"digest {i}", m) for i, m in enumerate(digest_messages(digest, lang, shop_name=SHOP_NAME))
    )
    records = [_record(Stage.AWAITING), _record(Stage.NEEDS_ACTION)]
    yield "pending", pending_list(records[:1], lang, SHOP_NAME, now=NOW)
    yield "flagged", flagged_list(records[1:], lang, SHOP_NAME, now=NOW)
    yield "help", help_message(lang)
    yield from ((f"summary {i}", m) for i, m in enumerate(summary_messages(_summary(), lang)))
    yield from _auto_messages(lang)


def _auto_messages(lang: str) -> Iterator[tuple[str, dict[str, Any]]]:
    """Auto-confirm's messages: held card, lists, dry run, mode changes, watchdog."""
    reasons = list(HOLD_REASONS)
    awaiting = _record(Stage.AWAITING)
    yield "held card", held_card(awaiting, reasons, SHOP_NAME, lang, now=NOW, note="checking")
    yield "keep modal", keep_modal(NUMBER, lang, "main|" + NUMBER)
    yield "held list", held_list(SHOP_NAME, [(awaiting, reasons, "")], lang, NOW)
    yield "dry run", dry_run_post(SHOP_NAME, [NUMBER], {NUMBER: reasons}, lang)
    yield "auto status", auto_status([(SHOP_NAME, m) for m in ("off", "dry_run", "on")], True, lang)
    for data in ({"actor": "U0SATO", "paused": True}, {"actor": "U0SATO", "mode": "dry_run"}):
        yield f"announce {data}", auto_announcement(data, SHOP_NAME, lang)
    alerts = {
        "silent": {"minutes": 90},
        "failing": {"since": NOW.isoformat(), "error": "auth"},
        "held": {"held": 8, "total": 10},
    }
    for check, data in alerts.items():
        for kind in ("watchdog_alert", "watchdog_recovered"):
            yield f"{kind} {check}", watchdog_alert(kind, {"check": check, **data}, SHOP_NAME, lang)


def _summary() -> DailySummary:
    detail = DayDetail(
        amount=12800,
        to_confirm=95,
        to_processed=40,
        waiting=(Waiting(NUMBER, Stage.NEEDS_ACTION, "shipping_fee_unset", NOW),),
        waiting_total=3,
        fees=(FeeApproval(NUMBER, "U0SATO", (900,), True),),
    )
    day = ShopDay(
        "tea",
        SHOP_NAME,
        NOW.date(),
        new=3,
        confirmed=2,
        confirmed_by=(("U0TANAKA", 1), ("rms", 1)),
        errors=(("auth", 1),),
        needs_action=1,
        license_days_left=5,
        license_expires=NOW,
        license_shop=SHOP_NAME,
        detail=detail,
    )
    return DailySummary(NOW.date(), NOW, (day, replace(day, shop="b")), day)


def _visible(node: Any) -> Iterator[str]:
    """The text a person sees: text objects and the fallback, never ids or values."""
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "text" and isinstance(value, str):
                yield value
            elif key not in ("action_id", "value", "block_id", "url", "image_url"):
                yield from _visible(value)
    elif isinstance(node, list):
        for item in node:
            yield from _visible(item)


def _problems(text: str, lang: str) -> list[str]:
    # links, mentions, code and RMS labels (「…」 【…】 [登録する]) are data, not ours
    cleaned = re.sub(
        r"<[^>]*>|`[^`]*`|「[^」]*」|【[^】]*】|\[[^\]]*[^\x00-\x7f][^\]]*\]", "", text
    )
    found = [m.group(0) for pattern in INTERNAL for m in pattern.finditer(cleaned)]
    if lang == "en":
        found += JAPANESE.findall(cleaned)[:1]
    return found


@pytest.mark.parametrize("lang", ["ja", "en"])
def test_every_message_kind_speaks_the_staffs_words(lang: str) -> None:
    bad = {}
    for name, message in _messages(lang):
        for text in _visible(message):
            problems = _problems(text, lang)
            if problems:
                bad[name] = (problems, text[:160])
    assert not bad, bad


@pytest.mark.parametrize("lang", ["ja", "en"])
def test_every_input_error_is_translated(lang: str) -> None:
    from core.errors import InvalidInputError

    for kind in input_errors._TEXT:
        text = input_errors.input_error_text(InvalidInputError(f"{kind}:X|main (Main)"), lang)
        assert not _problems(text.replace("X", ""), lang), (kind, text)


def test_the_word_check_can_fail() -> None:
    assert _problems("注文確認待ちです (awaiting)", "ja")
    assert _problems("未設定の項目: postagePrice, PackageModelList[2885742].postagePrice", "ja")
    assert _problems("Awaiting 注文確認", "en")
    assert not _problems("注文確認待ちです — <@U0TANAKA> `123456-20261128-0000000001`", "ja")

"""Which Slack messages auto-confirm's events become (held cards, dry runs, mode changes,
watchdog alerts); the publisher queues them with the other cards, under unique keys."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta
from typing import Any

from core.auto import AUTO_ACTOR, AutoMode
from core.context import Core
from core.events import Event, EventKind
from core.lifecycle import JST
from core.model import Request, RequestKind, Stage
from core.outcomes import Report
from core.store.auto import decisions
from handlers.render.cards import flag_card
from handlers.render.held import auto_announcement, dry_run_post, held_card, watchdog_alert
from handlers.render.i18n import Lang

# (key, shop, channel, kind, payload, update an existing message with the same key)
Post = tuple[str, str, str, str, dict[str, Any], bool]
AUTO_KINDS = frozenset(
    {
        EventKind.ORDER_HELD,
        EventKind.AUTO_DRY_RUN,
        EventKind.AUTO_MODE_CHANGED,
        EventKind.WATCHDOG_ALERT,
        EventKind.WATCHDOG_RECOVERED,
    }
)


async def auto_posts(core: Core, events: Sequence[Event], lang: Lang) -> list[Post]:
    """The messages for auto-confirm's events among ``events``."""
    posts: list[Post] = []
    for event in events:
        if event.kind not in AUTO_KINDS or event.shop not in core.shops:
            continue
        cfg = core.shop(event.shop)
        data = event.data
        if event.kind is EventKind.ORDER_HELD and event.order_number:
            message = await held_message(core, event.shop, event.order_number, lang)
            if message is not None:
                key = f"card:{event.order_number}"  # the order's one living card
                posts.append((key, cfg.key, cfg.channel, "card", _payload(message, key), True))
            continue
        if event.kind is EventKind.AUTO_DRY_RUN:
            key, message = await _dry_run_today(core, event, cfg.name, lang)
            posts.append((key, cfg.key, cfg.channel, "alert", {"messages": [message]}, True))
            continue
        if event.kind is EventKind.AUTO_MODE_CHANGED:
            message = auto_announcement(data, cfg.name, lang)
        else:
            message = watchdog_alert(event.kind.value, data, cfg.name, lang)
        key = f"auto:{event.id}"
        posts.append((key, cfg.key, cfg.channel, "alert", {"messages": [message]}, False))
    return posts


async def _dry_run_today(
    core: Core, event: Event, shop_name: str, lang: Lang
) -> tuple[str, dict[str, Any]]:
    """A dry run says, in one message per shop and day edited as the day goes on, what
    auto-confirm would have confirmed and held so far (not one post per cycle)."""
    start = event.at.astimezone(JST).replace(hour=0, minute=0, second=0, microsecond=0)
    today = await core.store.events_between(
        event.shop, start, event.at + timedelta(seconds=1), [EventKind.AUTO_DRY_RUN]
    )
    confirm: dict[str, None] = {}
    held: dict[str, list[str]] = {}
    for e in sorted([*today, event], key=lambda e: e.id):
        for number in e.data.get("confirm") or []:
            held.pop(str(number), None)
            confirm[str(number)] = None
        for number, reasons in dict(e.data.get("held") or {}).items():
            confirm.pop(str(number), None)
            held[str(number)] = list(reasons)
    key = f"auto_dry_run:{event.shop}:{start.date().isoformat()}"
    return key, dry_run_post(shop_name, list(confirm), held, lang)


async def held_message(core: Core, shop: str, number: str, lang: Lang) -> dict[str, Any] | None:
    """The held card of an order as it stands now (None when it is not held)."""
    record = await core.store.get_order(number)
    async with core.store.read() as r:
        decision = (await decisions(r, [number])).get(number)
    if record is None or decision is None or decision.verdict != "held":
        return None
    if record.stage not in (Stage.AWAITING, Stage.NEEDS_ACTION):  # moved on: the living card
        return None
    if decision.mode != AutoMode.ON.value:  # a dry run holds nothing: the order's usual card
        return None
    how = list((decision.proposal or {}).get("how") or [])
    return held_card(
        record,
        decision.reasons,
        core.shop(shop).name,
        lang,
        now=core.clock.now(),
        proposal_how=how,
        note=decision.note,
        noted_by=decision.noted_by,
    )


async def auto_fee_card(core: Core, request: Request, report: Report, lang: Lang) -> Post | None:
    """An automatic fee approval is announced on the order's card (edited in place)."""
    if request.actor != AUTO_ACTOR or request.kind is not RequestKind.FEE:
        return None
    number = request.numbers[0]
    record = await core.store.get_order(number)
    if record is None:
        return None
    cfg = core.shop(request.shop)
    outcome = report.outcomes[0]
    card = flag_card(
        record,
        cfg.name,
        cfg.api_option,
        lang,
        resolved=outcome,
        now=core.clock.now(),
        actor=AUTO_ACTOR,
        fees=outcome.fees,
    )
    key = f"card:{number}"
    return (key, cfg.key, cfg.channel, "card", _payload(card, key), True)


def _payload(message: dict[str, Any], key: str) -> dict[str, Any]:
    return {"messages": [message], "refs": [key]}

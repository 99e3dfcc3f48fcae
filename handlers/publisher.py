"""Turns the core's outbox events into Slack messages, and has them delivered one by one.

Planning is one transaction: the messages an event needs (flag card, remediation card,
alert; later its digest) are queued under unique keys and the events marked as handed over,
so a retried or restarted drain never queues a message twice. Delivery (handlers/delivery.py)
then posts each message on its own: one broken channel never holds up another.
"""

from __future__ import annotations

import asyncio
import logging
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

from core.context import Core
from core.digest import build_digests, is_digest_kind
from core.events import Event, EventKind
from core.model import RequestKind
from core.outcomes import ErrorInfo
from core.store.outbox import OutboxMessage
from handlers.delivery import Courier, Tally
from handlers.poster import SlackPoster
from handlers.render.alert_router import alert_message
from handlers.render.alerts import delivery_failed
from handlers.render.cards import flag_card
from handlers.render.digest import digest_messages
from handlers.render.i18n import Lang
from handlers.render.remedy import remediation_card
from handlers.render.request_posts import request_key, request_report_posts

logger = logging.getLogger(__name__)
BATCH = 2000  # events planned per drain
ALERT_KINDS = frozenset(
    {
        EventKind.LICENSE_EXPIRING,
        EventKind.LICENSE_EXPIRED,
        EventKind.LICENSE_RENEWED,
        EventKind.LICENSE_CHECK_FAILED,
        EventKind.RMS_UNHEALTHY,
        EventKind.RMS_RECOVERED,
        EventKind.ACQUISITION_WARNING,
    }
)


def card_link(ref: str) -> str:
    """Slack's permalink shape for a message stored as "channel|ts"."""
    channel, _, ts = ref.partition("|")
    return f"https://slack.com/archives/{channel}/p{ts.replace('.', '')}"


@dataclass(frozen=True, slots=True)
class Planned:
    """A message to queue: ``payload`` is {"messages": […], "refs": [names]}; ``update``
    edits the message already queued under ``key`` (posted or not) instead."""

    key: str
    shop: str
    channel: str
    kind: str
    payload: dict[str, Any]
    update: bool = False


class Publisher:
    """Posts what the core recorded. One drain at a time; safe to call after every change.

    Dead-lettered messages are announced once per broken channel in ``summary_channel`` (the
    managers' channel); without one, only an error line is logged.
    """

    def __init__(
        self,
        core: Core,
        poster: SlackPoster,
        *,
        lang: Lang = "ja",
        summary_channel: str | None = None,
    ) -> None:
        self.core = core
        self.poster = poster
        self.lang = lang
        self.courier = Courier(
            core.store,
            core.clock,
            poster,
            alert_channel=summary_channel,
            dead_letter_alert=self._dead_letter_alert,
            rng=core.rng,
            lease=core.lease,
        )
        self._lock = asyncio.Lock()

    async def drain(self, *, digests: bool = True) -> int:
        """Queue and post what is due; returns how many messages Slack took.

        ``digests=False`` (after a button or command) queues only cards and alerts; the result
        digest stays one message per poll cycle per channel (the jobs loop's drain).
        """
        return (await self.drain_once(digests=digests)).posted

    async def drain_once(self, *, digests: bool = True) -> Tally:
        """One round: plan cards and alerts, deliver, then plan digests and deliver again
        (so a digest can link the cards posted just before it)."""
        async with self._lock:
            await self._plan_cards()
            tally = await self.courier.deliver_due()
            if digests and await self._plan_digests():
                tally += await self.courier.deliver_due()
            if tally.queued_more:  # alerts about dead letters, messages moved to a fallback
                tally += await self.courier.deliver_due()
            return tally

    # -- planning: events → messages ---------------------------------------------------------

    async def _plan_cards(self) -> None:
        async with self.core.store.read() as r:
            events = await r.events_to_plan(BATCH)
        if not events:
            return
        planned: list[Planned] = []
        for event in events:
            if event.kind is EventKind.ORDER_FLAGGED and event.shop in self.core.shops:
                planned.extend(await self._flag_card(event))
        planned.extend(
            self._remediation_cards([e for e in events if e.kind is EventKind.ORDER_ERROR])
        )
        planned.extend(self._alerts([e for e in events if e.kind in ALERT_KINDS]))
        for event in events:
            if event.kind is EventKind.REQUEST_DONE:
                planned.extend(await self._request_report(event))
        await self._queue(planned, [e.id for e in events], "planned")

    async def _plan_digests(self) -> bool:
        """Fold the planned events into one digest per shop channel; True if any was queued.

        A confirmation the requester just saw in its report is not repeated in the digest;
        ones the bot finished by itself (reconciled after a crash or timeout) are."""
        async with self.core.store.read() as r:
            events = await r.events_to_digest(BATCH)
        if not events:
            return False
        digest_events = [
            e
            for e in events
            if is_digest_kind(e.kind)
            and not (e.kind is EventKind.ORDER_CONFIRMED and not e.data.get("reconciled"))
        ]
        planned: list[Planned] = []
        for digest in build_digests(digest_events, self.core.shops):
            links = {}
            for prefix, lines in (("card", digest.flagged), ("remedy_for", digest.errors)):
                for line in lines:
                    ref = await self.core.store.get_ref(f"{prefix}:{line.order_number}")
                    if ref:
                        links[line.order_number] = card_link(ref)
            name = self.core.shop(digest.shop).name
            messages = digest_messages(digest, self.lang, shop_name=name, card_links=links)
            if messages:
                key = f"digest:{digest.shop}:{min(digest.event_ids)}"
                planned.append(
                    Planned(key, digest.shop, digest.channel, "digest", {"messages": messages})
                )
        await self._queue(planned, [e.id for e in events], "posted")
        return bool(planned)

    async def _queue(
        self, planned: Sequence[Planned], ids: Sequence[int], step: Literal["planned", "posted"]
    ) -> None:
        """Queue the messages and mark their events in one transaction."""
        now = self.core.clock.now()
        async with self.core.store.tx() as tx:
            for p in planned:
                if not p.update or not await tx.update_message(p.key, p.payload, at=now):
                    await tx.enqueue_message(p.key, p.shop, p.channel, p.kind, p.payload, at=now)
            await tx.mark_events(ids, step, now)

    async def _flag_card(self, event: Event) -> list[Planned]:
        key = f"card:{event.order_number}"
        if event.order_number is None or await self.core.store.get_ref(key):
            return []  # one card per order (the ref: its card was posted before)
        record = await self.core.store.get_order(event.order_number)
        if record is None:
            return []
        cfg = self.core.shop(event.shop)
        card = flag_card(record, cfg.name, cfg.api_option, self.lang, now=self.core.clock.now())
        return [Planned(key, event.shop, cfg.channel, "card", {"messages": [card], "refs": [key]})]

    def _remediation_cards(self, errors: Sequence[Event]) -> list[Planned]:
        """One card per (shop, error kind) among errors not carded yet, listing every order."""
        groups: dict[tuple[str, str], list[Event]] = defaultdict(list)
        for event in errors:
            if event.shop in self.core.shops:
                groups[(event.shop, str(event.data.get("error_key", "unknown")))].append(event)
        planned = []
        for (shop, key), group in groups.items():
            data: dict[str, Any] = dict(group[-1].data)
            info = ErrorInfo(
                key,
                data.get("code"),
                str(data.get("message") or ""),
                tuple(data.get("bot_did") or ()),
            )
            numbers = [e.order_number for e in group if e.order_number]
            cfg = self.core.shop(shop)
            messages = remediation_card(info, numbers, cfg.name, self.lang, shop=shop)
            refs = [f"remedy_for:{n}" for n in numbers]
            payload = {"messages": messages, "refs": refs}
            planned.append(Planned(f"remedy:{group[0].id}", shop, cfg.channel, "remedy", payload))
        return planned

    def _alerts(self, events: Sequence[Event]) -> list[Planned]:
        planned = []
        for event in events:
            if event.shop not in self.core.shops:
                continue
            cfg = self.core.shop(event.shop)
            message = alert_message(event, cfg.name, self.lang)
            if message is None or not cfg.channel:
                continue
            key, kind = f"alert:{event.id}", "alert"
            if event.kind is EventKind.LICENSE_EXPIRING:  # once per threshold of one key
                expires = str(event.data.get("expires_at") or "")[:10]
                key = f"licence:{event.shop}:{event.data.get('threshold')}:{expires}"
                kind = "licence"
            planned.append(Planned(key, event.shop, cfg.channel, kind, {"messages": [message]}))
        return planned

    async def _request_report(self, event: Event) -> list[Planned]:
        """The report of a finished request, as messages keyed by the request: a bulk's
        progress message becomes the report; a fee approval edits its card and reports in
        its thread; re-fetches answer the requester only (response_url)."""
        found = await self.core.store.request_result(int(event.data["request"]))
        if found is None or found[0].shop not in self.core.shops:
            return []
        request, report = found
        cfg = self.core.shop(request.shop)
        record = None
        if request.kind is RequestKind.FEE:
            record = await self.core.store.get_order(request.numbers[0])
        key = request_key(request.id)
        planned = []
        for index, post in enumerate(
            request_report_posts(request, report, record, cfg, self.lang, self.core.clock.now())
        ):
            payload: dict[str, Any] = {"messages": post.messages}
            if post.response_url:
                payload["response_url"] = post.response_url
                planned.append(Planned(f"{key}:{index}", cfg.key, post.channel, "reply", payload))
            elif post.update_ts:  # the order's card: edited in place
                card = f"card:{request.numbers[0]}"
                async with self.core.store.read() as r:
                    carded = await r.get_message(card) is not None
                if carded:
                    planned.append(Planned(card, cfg.key, post.channel, "card", payload, True))
                else:  # posted before cards were outbox messages: edit it by its ts
                    payload["edit_ts"] = post.update_ts
                    planned.append(Planned(f"{key}:card", cfg.key, post.channel, "edit", payload))
            else:
                if post.thread_ts:
                    payload["thread_ts"] = post.thread_ts
                if post.channel != cfg.channel:  # e.g. a DM the bot cannot post to
                    payload["fallback_channel"] = cfg.channel
                planned.append(Planned(key, cfg.key, post.channel, "request", payload, True))
        return planned

    def _dead_letter_alert(self, message: OutboxMessage, error: str) -> dict[str, Any]:
        shops = self.core.shops
        name = shops[message.shop].name if message.shop in shops else message.shop or "—"
        return delivery_failed(name, message.channel, message.key, error, self.lang)

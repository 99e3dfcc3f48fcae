"""Turns the core's outbox events into Slack messages, and has them delivered one by one.

Planning is one transaction: the messages an event needs (flag card, remediation card,
alert; later its digest) are queued under unique keys and the events marked as handed over,
so a retried or restarted drain never queues a message twice. Delivery (handlers/delivery.py)
then posts each message on its own: one broken channel never holds up another.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any, Literal

from core.auto import AUTO_ACTOR
from core.context import Core
from core.digest import build_digests, is_digest_kind
from core.events import Event, EventKind
from core.model import RequestKind
from core.outcomes import ErrorInfo, Outcome
from core.store.outbox import OutboxMessage
from handlers.auto_posts import auto_fee_card, auto_posts, held_message
from handlers.delivery import Courier, Tally
from handlers.poster import SlackPoster
from handlers.render.alert_router import alert_message
from handlers.render.alerts import delivery_failed
from handlers.render.cards import outcome_line
from handlers.render.digest import digest_messages
from handlers.render.i18n import Lang, t, who, yen
from handlers.render.living import CardNote, living_card
from handlers.render.remedy import remediation_card
from handlers.render.reports import confirm_report
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

CARD_ONLY = frozenset({EventKind.ORDER_FLAGGED, EventKind.ORDER_FEE_RESOLVED})
"""Kinds that only ever change a card: a flagged order gets its card and nothing else."""


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
        order_url: str = "",
    ) -> None:
        self.core = core
        self.poster = poster
        self.lang = lang
        self.order_url = order_url  # "…{order_number}…": a card's link to the order in RMS
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
        planned.extend(Planned(*p) for p in await auto_posts(self.core, events, self.lang))
        touched: dict[str, None] = {}
        for event in events:
            if event.order_number:
                touched[event.order_number] = None
            if event.kind is EventKind.REQUEST_DONE:
                planned.extend(await self._request_report(event, touched))
        new_cards = {p.key for p in planned if p.kind == "card" and not p.update}
        planned.extend(await self._living_cards(touched, new_cards))
        planned.extend(await self._living_reports(touched, {p.key for p in planned}))
        await self._queue(planned, [e.id for e in events], "planned")

    async def _living_cards(self, numbers: dict[str, None], skip: set[str]) -> list[Planned]:
        """Re-render the card of every order that moved, from its current state (edit in place)."""
        planned = []
        for number in numbers:
            key = f"card:{number}"
            if key in skip:
                continue
            async with self.core.store.read() as r:
                posted = await r.get_message(key)
            record = await self.core.store.get_order(number) if posted else None
            if posted is None or record is None or record.shop not in self.core.shops:
                continue
            # a held order keeps its held card (reasons, buttons) until a person moves it on
            held = await held_message(self.core, record.shop, number, self.lang)
            card = held or self._card(record, await self._card_note(number))
            payload = {"messages": [card], "refs": [key]}
            planned.append(Planned(key, record.shop, posted.channel, "card", payload, True))
        return planned

    async def _living_reports(self, numbers: dict[str, None], skip: set[str]) -> list[Planned]:
        """Re-render the confirmation reports whose orders moved (楽天処理中 → 楽天処理済, …):
        the report is edited in place and no digest repeats those lines."""
        ids: dict[int, None] = {}
        for number in numbers:
            ref = await self.core.store.get_ref(f"in_report:{number}")
            if ref:
                ids[int(ref)] = None
        planned = []
        for request_id in ids:
            key = request_key(request_id)
            found = await self.core.store.request_result(request_id)
            async with self.core.store.read() as r:
                posted = await r.get_message(key)
            if key in skip or found is None or posted is None:
                continue
            request, report = found
            if request.shop not in self.core.shops:
                continue
            confirmed = [o.order_number for o in report.outcomes if o.outcome is Outcome.CONFIRMED]
            records = await self.core.store.get_orders(confirmed)
            outcomes = tuple(
                replace(o, stage=records[o.order_number].stage) if o.order_number in records else o
                for o in report.outcomes
            )
            name = self.core.shop(request.shop).name
            messages = confirm_report(replace(report, outcomes=outcomes), self.lang, shop_name=name)
            payload = {"messages": messages[:1]}  # the main message; its thread stays as posted
            planned.append(Planned(key, request.shop, posted.channel, "request", payload, True))
        return planned

    async def _remember_report(self, request: Any, report: Any) -> None:
        """Which orders a posted confirmation report lists (it lives on as they move)."""
        async with self.core.store.tx() as tx:
            for outcome in report.outcomes:
                if outcome.outcome is Outcome.CONFIRMED:
                    await tx.set_ref(f"in_report:{outcome.order_number}", str(request.id))

    def _card(self, record: Any, note: CardNote | None) -> dict[str, Any]:
        """The order's living card as it is now."""
        cfg = self.core.shop(record.shop)
        now = self.core.clock.now()
        url = self._url(record.number)
        return living_card(record, cfg.name, cfg.api_option, self.lang, now=now, note=note, url=url)

    def _url(self, number: str) -> str | None:
        return self.order_url.replace("{order_number}", number) if self.order_url else None

    async def _card_note(self, number: str) -> CardNote | None:
        raw = await self.core.store.get_ref(f"card_note:{number}")
        if not raw:
            return None
        data = json.loads(raw)
        return CardNote(str(data["text"]), str(data["stage"]), str(data.get("fact") or ""))

    async def _set_card_note(self, number: str, note: CardNote) -> None:
        value = json.dumps({"text": note.text, "stage": note.stage, "fact": note.fact})
        async with self.core.store.tx() as tx:
            await tx.set_ref(f"card_note:{number}", value)

    async def _plan_digests(self) -> bool:
        """Fold the planned events into one digest per shop channel; True if any was queued.

        A confirmation the requester just saw in its report is not repeated in the digest;
        ones nobody asked for (auto-confirm, or reconciled after a crash or timeout) are."""
        async with self.core.store.read() as r:
            events = await r.events_to_digest(BATCH)
        if not events:
            return False
        digest_events = [
            e
            for e in events
            if is_digest_kind(e.kind)
            and e.kind not in CARD_ONLY
            and not (e.kind is EventKind.ORDER_CONFIRMED and not _unasked(e))
            and not await self._has_card(e)
        ]
        planned: list[Planned] = []
        for digest in build_digests(digest_events, self.core.shops):
            links: dict[str, str] = {}
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

    async def _has_card(self, event: Event) -> bool:
        """An order with a card is reported by its card, never again in a digest; one listed
        in a confirmation report reaches 楽天処理済 in that report (a cancellation still posts)."""
        number = event.order_number
        if number is None:
            return False
        async with self.core.store.read() as r:
            if await r.get_message(f"card:{number}") is not None:
                return True
        processed = event.kind is EventKind.ORDER_PROCESSED
        return processed and bool(await self.core.store.get_ref(f"in_report:{number}"))

    async def _queue(
        self, planned: Sequence[Planned], ids: Sequence[int], step: Literal["planned", "posted"]
    ) -> None:
        """Queue the messages and mark their events in one transaction (new messages in one
        INSERT per hundred: the acks' commit waits while this holds SQLite)."""
        now = self.core.clock.now()
        async with self.core.store.tx() as tx:
            new: dict[str, tuple[str, str, str, str, Mapping[str, Any]]] = {}
            for p in planned:
                if p.update and p.key in new:  # queued just before: it must exist to be updated
                    await tx.enqueue_messages(list(new.values()), at=now)
                    new = {}
                if not p.update or not await tx.update_message(p.key, p.payload, at=now):
                    new.setdefault(p.key, (p.key, p.shop, p.channel, p.kind, p.payload))
            await tx.enqueue_messages(list(new.values()), at=now)
            await tx.mark_events(ids, step, now)

    async def _flag_card(self, event: Event) -> list[Planned]:
        key = f"card:{event.order_number}"
        if event.order_number is None or await self.core.store.get_ref(key):
            return []  # one card per order (the ref: its card was posted before)
        record = await self.core.store.get_order(event.order_number)
        if record is None:
            return []
        cfg = self.core.shop(event.shop)
        card = self._card(record, None)
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

    async def _request_report(self, event: Event, touched: dict[str, None]) -> list[Planned]:
        """The report of a finished request, as messages keyed by the request: a bulk's
        progress message becomes the report; the orders it moved get their cards re-rendered
        (``touched``); a fee approval or a card's own button only edits its card; results that
        changed nothing, and re-fetches, answer the requester only (response_url)."""
        found = await self.core.store.request_result(int(event.data["request"]))
        if found is None or found[0].shop not in self.core.shops:
            return []
        request, report = found
        cfg = self.core.shop(request.shop)
        for outcome in report.outcomes:
            touched[outcome.order_number] = None
        if request.actor == AUTO_ACTOR and request.kind is RequestKind.CONFIRM:
            return []  # nobody asked: its confirmations are digest lines, its errors cards
        record = None
        if request.kind is RequestKind.FEE:
            record = await self.core.store.get_order(request.numbers[0])
            stale = all(o.outcome is Outcome.REFUSED for o in report.outcomes)
            if record is not None and report.outcomes and not stale:
                await self._set_card_note(record.number, self._fee_note(request, report, record))
        key = request_key(request.id)
        carded = await self._carded(report)
        planned = []
        auto_card = await auto_fee_card(self.core, request, report, self.lang)
        if auto_card is not None:  # an automatic fee approval: announced on the order's card
            return [Planned(*auto_card)]
        for index, post in enumerate(
            request_report_posts(
                request, report, record, cfg, self.lang, self.core.clock.now(), carded=carded
            )
        ):
            payload: dict[str, Any] = {"messages": post.messages}
            if post.ephemeral_user:
                payload["ephemeral_user"] = post.ephemeral_user
                planned.append(Planned(f"{key}:{index}", cfg.key, post.channel, "reply", payload))
            elif post.response_url:
                payload["response_url"] = post.response_url
                if post.replace:
                    payload["replace_original"] = True
                planned.append(Planned(f"{key}:{index}", cfg.key, post.channel, "reply", payload))
            elif post.update_ts:  # a card posted before cards were outbox messages: by its ts
                payload["edit_ts"] = post.update_ts
                planned.append(Planned(f"{key}:card", cfg.key, post.channel, "edit", payload))
            else:
                if post.thread_ts:
                    payload["thread_ts"] = post.thread_ts
                if post.channel != cfg.channel:  # e.g. a DM the bot cannot post to
                    payload["fallback_channel"] = cfg.channel
                planned.append(Planned(key, cfg.key, post.channel, "request", payload, True))
                if request.kind is RequestKind.CONFIRM:
                    await self._remember_report(request, report)
        return planned

    async def _carded(self, report: Any) -> bool:
        """True when every order of a report has a living card (the cards say it all)."""
        if not report.outcomes:
            return False
        async with self.core.store.read() as r:
            for outcome in report.outcomes:
                if await r.get_message(f"card:{outcome.order_number}") is None:
                    return False
        return True

    def _fee_note(self, request: Any, report: Any, record: Any) -> CardNote:
        """What a fee approval did, for its card: news now, a quiet fact line later."""
        outcome = report.outcomes[0]
        cfg = self.core.shop(request.shop)
        text = outcome_line(record, outcome, cfg.api_option, self.lang, request.actor, outcome.fees)
        fees = outcome.fees or record.intended_fees or {}
        amounts = " / ".join(yen(int(v), self.lang) for v in fees.values())
        fact = (
            t("fee_fact", self.lang, fees=amounts, who=who(request.actor, self.lang))
            if fees
            else ""
        )
        return CardNote(text, record.stage.value, fact)

    def _dead_letter_alert(self, message: OutboxMessage, error: str) -> dict[str, Any]:
        shops = self.core.shops
        name = shops[message.shop].name if message.shop in shops else message.shop or "—"
        return delivery_failed(name, message.channel, message.key, error, self.lang)


def _unasked(event: Event) -> bool:
    """A confirmation no person is waiting to read in a report."""
    return bool(event.data.get("reconciled")) or event.data.get("actor") == AUTO_ACTOR

"""Drains the core's outbox into Slack: flag cards, remediation cards, alerts, one digest.

Events are marked posted only after Slack accepted the message; cards already posted are
remembered (refs) so a retried drain never posts them twice.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections import defaultdict
from collections.abc import Sequence
from typing import Any

from slack_sdk.errors import SlackApiError

from core.context import Core
from core.digest import build_digests, is_digest_kind
from core.events import Event, EventKind
from core.model import RequestKind
from core.outcomes import ErrorInfo
from handlers.poster import SlackPoster
from handlers.progress import progress_ref
from handlers.render.alert_router import alert_message
from handlers.render.cards import flag_card
from handlers.render.digest import digest_messages
from handlers.render.i18n import Lang
from handlers.render.remedy import remediation_card
from handlers.render.request_posts import permanent as _permanent
from handlers.render.request_posts import request_report_posts

logger = logging.getLogger(__name__)
POSTING = "posting:"  # refs: a post that was started (key → channel, event ids, time)
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


class Publisher:
    """Posts what the core recorded. One drain at a time; safe to call after every change."""

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
        self.summary_channel = summary_channel
        self._lock = asyncio.Lock()
        self.failing = False

    async def drain(self, *, digests: bool = True) -> int:
        """Post unposted events; returns how many were marked posted.

        ``digests=False`` (after a button or command) posts only cards and alerts at once; the
        result digest stays one message per poll cycle per channel (the jobs loop's drain).
        """
        async with self._lock:
            try:
                await self._recover()
                events = await self.core.store.unposted_events(2000)
                if not events:
                    return 0
                posted = await self._publish(events, digests=digests)
            except SlackApiError as exc:
                if not self.failing:
                    logger.warning(
                        "posting to Slack failed (%s); will retry",
                        exc.response.get("error") if exc.response else exc,
                    )
                self.failing = True
                return 0
            if self.failing:
                logger.info("posting to Slack recovered")
                self.failing = False
            return posted

    async def _publish(self, events: Sequence[Event], *, digests: bool) -> int:
        store, now = self.core.store, self.core.clock.now()
        done: list[int] = []
        for event in events:
            if event.kind is EventKind.ORDER_FLAGGED and event.shop in self.core.shops:
                await self._flag_card(event)
        for event in events:
            if event.kind is EventKind.REQUEST_DONE:
                await self._request_report(event)
                done.append(event.id)
        await self._remediation_cards([e for e in events if e.kind is EventKind.ORDER_ERROR])
        for event in events:
            if event.kind in ALERT_KINDS:
                message = self._alert(event)
                channel = self._channel(event.shop)
                if message is not None and channel:
                    await self._post_once(f"alert:{event.id}", channel, [message], [event.id])
                else:
                    await store.mark_posted([event.id], now)
                done.append(event.id)
        if not digests:
            return len(done)
        # A confirmation the requester just saw in its report is not repeated in the digest;
        # ones the bot finished by itself (reconciled after a crash or timeout) are.
        digest_events = [
            e
            for e in events
            if is_digest_kind(e.kind)
            and not (e.kind is EventKind.ORDER_CONFIRMED and not e.data.get("reconciled"))
        ]
        for digest in build_digests(digest_events, self.core.shops):
            links = {}
            for prefix, lines in (("card", digest.flagged), ("remedy_for", digest.errors)):
                for line in lines:
                    ref = await store.get_ref(f"{prefix}:{line.order_number}")
                    if ref:
                        links[line.order_number] = card_link(ref)
            name = self.core.shop(digest.shop).name
            messages = digest_messages(digest, self.lang, shop_name=name, card_links=links)
            if messages:
                key = f"digest:{digest.shop}:{min(digest.event_ids)}"
                await self._post_once(key, digest.channel, messages, digest.event_ids)
            else:
                await store.mark_posted(digest.event_ids, now)
            done.extend(digest.event_ids)
        leftover = [e.id for e in events if e.id not in set(done)]
        if leftover:  # events no post is made for (unknown shops, non-digest kinds)
            await store.mark_posted(leftover, now)
        return len(events)

    async def _flag_card(self, event: Event) -> None:
        key = f"card:{event.order_number}"
        if event.order_number is None or await self.core.store.get_ref(key):
            return
        record = await self.core.store.get_order(event.order_number)
        if record is None:
            return
        cfg = self.core.shop(event.shop)
        card = flag_card(record, cfg.name, cfg.api_option, self.lang, now=self.core.clock.now())
        await self._post_once(key, cfg.channel, [card], [], ref=key)

    async def _remediation_cards(self, errors: Sequence[Event]) -> None:
        """One card per (shop, error kind) for this batch, listing every order it hit."""
        groups: dict[tuple[str, str], list[Event]] = defaultdict(list)
        for event in errors:
            if event.shop in self.core.shops:
                groups[(event.shop, str(event.data.get("error_key", "unknown")))].append(event)
        for (shop, key), group in groups.items():
            ref_key = f"remedy:{group[0].id}"
            if await self.core.store.get_ref(ref_key):
                continue
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
            ts = await self._post_once(ref_key, cfg.channel, messages, [], ref=ref_key)
            for event in group:
                if event.order_number:
                    await self.core.store.set_ref(
                        f"remedy_for:{event.order_number}", f"{cfg.channel}|{ts}"
                    )

    async def _post_once(
        self,
        key: str,
        channel: str,
        messages: Sequence[dict[str, Any]],
        ids: Sequence[int],
        *,
        ref: str | None = None,
        thread_ts: str | None = None,
    ) -> str:
        """Post a message (and its thread) once: the intent is stored first and the post carries
        ``key`` as metadata, so a crash in between is recognised, not posted again."""
        marker = {
            "channel": channel,
            "ids": list(ids),
            "ref": ref,
            "at": self.core.clock.now().timestamp(),
        }
        await self.core.store.set_ref(POSTING + key, json.dumps(marker))
        ts = await self.poster.post_all(channel, messages, key=key, thread_ts=thread_ts)
        await self._finish(key, channel, ts, ids, ref)
        return ts

    async def _finish(
        self, key: str, channel: str, ts: str, ids: Sequence[int], ref: str | None
    ) -> None:
        store = self.core.store
        if ids:
            await store.mark_posted(ids, self.core.clock.now())
        if ref:
            await store.set_ref(ref, f"{channel}|{ts}")
        await store.delete_ref(POSTING + key)

    async def _recover(self) -> None:
        """Posts begun before a crash or a failed call: found in Slack → finish them;
        not found → forget the intent, and the events are posted again."""
        for name, value in (await self.core.store.refs_with_prefix(POSTING)).items():
            marker, key = json.loads(value), name.removeprefix(POSTING)
            try:
                ts = await self.poster.find_posted(marker["channel"], key, marker["at"] - 60)
            except SlackApiError as exc:  # e.g. no channels:history scope: at-least-once
                logger.warning(
                    "cannot check whether %s was posted (%s); posting it again",
                    key,
                    exc.response.get("error") if exc.response else exc,
                )
                ts = None
            if ts is None:
                await self.core.store.delete_ref(name)
            else:
                logger.info("%s was posted before an interruption; not posting it again", key)
                await self._finish(key, marker["channel"], ts, marker["ids"], marker["ref"])

    async def _request_report(self, event: Event) -> None:
        """The report of a finished request, posted once where the requester will see it."""
        store = self.core.store
        found = await store.request_result(int(event.data["request"]))
        if found is None or found[0].shop not in self.core.shops:
            await store.mark_posted([event.id], self.core.clock.now())
            return
        request, report = found
        cfg = self.core.shop(request.shop)
        for post in request_report_posts(
            request,
            report,
            await store.get_order(request.numbers[0]) if request.kind is RequestKind.FEE else None,
            cfg,
            self.lang,
            self.core.clock.now(),
        ):
            progress = await store.get_ref(progress_ref(request.id))
            if post.response_url:
                await self.poster.reply(post.response_url, post.messages[0])
            elif progress is not None and request.kind is RequestKind.CONFIRM:
                channel, _, ts = progress.partition("|")  # the bulk's progress message
                await self.poster.update_all(channel, ts, post.messages)
            elif post.update_ts:
                await self.poster.update(post.channel, post.update_ts, post.messages[0])
            else:
                key = f"request:{request.id}"
                try:
                    await self._post_once(
                        key, post.channel, post.messages, [], thread_ts=post.thread_ts
                    )
                except SlackApiError as exc:  # e.g. typed in a DM the bot cannot post to
                    if post.channel == cfg.channel or not _permanent(exc):
                        raise
                    logger.warning("report of request %d goes to the shop channel", request.id)
                    await self._post_once(key, cfg.channel, post.messages, [])
        await store.mark_posted([event.id], self.core.clock.now())

    def _alert(self, event: Event) -> dict[str, Any] | None:
        name = self.core.shop(event.shop).name if event.shop in self.core.shops else event.shop
        return alert_message(event, name, self.lang)

    def _channel(self, shop: str) -> str | None:
        return self.core.shop(shop).channel if shop in self.core.shops else None

"""Per-message delivery of the outbox into Slack: each message posted or dead-lettered alone.

Each due message is posted on its own: channels side by side (each paced by the poster at
about one post per second), a 429 holds only its channel for Retry-After, a transient failure
is retried with backoff, and a permanent one dead-letters that message alone, with one alert
to the admins per broken channel and error. Nothing one message does blocks another channel.
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from slack_sdk.errors import SlackApiError

from core.leader import Lease, fence
from core.ports import Clock
from core.rms.retry import backoff_delay
from core.store.outbox import OutboxMessage
from core.store.sqlite import Store
from handlers.poster import SlackPoster
from handlers.slack_failures import Failure, Verdict, failure_of

logger = logging.getLogger(__name__)
Message = dict[str, Any]

DEAD_LETTER_KIND = "dead_letter"
"""The admins' alert about a dead-lettered message; it never raises an alert of its own."""

RETRY_BASE, RETRY_CAP = 5.0, 900.0  # seconds: 5 s, 10 s, … at most 15 minutes apart


@dataclass
class Tally:
    """What one delivery round did."""

    posted: int = 0
    retrying: int = 0
    dead: int = 0
    moved: int = 0  # re-addressed to their fallback channel
    paused: bool = False

    @property
    def queued_more(self) -> bool:
        """The round queued work that is due now (dead-letter alerts, moved messages)."""
        return bool(self.dead or self.moved)

    def __iadd__(self, other: Tally) -> Tally:
        self.posted += other.posted
        self.retrying += other.retrying
        self.dead += other.dead
        self.moved += other.moved
        self.paused = self.paused or other.paused
        return self


class Courier:
    """Delivers due outbox messages; one round at a time (the publisher holds the lock)."""

    def __init__(
        self,
        store: Store,
        clock: Clock,
        poster: SlackPoster,
        *,
        alert_channel: str | None,
        dead_letter_alert: Callable[[OutboxMessage, str], Message],
        rng: random.Random | None = None,
        lease: Lease | None = None,
    ) -> None:
        self.store, self.clock, self.poster = store, clock, poster
        self.lease = lease  # a post is claimed under the leader's epoch (None: no election)
        self.alert_channel = alert_channel
        self.dead_letter_alert = dead_letter_alert
        self.rng = rng or random.Random()
        self._held: dict[str, datetime] = {}  # channel → rate limited until (429 Retry-After)
        self._failing: dict[str, str] = {}  # channel → error, to log once and once on recovery
        self._unmarked: set[str] = set()  # channels with no dead-letter mark (checked once)

    async def deliver_due(self, limit: int = 500) -> Tally:
        """Post every due message, each channel in its own task."""
        now = self.clock.now()
        async with self.store.read() as r:
            due = await r.due_messages(now, limit)
        by_channel: dict[str, list[OutboxMessage]] = {}
        for message in due:
            if self._held.get(message.channel, now) <= now:
                by_channel.setdefault(message.channel, []).append(message)
        tally = Tally()
        async with asyncio.TaskGroup() as group:
            for channel, messages in by_channel.items():
                group.create_task(self._channel(channel, messages, tally))
        return tally

    async def _channel(self, channel: str, messages: list[OutboxMessage], tally: Tally) -> None:
        """In id order; a transient failure ends this channel's round (the next is likely to
        fail too), a permanent one only its own message."""
        for message in messages:
            if tally.paused:
                return
            try:
                await self._deliver(message)
            except Exception as exc:
                now = self.clock.now()
                failure = failure_of(exc, message.attempts + 1, now)
                if failure is None:
                    raise
                self._log_failure(channel, failure)
                if failure.verdict is Verdict.PAUSE:
                    tally.paused = True
                    return
                fallback = str(message.payload.get("fallback_channel") or "")
                if failure.verdict is Verdict.DEAD and fallback and message.ts is None:
                    await self._move(message, fallback, failure.error)
                    tally.moved += 1
                    continue
                if failure.verdict is Verdict.DEAD:
                    await self._dead_letter(message, failure.error)
                    tally.dead += 1
                    continue
                await self._retry_later(message, failure, now)
                tally.retrying += 1
                return
            tally.posted += 1
            if self._failing.pop(channel, None) is not None:
                logger.info("posting to %s recovered", channel)

    async def _deliver(self, message: OutboxMessage) -> None:
        """Post (or edit) one message and its thread; every step is recorded as it happens."""
        parts: list[Message] = list(message.payload.get("messages") or [])
        channel, ts, done = message.channel, message.ts, message.parts_posted
        thread = str(message.payload.get("thread_ts") or "")  # posted as replies in a thread
        reply_to = str(message.payload.get("response_url") or "")
        edit_ts = str(message.payload.get("edit_ts") or "")
        only_for = str(message.payload.get("ephemeral_user") or "")
        if only_for:  # a stale form's answer: only its sender sees it
            for part in parts:
                await self.poster.ephemeral(channel, only_for, part)
        elif reply_to:  # only the requester sees it; a crash before it is marked may repeat it
            replace = bool(message.payload.get("replace_original"))
            for index, part in enumerate(parts):
                await self.poster.reply(reply_to, part, replace=replace and index == 0)
        elif parts and edit_ts and ts is None:  # a message posted before outbox messages
            await self.poster.update(channel, edit_ts, parts[0])
            ts = edit_ts
        elif parts and message.is_update and ts is not None:
            await self.poster.update(channel, ts, parts[0])
            for extra in parts[1:]:  # continuations of an edit are new thread replies
                await self.poster.post(channel, extra, thread_ts=thread or ts)
        elif parts:
            if ts is None:
                if message.posting_at is not None:  # begun before a crash or a timeout
                    ts = await self._find(message, message.posting_at)
                if ts is None:
                    async with self.store.tx() as tx:
                        await fence(self.lease, tx)  # a stale leader posts nothing more
                        await tx.message_posting(message.id, self.clock.now())
                    ts = await self.poster.post(
                        channel, parts[0], key=message.key, thread_ts=thread or None
                    )
                done = 1
                await self._progress(message, ts, done)
            for index in range(done, len(parts)):
                await self.poster.post(channel, parts[index], thread_ts=thread or ts)
                await self._progress(message, ts, index + 1)
        async with self.store.tx() as tx:
            await fence(self.lease, tx)  # a stale leader marks nothing: the new one finds the post
            await tx.message_delivered(message.id, message.version, self.clock.now())
            if ts is not None:
                for ref in message.payload.get("refs") or ():
                    await tx.set_ref(str(ref), f"{channel}|{ts}")
            # the channel works again: a later dead letter there is announced again
            if channel not in self._unmarked:
                await tx.delete_refs_with_prefix(_dead_mark(channel, ""))
        self._unmarked.add(channel)

    async def _progress(self, message: OutboxMessage, ts: str, parts: int) -> None:
        async with self.store.tx() as tx:
            await tx.message_progress(message.id, ts, parts, self.clock.now())

    async def _find(self, message: OutboxMessage, since: datetime) -> str | None:
        """The ts of a post that may have happened before an interruption (matched by key)."""
        try:
            thread = str(message.payload.get("thread_ts") or "") or None
            ts = await self.poster.find_posted(
                message.channel, message.key, since.timestamp() - 60, thread_ts=thread
            )
        except SlackApiError as exc:  # e.g. no history scope: at-least-once
            logger.warning(
                "cannot check whether %s was posted (%s); posting it again",
                message.key,
                exc.response.get("error"),
            )
            return None
        if ts is not None:
            logger.info("%s was posted before an interruption; not posting it again", message.key)
        return ts

    async def _retry_later(self, message: OutboxMessage, failure: Failure, now: datetime) -> None:
        delay = backoff_delay(
            message.attempts + 1,
            rng=self.rng,
            base=RETRY_BASE,
            cap=RETRY_CAP,
            retry_after=failure.retry_after,
        )
        retry_at = now + timedelta(seconds=delay)
        if failure.retry_after is not None:  # Slack's limit is per channel: hold all of it
            self._held[message.channel] = now + timedelta(seconds=failure.retry_after)
        async with self.store.tx() as tx:
            await tx.message_failed(
                message.id,
                failure.error,
                now,
                retry_at=retry_at,
                maybe_posted=failure.maybe_posted,
            )

    async def _move(self, message: OutboxMessage, channel: str, error: str) -> None:
        """The first channel will never take it (e.g. a DM the bot cannot post to): send it to
        the fallback channel instead, at once, as a new top-level message."""
        logger.warning(
            "%s cannot be posted to %s (%s); posting it to %s",
            message.key,
            message.channel,
            error,
            channel,
        )
        async with self.store.tx() as tx:
            await tx.message_moved(message.id, channel, error, self.clock.now())

    async def _dead_letter(self, message: OutboxMessage, error: str) -> None:
        """Give the message up; the admins hear of it once per channel and error until a post
        to that channel works again. An alert that is itself dead raises no further alert."""
        now = self.clock.now()
        alert = self.alert_channel
        async with self.store.tx() as tx:
            await tx.message_failed(message.id, error, now, retry_at=None)
            first = await tx.set_ref(_dead_mark(message.channel, error), message.key, only_new=True)
            self._unmarked.discard(message.channel)
            if alert and first and message.kind != DEAD_LETTER_KIND and alert != message.channel:
                await tx.enqueue_message(
                    f"{DEAD_LETTER_KIND}:{message.id}",
                    message.shop,
                    alert,
                    DEAD_LETTER_KIND,
                    {"messages": [self.dead_letter_alert(message, error)]},
                    at=now,
                )
        logger.error(
            "gave up posting %s to %s: Slack answered %s (dead-lettered)",
            message.key,
            message.channel,
            error,
        )

    def _log_failure(self, channel: str, failure: Failure) -> None:
        if self._failing.get(channel) != failure.error:
            logger.warning("posting to %s failed (%s)", channel, failure.error)
        self._failing[channel] = failure.error


def _dead_mark(channel: str, error: str) -> str:
    """The ref that says the admins were told about ``channel`` failing with ``error``."""
    return f"dead_letter:{channel}:{error}"

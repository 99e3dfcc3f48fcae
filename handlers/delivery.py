"""Per-message delivery of the outbox into Slack (DESIGN §10 rule 4).

Each due message is posted on its own: channels side by side (each paced by the poster at
about one post per second), a 429 holds only its channel for Retry-After, a transient failure
is retried with backoff, and a permanent one dead-letters that message alone, with one alert
to the admins per broken channel and error. Nothing one message does blocks another channel.
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

import aiohttp
from slack_sdk.errors import SlackApiError

from core.ports import Clock
from core.rms.retry import backoff_delay, parse_retry_after
from core.store.outbox import OutboxMessage
from core.store.sqlite import SqliteStore
from handlers.poster import SlackPoster

logger = logging.getLogger(__name__)
Message = dict[str, Any]

DEAD_LETTER_KIND = "dead_letter"
"""The admins' alert about a dead-lettered message; it never raises an alert of its own."""

PERMANENT_ERRORS = frozenset(
    {
        "channel_not_found",
        "not_in_channel",
        "is_archived",
        "invalid_blocks",
        "invalid_blocks_format",
        "msg_too_long",
        "no_text",
        "too_many_attachments",
        "invalid_metadata_format",
        "invalid_metadata_schema",
        "metadata_too_large",
        "restricted_action",
        "restricted_action_read_only_channel",
        "restricted_action_thread_only_channel",
        "restricted_action_non_threadable_channel",
        "restricted_action_thread_locked",
        "message_not_found",
        "cant_update_message",
        "edit_window_closed",
        "thread_not_found",
    }
)
"""Slack will never take this message in this channel: retrying only repeats the error."""

WORKSPACE_ERRORS = frozenset(
    {
        "invalid_auth",
        "not_authed",
        "account_inactive",
        "token_revoked",
        "token_expired",
        "no_permission",
        "missing_scope",
        "not_allowed_token_type",
        "team_access_not_granted",
        "ekm_access_denied",
        "org_login_required",
    }
)
"""The token or the app is wrong, not the message: every post fails until an operator fixes
it (and restarts). Dead-lettering would throw every message away, so delivery pauses."""

TRANSIENT_ERRORS = frozenset(
    {
        "ratelimited",
        "rate_limited",
        "internal_error",
        "fatal_error",
        "service_unavailable",
        "request_timeout",
        "message_limit_exceeded",
    }
)
UNKNOWN_ERROR_ATTEMPTS = 5
"""An error Slack names but we do not know is tried this often, then dead-lettered."""
RETRY_BASE, RETRY_CAP = 5.0, 900.0  # seconds: 5 s, 10 s, … at most 15 minutes apart


class Verdict(StrEnum):
    """What a failed attempt means for the message."""

    RETRY = "retry"  # later, with backoff (Slack down, 5xx, 429, a timeout)
    DEAD = "dead"  # never: dead-letter it and tell the admins
    PAUSE = "pause"  # nothing can be posted at all (token): stop, count no attempt


@dataclass(frozen=True, slots=True)
class Failure:
    """A failed attempt, classified."""

    error: str
    verdict: Verdict
    retry_after: float | None = None
    maybe_posted: bool = False  # the outcome is unknown: look in Slack before posting again


def classify(error: str, status: int, attempts: int) -> Verdict:
    """The verdict for Slack's ``error`` at HTTP ``status`` on attempt number ``attempts``."""
    if status == 429 or status >= 500 or error in TRANSIENT_ERRORS:
        return Verdict.RETRY
    if error in WORKSPACE_ERRORS:
        return Verdict.PAUSE
    if error in PERMANENT_ERRORS:
        return Verdict.DEAD
    return Verdict.DEAD if attempts >= UNKNOWN_ERROR_ATTEMPTS else Verdict.RETRY


def failure_of(exc: Exception, attempts: int, now: datetime) -> Failure | None:
    """Classify what a post raised; None for exceptions that are bugs, not Slack's answers."""
    if isinstance(exc, SlackApiError):
        response = exc.response
        status = int(getattr(response, "status_code", 200) or 200)
        error = str(response.get("error") or f"http_{status}")
        headers: Mapping[str, Any] = getattr(response, "headers", None) or {}
        wait = next((str(v) for k, v in headers.items() if k.lower() == "retry-after"), None)
        return Failure(
            error,
            classify(error, status, attempts),
            retry_after=parse_retry_after(wait, now=now) if status == 429 else None,
            maybe_posted=status >= 500,
        )
    if isinstance(exc, aiohttp.ClientError | TimeoutError | OSError):
        return Failure(type(exc).__name__, Verdict.RETRY, maybe_posted=True)
    return None


@dataclass
class Tally:
    """What one delivery round did."""

    posted: int = 0
    retrying: int = 0
    dead: int = 0
    paused: bool = False

    def __iadd__(self, other: Tally) -> Tally:
        self.posted += other.posted
        self.retrying += other.retrying
        self.dead += other.dead
        self.paused = self.paused or other.paused
        return self


class Courier:
    """Delivers due outbox messages; one round at a time (the publisher holds the lock)."""

    def __init__(
        self,
        store: SqliteStore,
        clock: Clock,
        poster: SlackPoster,
        *,
        alert_channel: str | None,
        dead_letter_alert: Callable[[OutboxMessage, str], Message],
        rng: random.Random | None = None,
    ) -> None:
        self.store, self.clock, self.poster = store, clock, poster
        self.alert_channel = alert_channel
        self.dead_letter_alert = dead_letter_alert
        self.rng = rng or random.Random()
        self._held: dict[str, datetime] = {}  # channel → rate limited until (429 Retry-After)
        self._failing: dict[str, str] = {}  # channel → error, to log once and once on recovery

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
        if parts and message.is_update and ts is not None:
            await self.poster.update(channel, ts, parts[0])
            for extra in parts[1:]:  # continuations of an edit are new thread replies
                await self.poster.post(channel, extra, thread_ts=ts)
        elif parts:
            if ts is None:
                if message.posting_at is not None:  # begun before a crash or a timeout
                    ts = await self._find(message, message.posting_at)
                if ts is None:
                    async with self.store.tx() as tx:
                        await tx.message_posting(message.id, self.clock.now())
                    ts = await self.poster.post(channel, parts[0], key=message.key)
                done = 1
                await self._progress(message, ts, done)
            for index in range(done, len(parts)):
                await self.poster.post(channel, parts[index], thread_ts=ts)
                await self._progress(message, ts, index + 1)
        async with self.store.tx() as tx:
            await tx.message_delivered(message.id, message.version, self.clock.now())
            if ts is not None:
                for ref in message.payload.get("refs") or ():
                    await tx.set_ref(str(ref), f"{channel}|{ts}")
            await tx.delete_refs_with_prefix(
                _dead_mark(channel, "")
            )  # the channel works: alert again

    async def _progress(self, message: OutboxMessage, ts: str, parts: int) -> None:
        async with self.store.tx() as tx:
            await tx.message_progress(message.id, ts, parts, self.clock.now())

    async def _find(self, message: OutboxMessage, since: datetime) -> str | None:
        """The ts of a post that may have happened before an interruption (matched by key)."""
        try:
            ts = await self.poster.find_posted(message.channel, message.key, since.timestamp() - 60)
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

    async def _dead_letter(self, message: OutboxMessage, error: str) -> None:
        """Give the message up; the admins hear of it once per channel and error until a post
        to that channel works again. An alert that is itself dead raises no further alert."""
        now = self.clock.now()
        alert = self.alert_channel
        async with self.store.tx() as tx:
            await tx.message_failed(message.id, error, now, retry_at=None)
            first = await tx.set_ref(_dead_mark(message.channel, error), message.key, only_new=True)
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

"""Posting to Slack channels at ≤ 1 message per second per channel, with thread overflow."""

from __future__ import annotations

import asyncio
import copy
import logging
from collections import defaultdict
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

from slack_sdk.errors import SlackApiError
from slack_sdk.http_retry.builtin_async_handlers import AsyncRateLimitErrorRetryHandler
from slack_sdk.web.async_client import AsyncWebClient
from slack_sdk.web.async_slack_response import AsyncSlackResponse
from slack_sdk.webhook.async_client import AsyncWebhookClient

from core.ports import Clock

logger = logging.getLogger(__name__)
Message = dict[str, Any]
POST_EVENT = "rms_bot_post"  # message metadata event_type marking the bot's outbox posts
HISTORY_PAGE = 200  # Slack's advice for conversations.history pages (it allows up to 999)
RATE_LIMIT_ATTEMPTS = 4  # one call and three retries after a 429


def slack_error(exc: SlackApiError) -> str:
    """The ``error`` of a refused Web API call ("ratelimited", "not_in_channel", …)."""
    return str(exc.response.get("error") or "") if exc.response is not None else ""


class SlackPoster:
    """chat.postMessage / chat.update through one client; per-channel pacing on the Clock."""

    def __init__(self, client: AsyncWebClient, clock: Clock, *, spacing: float = 1.1) -> None:
        # 429s are waited out here, on the Clock and per channel; the SDK's handler would sleep
        # in real time while holding the channel, unseen by the pacing.
        self._client = copy.copy(client)
        self._client.retry_handlers = [
            h for h in client.retry_handlers if not isinstance(h, AsyncRateLimitErrorRetryHandler)
        ]
        self._clock = clock
        self._spacing = spacing
        self._locks: dict[str, asyncio.Lock] = defaultdict(asyncio.Lock)
        self._last: dict[str, float] = {}
        self._held: dict[str, float] = {}  # channel → not before (a 429's Retry-After)

    async def _pace(self, channel: str) -> None:
        now = self._clock.now().timestamp()
        last = self._last.get(channel)
        wait = self._held.get(channel, now) - now
        if last is not None:
            wait = max(wait, self._spacing - (now - last))
        if wait > 0:
            await self._clock.sleep(wait)
        self._last[channel] = self._clock.now().timestamp()

    async def _call(
        self, channel: str, call: Callable[..., Awaitable[AsyncSlackResponse]], /, **kwargs: Any
    ) -> AsyncSlackResponse:
        """One Web API call; a 429 holds ``channel`` for its Retry-After, then tries again."""
        for attempt in range(1, RATE_LIMIT_ATTEMPTS + 1):
            try:
                return await call(**kwargs)
            except SlackApiError as exc:
                if exc.response.status_code != 429 or attempt == RATE_LIMIT_ATTEMPTS:
                    raise
                wait = _retry_after(exc)
                logger.info("Slack rate-limited %s: waiting %.0f s", channel, wait)
                self._held[channel] = self._clock.now().timestamp() + wait
                await self._pace(channel)
        raise AssertionError("unreachable")

    async def post(
        self,
        channel: str,
        message: Message,
        *,
        thread_ts: str | None = None,
        key: str | None = None,
    ) -> str:
        """Post one message; returns its ts. Raises SlackApiError when Slack refuses it.

        ``key`` is attached as message metadata so a post that may have happened before a crash
        can be found again (``find_posted``) instead of being posted twice."""
        async with self._locks[channel]:
            await self._pace(channel)
            kwargs: dict[str, Any] = {
                "channel": channel,
                "text": message.get("text", ""),
                "blocks": message.get("blocks"),
            }
            if thread_ts:
                kwargs["thread_ts"] = thread_ts
            if key:
                kwargs["metadata"] = {"event_type": POST_EVENT, "event_payload": {"key": key}}
            response = await self._call(channel, self._client.chat_postMessage, **kwargs)
            return str(response["ts"])

    async def join(self, channel: str) -> None:
        """conversations.join (public channels; scope channels:join). Raises SlackApiError."""
        await self._call(channel, self._client.conversations_join, channel=channel)

    async def find_posted(
        self, channel: str, key: str, oldest: float, *, thread_ts: str | None = None
    ) -> str | None:
        """The ts of the message posted with ``key`` since ``oldest`` (in the thread of
        ``thread_ts`` when given: replies are not in the channel's history), or None when
        there is none. Raises SlackApiError when the history cannot be read."""
        try:
            return await self._search_history(channel, key, oldest, thread_ts)
        except SlackApiError as exc:
            if slack_error(exc) != "not_in_channel":
                raise
        # Posting needs no membership (chat:write.public) but reading does: join, read again.
        try:
            await self.join(channel)
            return await self._search_history(channel, key, oldest, thread_ts)
        except SlackApiError as exc:
            logger.warning(
                "cannot read the history of %s (%s): /invite the bot to it (or grant "
                "channels:join); whether %s was already posted is unknown",
                channel,
                slack_error(exc),
                key,
            )
            raise

    async def _search_history(
        self, channel: str, key: str, oldest: float, thread_ts: str | None = None
    ) -> str | None:
        cursor: str | None = None
        where: dict[str, Any] = {"ts": thread_ts} if thread_ts else {"oldest": f"{oldest:.6f}"}
        read = (
            self._client.conversations_replies if thread_ts else self._client.conversations_history
        )
        while True:
            response = await self._call(
                channel,
                read,
                channel=channel,
                **where,
                limit=HISTORY_PAGE,
                include_all_metadata=True,
                **({"cursor": cursor} if cursor else {}),
            )
            for item in response.get("messages") or []:
                metadata = item.get("metadata") or {}
                if metadata.get("event_type") == POST_EVENT and (
                    (metadata.get("event_payload") or {}).get("key") == key
                ):
                    return str(item["ts"])
            following = (response.get("response_metadata") or {}).get("next_cursor") or None
            if not response.get("has_more") or following in (None, cursor):
                return None
            cursor = following

    async def post_all(
        self,
        channel: str,
        messages: Sequence[Message],
        *,
        key: str | None = None,
        thread_ts: str | None = None,
    ) -> str:
        """Post a main message and its continuations as thread replies; returns the main ts.
        With ``thread_ts`` everything goes into that thread."""
        ts = await self.post(channel, messages[0], key=key, thread_ts=thread_ts)
        for extra in messages[1:]:
            await self.post(channel, extra, thread_ts=thread_ts or ts)
        return ts

    async def update(self, channel: str, ts: str, message: Message) -> None:
        """Edit a message in place (chat.update)."""
        async with self._locks[channel]:
            await self._pace(channel)
            await self._call(
                channel,
                self._client.chat_update,
                channel=channel,
                ts=ts,
                text=message.get("text", ""),
                blocks=message.get("blocks"),
            )

    async def update_all(self, channel: str, ts: str, messages: Sequence[Message]) -> None:
        """Edit a message and add its continuations as thread replies."""
        await self.update(channel, ts, messages[0])
        for extra in messages[1:]:
            await self.post(channel, extra, thread_ts=ts)

    async def reply(self, response_url: str, message: Message, *, replace: bool = False) -> None:
        """Answer through a response_url (ephemeral) on the shared connection pool; bolt's
        ``respond()`` opens a new HTTP session per call. ``replace``: instead of the
        placeholder the requester saw ("…しています")."""
        webhook = AsyncWebhookClient(url=response_url, session=self._client.session)
        response = await webhook.send(
            text=message.get("text", ""),
            blocks=message.get("blocks"),
            response_type="ephemeral",
            replace_original=replace,
        )
        if response.status_code != 200:
            logger.warning("response_url answered %s", response.status_code)

    async def ephemeral(self, channel: str, user: str, message: Message) -> None:
        """Post a message only ``user`` sees (errors, refusals, lists)."""
        await self._client.chat_postEphemeral(
            channel=channel, user=user, text=message.get("text", ""), blocks=message.get("blocks")
        )


def _retry_after(exc: SlackApiError) -> float:
    """Seconds from a 429's Retry-After header (1 when missing or unreadable)."""
    headers = exc.response.headers or {}
    value = next((v for k, v in headers.items() if k.lower() == "retry-after"), "1")
    try:
        return max(0.0, float(value[0] if isinstance(value, list) else value))
    except ValueError:
        return 1.0

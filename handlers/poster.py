"""Posting to Slack channels at ≤ 1 message per second per channel, with thread overflow."""

from __future__ import annotations

import asyncio
import logging
from collections import defaultdict
from collections.abc import Sequence
from typing import Any

from slack_sdk.web.async_client import AsyncWebClient
from slack_sdk.webhook.async_client import AsyncWebhookClient

from core.ports import Clock

logger = logging.getLogger(__name__)
Message = dict[str, Any]
POST_EVENT = "rms_bot_post"  # message metadata event_type marking the bot's outbox posts


class SlackPoster:
    """chat.postMessage / chat.update through one client; per-channel pacing on the Clock."""

    def __init__(self, client: AsyncWebClient, clock: Clock, *, spacing: float = 1.1) -> None:
        self._client = client
        self._clock = clock
        self._spacing = spacing
        self._locks: dict[str, asyncio.Lock] = defaultdict(asyncio.Lock)
        self._last: dict[str, float] = {}

    async def _pace(self, channel: str) -> None:
        now = self._clock.now().timestamp()
        last = self._last.get(channel)
        if last is not None and now - last < self._spacing:
            await self._clock.sleep(self._spacing - (now - last))
        self._last[channel] = self._clock.now().timestamp()

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
            response = await self._client.chat_postMessage(**kwargs)
            return str(response["ts"])

    async def find_posted(self, channel: str, key: str, oldest: float) -> str | None:
        """The ts of the message posted with ``key`` since ``oldest``, or None."""
        response = await self._client.conversations_history(
            channel=channel, oldest=str(oldest), limit=200, include_all_metadata=True
        )
        for item in response.get("messages") or []:
            metadata = item.get("metadata") or {}
            if metadata.get("event_type") == POST_EVENT and (
                (metadata.get("event_payload") or {}).get("key") == key
            ):
                return str(item["ts"])
        return None

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
            await self._client.chat_update(
                channel=channel, ts=ts, text=message.get("text", ""), blocks=message.get("blocks")
            )

    async def update_all(self, channel: str, ts: str, messages: Sequence[Message]) -> None:
        """Edit a message and add its continuations as thread replies."""
        await self.update(channel, ts, messages[0])
        for extra in messages[1:]:
            await self.post(channel, extra, thread_ts=ts)

    async def reply(self, response_url: str, message: Message) -> None:
        """Answer through a response_url (ephemeral) on the shared connection pool; bolt's
        ``respond()`` opens a new HTTP session per call."""
        webhook = AsyncWebhookClient(url=response_url, session=self._client.session)
        response = await webhook.send(
            text=message.get("text", ""),
            blocks=message.get("blocks"),
            response_type="ephemeral",
            replace_original=False,
        )
        if response.status_code != 200:
            logger.warning("response_url answered %s", response.status_code)

    async def ephemeral(self, channel: str, user: str, message: Message) -> None:
        """Post a message only ``user`` sees (errors, refusals, lists)."""
        await self._client.chat_postEphemeral(
            channel=channel, user=user, text=message.get("text", ""), blocks=message.get("blocks")
        )

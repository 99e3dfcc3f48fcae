"""HandlerDeps: what every handler group needs, built by bot/wiring.py (no Slack app here)."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar

import aiohttp
from slack_bolt.context.respond.async_respond import AsyncRespond
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from core.context import Core
from core.errors import InvalidInputError
from core.model import Request, RequestKind
from core.requests import submit
from handlers.guard import (
    Authorizer,
    ClickDedup,
    Listener,
    Role,
    Verdict,
    audit_refusal,
    guarded,
    refusal,
)
from handlers.messages import say
from handlers.poster import SlackPoster
from handlers.publisher import Publisher
from handlers.render.i18n import Lang
from handlers.render.lists import error_message
from handlers.tasks import TaskTracker

Message = dict[str, Any]
SummaryHook = Callable[[str | None], Awaitable[Message]]  # shop (None: all) → the summary
LicenseHook = Callable[[str, str, str], Awaitable[str]]  # shop, key, actor → status
HomeHook = Callable[[str], Awaitable[dict[str, Any]]]  # user → the App Home view
Parsed = TypeVar("Parsed")
NAME_LOOKUP_SECONDS = 1.0  # conversations.info runs inside Slack's 3-second ack window


@dataclass
class HandlerDeps:
    """What every handler group needs (built by bot/wiring.py)."""

    core: Core
    poster: SlackPoster
    auth: Authorizer
    publisher: Publisher
    lang: Lang = "ja"
    dedup: ClickDedup = field(default_factory=ClickDedup)
    wake: Callable[[], None] = lambda: None  # the request worker: a request was stored
    summary: SummaryHook | None = None  # /rms summary and the App Home button
    home: HomeHook | None = None  # App Home
    license: LicenseHook | None = None  # /rms license (needs SECRET_KEY)
    channel_names: dict[str, str] = field(default_factory=dict)  # shop channel ID → its name
    tasks: TaskTracker = field(default_factory=TaskTracker)  # listeners run on, after the ack

    async def request(
        self,
        kind: RequestKind,
        shop: str,
        numbers: Sequence[str] | str,
        user: str,
        *,
        delivery_key: str,
        open_key: str | None = None,
        channel: str = "",
        thread_ts: str | None = None,
        response_url: str | None = None,
        payload: Mapping[str, Any] | None = None,
    ) -> tuple[Request, bool]:
        """Commit a request (one insert) and wake the worker; Slack is acked after this.

        False: Slack redelivered it, or the same request is still open (a double click).
        """
        stored = await submit(
            self.core,
            Request(
                kind=kind,
                shop=shop,
                numbers=numbers if isinstance(numbers, str) else tuple(numbers),
                actor=user,
                received_at=self.core.clock.now(),
                delivery_key=delivery_key,
                open_key=open_key,
                channel=channel,
                thread_ts=thread_ts,
                response_url=response_url,
                payload=payload or {},
            ),
        )
        self.wake()
        return stored

    async def refused(self, user: str, role: Role, shop: str, what: str) -> str | None:
        """None when ``user`` may do ``what`` in ``shop`` now; otherwise why not, in the
        staff's words (the refusal is logged and audited)."""
        verdict = await self.auth.check(user, role, shop)
        if verdict is Verdict.ALLOWED:
            return None
        await audit_refusal(self.core, shop, user, what, verdict)
        return refusal(verdict, self.lang)

    async def tell_clicker(self, respond: AsyncRespond, text: str) -> None:
        """Answer a click with an error only the person who clicked sees."""
        await respond(
            **error_message(text, self.lang), response_type="ephemeral", replace_original=False
        )

    def wrap(self, listener: Listener) -> Listener:
        """The listener, guarded: no exception ever reaches bolt (see handlers.guard)."""
        return guarded(listener, say("unexpected_error", self.lang))

    async def parse_command(
        self, parser: Callable[..., Parsed], command: Mapping[str, Any], client: AsyncWebClient
    ) -> Parsed:
        """Parse a slash command's text (the channel's shop by default); a shop name we do
        not know may be a shop channel's name (`shop-second`, `#shop-second`): then ask Slack
        for those names once and parse again."""

        def parse() -> Parsed:
            return parser(
                command.get("text", ""),
                self.core.shops,
                channel_shop=self.channel_shop(command["channel_id"]),
                channel_names=self.channel_names,
            )

        try:
            return parse()
        except InvalidInputError as exc:
            if not str(exc).startswith("unknown_shop:") or not await self._learn_names(client):
                raise
        return parse()

    async def _learn_names(self, client: AsyncWebClient) -> bool:
        """Fill in the names of shop channels we do not know yet; True when one was learnt."""
        learnt = False
        for channel in {s.channel for s in self.core.shops.values()} - set(self.channel_names):
            try:
                info = await asyncio.wait_for(
                    client.conversations_info(channel=channel), NAME_LOOKUP_SECONDS
                )
            except (SlackApiError, aiohttp.ClientError, TimeoutError, OSError):
                continue  # the name stays unknown; the next unknown name asks again
            name = str((info.get("channel") or {}).get("name") or "")
            if name:
                self.channel_names[channel] = name
                learnt = True
        return learnt

    def channel_shop(self, channel: str) -> str | None:
        """The shop whose channel this is, if any."""
        for key, shop in self.core.shops.items():
            if shop.channel == channel:
                return key
        return None

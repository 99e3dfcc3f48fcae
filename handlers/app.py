"""create_app: one AsyncApp, every handler group registered, one global error handler."""

from __future__ import annotations

import logging
import secrets
from collections.abc import Callable, Container, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from pydantic import SecretStr
from slack_bolt.async_app import AsyncApp
from slack_bolt.response import BoltResponse
from slack_sdk.web.async_client import AsyncWebClient

from core.model import Request, RequestKind
from core.requests import submit
from core.service import Core
from handlers.guard import Authorizer, ClickDedup, Listener, guarded
from handlers.messages import say
from handlers.poster import SlackPoster
from handlers.publisher import Publisher
from handlers.render import ids
from handlers.render.i18n import Lang
from handlers.tasks import TaskTracker

logger = logging.getLogger(__name__)


@dataclass
class HandlerDeps:
    """What every handler group needs (built by bot/wiring.py)."""

    core: Core
    poster: SlackPoster
    auth: Authorizer
    tracker: TaskTracker
    publisher: Publisher
    lang: Lang = "ja"
    dedup: ClickDedup = field(default_factory=ClickDedup)
    extras: dict[str, Any] = field(default_factory=dict)  # licence vault, summary hooks
    wake: Callable[[], None] = lambda: None  # the request worker: a request was stored

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

    def wrap(self, listener: Listener) -> Listener:
        """The listener, guarded: no exception ever reaches bolt (see handlers.guard)."""
        return guarded(listener, say("unexpected_error", self.lang))

    def channel_shop(self, channel: str) -> str | None:
        """The shop whose channel this is, if any."""
        for key, shop in self.core.shops.items():
            if shop.channel == channel:
                return key
        return None


VALUE_PARTS = {
    ids.CONFIRM_ORDER: 2,
    ids.CONFIRM_ALL: 3,
    ids.CANCEL_ALL: 3,
    ids.REFETCH_ORDER: 2,
    ids.RETRY_CONFIRM: 2,
    ids.REFETCH_MANY: 2,
    ids.OPEN_FEE_MODAL: 2,
    ids.SHOW_DETAILS: 2,
}
METADATA_PARTS = {ids.FEE_MODAL: 4, ids.LICENSE_MODAL: 1}


def mangled(body: dict[str, Any], shops: Container[str]) -> str | None:
    """Why a button value or modal metadata is not one we wrote (pure), or None."""
    checks: list[tuple[str, int]] = []
    if body.get("type") == "block_actions":
        for action in body.get("actions") or []:
            parts = VALUE_PARTS.get(action.get("action_id", ""))
            if parts:
                checks.append((str(action.get("value") or ""), parts))
    elif body.get("type") == "view_submission":
        view = body.get("view") or {}
        parts = METADATA_PARTS.get(view.get("callback_id", ""))
        if parts:
            checks.append((str(view.get("private_metadata") or ""), parts))
    for value, parts in checks:
        try:
            fields = ids.unpack_value(value, parts)
        except ValueError as exc:
            return str(exc)
        if fields[0] not in shops:
            return f"unknown shop {fields[0][:40]!r}"
    return None


def create_app(
    deps: HandlerDeps, client: AsyncWebClient, signing_secret: SecretStr | None
) -> AsyncApp:
    """Build the bolt app with our client (its base_url points at Slack or the emulator).

    Request verification is always on. Without a signing secret (Socket Mode) the app gets a
    random one nobody knows, so no HTTP request can ever pass; Socket Mode deliveries skip the
    signature check by bolt's design (the WebSocket is authenticated by the app-level token).
    """
    secret = signing_secret.get_secret_value() if signing_secret else secrets.token_hex(32)
    app = AsyncApp(
        client=client,
        signing_secret=secret,
        request_verification_enabled=True,
        process_before_response=False,
    )
    from handlers.admin import AdminHandlers
    from handlers.fees import FeeHandlers
    from handlers.orders import OrderHandlers

    for group in (OrderHandlers(deps), FeeHandlers(deps), AdminHandlers(deps)):
        group.register(app)

    @app.middleware
    async def drop_mangled_values(body: dict[str, Any], next: Any) -> Any:  # noqa: A002
        """A button value or modal metadata we did not write is answered 200 and ignored."""
        problem = mangled(body, deps.core.shops)
        if problem:
            logger.warning("ignored a %s with a mangled value: %s", body.get("type"), problem)
            return BoltResponse(status=200, body="")
        return await next()

    @app.middleware
    async def skip_redelivered_events(body: dict[str, Any], req: Any, next: Any) -> Any:  # noqa: A002
        retry = req.headers.get("x-slack-retry-num")
        event_id = body.get("event_id")
        if retry and event_id and not deps.dedup.first(f"event:{event_id}"):
            return BoltResponse(status=200, body="")
        if event_id:
            deps.dedup.first(f"event:{event_id}")
        return await next()

    @app.error
    async def on_error(
        error: Exception, body: dict[str, Any], response: BoltResponse | None
    ) -> BoltResponse | None:
        logger.error(
            "listener failed for %s", body.get("type") or body.get("command"), exc_info=error
        )
        if response is None:  # already acked: the HTTP answer has gone out
            return None
        return BoltResponse(status=200, body=say("unexpected_error", deps.lang))

    return app

"""create_app: one AsyncApp, every handler group registered, one global error handler."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any

from pydantic import SecretStr
from slack_bolt.async_app import AsyncApp
from slack_bolt.response import BoltResponse
from slack_sdk.web.async_client import AsyncWebClient

from core.service import Core
from handlers.guard import Authorizer, ClickDedup
from handlers.poster import SlackPoster
from handlers.publisher import Publisher
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

    def shop_names(self) -> dict[str, str]:
        """Shop key → display name."""
        return {k: s.name for k, s in self.core.shops.items()}

    def channel_shop(self, channel: str) -> str | None:
        """The shop whose channel this is, if any."""
        for key, shop in self.core.shops.items():
            if shop.channel == channel:
                return key
        return None


def create_app(
    deps: HandlerDeps, client: AsyncWebClient, signing_secret: SecretStr | None
) -> AsyncApp:
    """Build the bolt app with our client (its base_url points at Slack or the emulator)."""
    app = AsyncApp(
        client=client,
        signing_secret=signing_secret.get_secret_value() if signing_secret else "socket-mode",
        request_verification_enabled=signing_secret is not None,
        process_before_response=False,
    )
    from handlers.admin import AdminHandlers
    from handlers.fees import FeeHandlers
    from handlers.orders import OrderHandlers

    for group in (OrderHandlers(deps), FeeHandlers(deps), AdminHandlers(deps)):
        group.register(app)

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
    async def on_error(error: Exception, body: dict[str, Any]) -> BoltResponse:
        logger.error("listener failed for %s", body.get("type") or body.get("command"),
                     exc_info=error)
        return BoltResponse(status=200, body="")

    return app

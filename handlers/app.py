"""create_app: one AsyncApp, every handler group registered, one global error handler."""

from __future__ import annotations

import logging
import secrets
from collections.abc import Awaitable, Callable, Container
from typing import Any

from pydantic import SecretStr
from slack_bolt.async_app import AsyncApp
from slack_bolt.middleware.async_middleware import AsyncMiddleware
from slack_bolt.request.async_request import AsyncBoltRequest
from slack_bolt.response import BoltResponse
from slack_sdk.web.async_client import AsyncWebClient

from handlers.admin import AdminHandlers
from handlers.deps import HandlerDeps
from handlers.fees import FeeHandlers
from handlers.messages import say
from handlers.orders import OrderHandlers
from handlers.render import ids
from handlers.routes import Routes

logger = logging.getLogger(__name__)


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


class Screen(AsyncMiddleware):
    """Answers 200 and ignores a button value or modal metadata we did not write, and an
    event Slack redelivers. One class-based middleware: bolt builds no keyword arguments for
    it on each request, as it does for a function middleware (this runs on every ack)."""

    def __init__(self, deps: HandlerDeps) -> None:
        self.deps = deps

    async def async_process(
        self,
        *,
        req: AsyncBoltRequest,
        resp: BoltResponse,
        next: Callable[[], Awaitable[BoltResponse]],  # noqa: A002 - bolt's keyword
    ) -> BoltResponse | None:
        body = req.body
        problem = mangled(body, self.deps.core.shops)
        if problem:
            logger.warning("ignored a %s with a mangled value: %s", body.get("type"), problem)
            return BoltResponse(status=200, body="")
        event_id = body.get("event_id")
        if event_id:
            first = self.deps.dedup.first(f"event:{event_id}")
            if not first and req.headers.get("x-slack-retry-num"):
                return BoltResponse(status=200, body="")
        return await next()


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
        process_before_response=True,  # Routes answers at the ack (no 10 ms polling)
    )
    routes = Routes(deps.wrap, deps.tasks.spawn, deps.core.store.ack_first.answering)
    for group in (OrderHandlers(deps), FeeHandlers(deps), AdminHandlers(deps)):
        group.register(routes)
    routes.install(app)

    app.use(Screen(deps))

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

"""/confirm, /rms-status and the order buttons: ack, parse, call the core, render."""

from __future__ import annotations

import logging
import secrets
from collections import Counter
from typing import Any

from slack_bolt.async_app import AsyncAck, AsyncRespond
from slack_sdk.web.async_client import AsyncWebClient

from core.confirm import decide
from core.errors import InvalidInputError
from core.model import ALL_ORDERS, RequestKind, Stage
from core.outcomes import Reason
from handlers.deps import HandlerDeps
from handlers.guard import Role
from handlers.input_errors import input_error_text
from handlers.messages import say as t
from handlers.parsing import OrdersRequest, parse_orders
from handlers.render import ids
from handlers.render.lists import error_message
from handlers.render.reports import confirm_all_prompt
from handlers.routes import Routes

logger = logging.getLogger(__name__)
Body = dict[str, Any]


class OrderHandlers:
    """Confirmation and RMS-status requests, from commands and from buttons."""

    def __init__(self, deps: HandlerDeps) -> None:
        self.d = deps

    def register(self, routes: Routes) -> None:
        """Connect commands and action ids to the methods below."""
        routes.command("/confirm", self.on_confirm_command)
        routes.command("/rms-status", self.on_status_command)
        routes.action(ids.CONFIRM_ALL, self.on_confirm_all)
        routes.action(ids.CANCEL_ALL, self.on_cancel_all)
        routes.action(ids.CONFIRM_ORDER, self.on_confirm_button)
        routes.action(ids.RETRY_CONFIRM, self.on_confirm_button)
        routes.action(ids.REFETCH_ORDER, self.on_refetch_button)
        routes.action(ids.REFETCH_MANY, self.on_refetch_button)

    # -- commands ----------------------------------------------------------------------------

    async def on_confirm_command(
        self, ack: AsyncAck, command: Body, client: AsyncWebClient
    ) -> None:
        """`/confirm <numbers…|all> [shop]`: stored as a request, then acknowledged."""
        user, channel = command["user_id"], command["channel_id"]
        req = await self._parse(ack, command, client)
        if req is None:
            return
        if not await self._allowed(ack, user, Role.CONFIRMER, req.shop, "confirm"):
            return
        if req.all:
            await ack(**await self._all_prompt(req.shop))
            return
        await self.d.request(
            RequestKind.CONFIRM,
            req.shop,
            req.numbers,
            user,
            delivery_key=f"command:{command.get('trigger_id') or secrets.token_hex(8)}",
            channel=channel,
            response_url=command.get("response_url"),
        )
        await ack(text=t("accepted_confirm", self.d.lang, count=len(req.numbers)))

    async def on_status_command(self, ack: AsyncAck, command: Body, client: AsyncWebClient) -> None:
        """`/rms-status <numbers…|all> [shop]`: RMSステータスを取得."""
        req = await self._parse(ack, command, client)
        if req is None:
            return
        await self.d.request(
            RequestKind.REFETCH,
            req.shop,
            ALL_ORDERS if req.all else req.numbers,
            command["user_id"],
            delivery_key=f"command:{command.get('trigger_id') or secrets.token_hex(8)}",
            channel=command["channel_id"],
            response_url=command.get("response_url"),
        )
        await ack(text=t("accepted_refetch", self.d.lang))

    # -- buttons -------------------------------------------------------------------------------

    async def on_confirm_all(
        self, ack: AsyncAck, body: Body, action: Body, respond: AsyncRespond
    ) -> None:
        """The confirm-all button of the prompt: runs once per prompt, whoever clicks."""
        shop, _count, token = ids.unpack_value(action["value"], 3)
        user, channel = body["user"]["id"], body["channel"]["id"]
        if not await self._allowed_click(ack, respond, user, Role.CONFIRMER, shop, "confirm_all"):
            return
        _request, new = await self.d.request(
            RequestKind.CONFIRM,
            shop,
            ALL_ORDERS,
            user,
            delivery_key=f"confirm_all:{token}",
            channel=channel,
        )
        await ack()
        if new:
            await respond(text=t("confirm_all_started", self.d.lang), replace_original=True)

    async def on_cancel_all(self, ack: AsyncAck, respond: AsyncRespond) -> None:
        """The cancel button of the confirm-all prompt."""
        await ack()
        await respond(text=t("confirm_all_cancelled", self.d.lang), replace_original=True)

    async def on_confirm_button(
        self, ack: AsyncAck, body: Body, action: Body, respond: AsyncRespond
    ) -> None:
        """注文確認通知 for one order (card) or a retry of several (remediation card)."""
        shop, numbers = _shop_and_numbers(action["value"])
        user, channel = body["user"]["id"], body["channel"]["id"]
        if not await self._allowed_click(ack, respond, user, Role.CONFIRMER, shop, "confirm"):
            return
        await self.d.request(
            RequestKind.CONFIRM,
            shop,
            numbers,
            user,
            delivery_key=_click_key(body, action),
            open_key=f"{action['action_id']}:{action['value']}",
            channel=channel,
            thread_ts=_thread_of(body),
            response_url=body.get("response_url"),
        )
        await ack()

    async def on_refetch_button(self, ack: AsyncAck, body: Body, action: Body) -> None:
        """RMSステータスを取得 for one or several orders."""
        shop, numbers = _shop_and_numbers(action["value"])
        user = body["user"]["id"]
        await self.d.request(
            RequestKind.REFETCH,
            shop,
            numbers,
            user,
            delivery_key=_click_key(body, action),
            open_key=f"{user}:{action['action_id']}:{action['value']}",
            channel=(body.get("channel") or {}).get("id", ""),
            response_url=body.get("response_url"),
        )
        await ack()

    async def _parse(
        self, ack: AsyncAck, command: Body, client: AsyncWebClient
    ) -> OrdersRequest | None:
        """Parse the command text; a bad token is answered (ephemeral) and nothing is sent."""
        try:
            return await self.d.parse_command(parse_orders, command, client)
        except InvalidInputError as exc:
            await ack(**error_message(input_error_text(exc, self.d.lang), self.d.lang))
            return None

    async def _awaiting(self, shop: str) -> int:
        return len(await self.d.core.store.numbers_in_stages(shop, [Stage.AWAITING]))

    async def _all_prompt(self, shop: str) -> dict[str, Any]:
        """How many `all` would confirm, and how many are left out and why."""
        store = self.d.core.store
        count = await self._awaiting(shop)
        excluded: Counter[Reason] = Counter()
        for record in await store.orders_in_stages(shop, [Stage.NEEDS_ACTION, Stage.ERROR]):
            refusal = decide(record, None)
            excluded[refusal.reason if refusal and refusal.reason else Reason.FEE_UNSET] += 1
        value = ids.pack_value(shop, count, secrets.token_hex(6))
        return confirm_all_prompt(
            count, dict(excluded), self.d.core.shop(shop).name, self.d.lang, value
        )

    async def _allowed(self, ack: AsyncAck, user: str, role: Role, shop: str, what: str) -> bool:
        if denied := await self.d.refused(user, role, shop, what):
            await ack(**error_message(denied, self.d.lang))
            return False
        return True

    async def _allowed_click(
        self, ack: AsyncAck, respond: AsyncRespond, user: str, role: Role, shop: str, what: str
    ) -> bool:
        denied = await self.d.refused(user, role, shop, what)
        if denied is None:
            return True
        await ack()
        await self.d.tell_clicker(respond, denied)
        return False


def _shop_and_numbers(value: str) -> tuple[str, tuple[str, ...]]:
    shop, numbers = ids.unpack_value(value, 2)
    return shop, ids.unpack_numbers(numbers)


def _click_key(body: Body, action: Body) -> str:
    """Slack sends one trigger_id per click; a redelivered click carries the same one."""
    trigger = body.get("trigger_id") or f"{action.get('action_ts')}:{body['user']['id']}"
    return f"click:{trigger}:{action['action_id']}"


def _thread_of(body: Body) -> str | None:
    message = body.get("message") or {}
    return message.get("thread_ts") or message.get("ts")

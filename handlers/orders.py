"""/confirm, /rms-status and the order buttons: ack, parse, call the core, render."""

from __future__ import annotations

import logging
import secrets
from collections import Counter
from collections.abc import Sequence
from contextlib import suppress
from typing import Any

from slack_bolt.async_app import AsyncAck, AsyncApp, AsyncRespond
from slack_sdk.errors import SlackApiError

from core.confirm import ALL, confirm, decide
from core.errors import InvalidInputError
from core.model import Stage
from core.outcomes import Reason, Report
from core.refetch import refetch
from handlers.app import HandlerDeps
from handlers.guard import Role, Verdict, audit_refusal, refusal
from handlers.input_errors import input_error_text
from handlers.messages import say as t
from handlers.parsing import OrdersRequest, parse_orders
from handlers.render import ids
from handlers.render.lists import error_message
from handlers.render.reports import (
    confirm_all_prompt,
    confirm_report,
    progress_message,
    refetch_report,
)

logger = logging.getLogger(__name__)
Body = dict[str, Any]


class OrderHandlers:
    """Confirmation and RMS-status requests, from commands and from buttons."""

    def __init__(self, deps: HandlerDeps) -> None:
        self.d = deps

    def register(self, app: AsyncApp) -> None:
        """Connect commands and action ids to the methods below."""
        app.command("/confirm")(self.d.wrap(self.on_confirm_command))
        app.command("/rms-status")(self.d.wrap(self.on_status_command))
        app.action(ids.CONFIRM_ALL)(self.d.wrap(self.on_confirm_all))
        app.action(ids.CANCEL_ALL)(self.d.wrap(self.on_cancel_all))
        app.action(ids.CONFIRM_ORDER)(self.d.wrap(self.on_confirm_button))
        app.action(ids.RETRY_CONFIRM)(self.d.wrap(self.on_confirm_button))
        app.action(ids.REFETCH_ORDER)(self.d.wrap(self.on_refetch_button))
        app.action(ids.REFETCH_MANY)(self.d.wrap(self.on_refetch_button))

    # -- commands ----------------------------------------------------------------------------

    async def on_confirm_command(self, ack: AsyncAck, command: Body) -> None:
        """`/confirm <numbers…|all> [shop]`."""
        user, channel = command["user_id"], command["channel_id"]
        req = await self._parse(ack, command)
        if req is None:
            return
        if not await self._allowed(ack, user, Role.CONFIRMER, req.shop, "confirm"):
            return
        if req.all:
            await ack(**await self._all_prompt(req.shop))
            return
        await ack(text=t("accepted_confirm", self.d.lang, count=len(req.numbers)))
        self.d.tracker.spawn(self._confirm(req.shop, req.numbers, user, channel), "confirm")

    async def on_status_command(self, ack: AsyncAck, command: Body) -> None:
        """`/rms-status <numbers…|all> [shop]`: RMSステータスを取得."""
        req = await self._parse(ack, command)
        if req is None:
            return
        await ack(text=t("accepted_refetch", self.d.lang))
        numbers: Sequence[str] | str = ALL if req.all else req.numbers
        self.d.tracker.spawn(
            self._refetch(req.shop, numbers, command["user_id"], command["response_url"]),
            "refetch",
        )

    # -- buttons -------------------------------------------------------------------------------

    async def on_confirm_all(
        self, ack: AsyncAck, body: Body, action: Body, respond: AsyncRespond
    ) -> None:
        """The confirm-all button of the prompt: runs once per prompt, whoever clicks."""
        await ack()
        shop, _count, token = ids.unpack_value(action["value"], 3)
        user, channel = body["user"]["id"], body["channel"]["id"]
        if not await self._allowed_click(respond, user, Role.CONFIRMER, shop, "confirm_all"):
            return
        if not await self.d.core.store.claim_run("confirm_all", token, self.d.core.clock.now()):
            return
        await respond(text=t("confirm_all_started", self.d.lang), replace_original=True)
        self.d.tracker.spawn(self._confirm(shop, ALL, user, channel), "confirm_all")

    async def on_cancel_all(self, ack: AsyncAck, respond: AsyncRespond) -> None:
        """The cancel button of the confirm-all prompt."""
        await ack()
        await respond(text=t("confirm_all_cancelled", self.d.lang), replace_original=True)

    async def on_confirm_button(
        self, ack: AsyncAck, body: Body, action: Body, respond: AsyncRespond
    ) -> None:
        """注文確認通知 for one order (card) or a retry of several (remediation card)."""
        await ack()
        shop, numbers = _shop_and_numbers(action["value"])
        user, channel = body["user"]["id"], body["channel"]["id"]
        if not self.d.dedup.first(f"{user}:{action['action_id']}:{action['value']}"):
            return
        if not await self._allowed_click(respond, user, Role.CONFIRMER, shop, "confirm"):
            return
        thread = _thread_of(body)
        self.d.tracker.spawn(
            self._confirm(shop, numbers, user, channel, thread_ts=thread), "confirm"
        )

    async def on_refetch_button(
        self, ack: AsyncAck, body: Body, action: Body, respond: AsyncRespond
    ) -> None:
        """RMSステータスを取得 for one or several orders."""
        await ack()
        shop, numbers = _shop_and_numbers(action["value"])
        user = body["user"]["id"]
        if not self.d.dedup.first(f"{user}:{action['action_id']}:{action['value']}"):
            return
        self.d.tracker.spawn(self._refetch(shop, numbers, user, body["response_url"]), "refetch")

    # -- work after the ack ---------------------------------------------------------------------

    async def _confirm(
        self,
        shop: str,
        numbers: Sequence[str] | str,
        user: str,
        channel: str,
        *,
        thread_ts: str | None = None,
    ) -> Report:
        lang, poster = self.d.lang, self.d.poster
        verdict = await self.d.auth.check(user, Role.CONFIRMER, shop)  # again, at the effect
        if verdict is not Verdict.ALLOWED:
            await audit_refusal(self.d.core, shop, user, "confirm", verdict)
            with suppress(SlackApiError):
                await poster.ephemeral(channel, user, error_message(refusal(verdict, lang), lang))
            return Report(shop, user, "confirm")
        total = len(numbers) if not isinstance(numbers, str) else await self._awaiting(shop)
        progress_ts: str | None = None
        if total > 100:  # bulk: one message edited in place while chunks go out
            with suppress(SlackApiError):  # progress is a courtesy; the confirmation is not
                progress_ts = await poster.post(channel, progress_message(0, total, lang))

        async def on_progress(done: int, of: int) -> None:
            if progress_ts is not None:
                with suppress(SlackApiError):
                    await poster.update(channel, progress_ts, progress_message(done, of, lang))

        report = await confirm(self.d.core, shop, numbers, user, on_progress=on_progress)
        messages = confirm_report(report, lang, shop_name=self.d.core.shop(shop).name)
        try:
            if progress_ts is not None:
                await poster.update_all(channel, progress_ts, messages)
            elif thread_ts is not None:
                for message in messages:
                    await poster.post(channel, message, thread_ts=thread_ts)
            else:
                await poster.post_all(channel, messages)
        except SlackApiError as exc:  # e.g. typed in a DM the bot cannot post to
            logger.warning(
                "could not post the confirm report in %s (%s); using the shop channel",
                channel,
                exc.response.get("error"),
            )
            await poster.post_all(self.d.core.shop(shop).channel, messages)
        await self.d.publisher.drain(digests=False)
        return report

    async def _refetch(
        self, shop: str, numbers: Sequence[str] | str, user: str, response_url: str
    ) -> None:
        verdict = await self.d.auth.check(user, Role.ANYONE, shop)  # read-only: always allowed
        if verdict is not Verdict.ALLOWED:
            lang = self.d.lang
            await self.d.poster.reply(response_url, error_message(refusal(verdict, lang), lang))
            return
        report = await refetch(self.d.core, shop, numbers, user)
        for message in refetch_report(report, self.d.lang, shop_name=self.d.core.shop(shop).name)[
            :4
        ]:
            await self.d.poster.reply(response_url, message)
        await self.d.publisher.drain(digests=False)

    async def _parse(self, ack: AsyncAck, command: Body) -> OrdersRequest | None:
        """Parse the command text; a bad token is answered (ephemeral) and nothing is sent."""
        try:
            return parse_orders(
                command.get("text", ""),
                self.d.core.shops,
                channel_shop=self.d.channel_shop(command["channel_id"]),
            )
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
        verdict = await self.d.auth.check(user, role, shop)
        if verdict is Verdict.ALLOWED:
            return True
        await audit_refusal(self.d.core, shop, user, what, verdict)
        await ack(**error_message(refusal(verdict, self.d.lang), self.d.lang))
        return False

    async def _allowed_click(
        self, respond: AsyncRespond, user: str, role: Role, shop: str, what: str
    ) -> bool:
        verdict = await self.d.auth.check(user, role, shop)
        if verdict is Verdict.ALLOWED:
            return True
        await audit_refusal(self.d.core, shop, user, what, verdict)
        await respond(
            **error_message(refusal(verdict, self.d.lang), self.d.lang),
            response_type="ephemeral",
            replace_original=False,
        )
        return False


def _shop_and_numbers(value: str) -> tuple[str, tuple[str, ...]]:
    shop, numbers = ids.unpack_value(value, 2)
    return shop, ids.unpack_numbers(numbers)


def _thread_of(body: Body) -> str | None:
    message = body.get("message") or {}
    return message.get("thread_ts") or message.get("ts")

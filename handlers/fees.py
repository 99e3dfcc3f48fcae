"""The -9,999円 flow in Slack: 送料を入力 button → modal → core fee resolution → card updated."""

from __future__ import annotations

import logging
from typing import Any

from slack_bolt.async_app import AsyncAck, AsyncApp, AsyncRespond
from slack_sdk.web.async_client import AsyncWebClient

from core.lifecycle import check_fees
from core.outcomes import Outcome
from core.shipping import resolve_fee
from handlers.app import HandlerDeps
from handlers.guard import Role, Verdict, audit_refusal, refusal
from handlers.messages import say
from handlers.render import ids
from handlers.render.cards import flag_card, order_details
from handlers.render.lists import error_message
from handlers.render.modals import fee_modal
from handlers.render.reports import confirm_report

logger = logging.getLogger(__name__)
Body = dict[str, Any]


class FeeHandlers:
    """Approve-with-fee on flag cards, and the order details button."""

    def __init__(self, deps: HandlerDeps) -> None:
        self.d = deps

    def register(self, app: AsyncApp) -> None:
        """Connect the buttons and the modal callback."""
        app.action(ids.OPEN_FEE_MODAL)(self.d.wrap(self.on_open_fee_modal))
        app.action(ids.SHOW_DETAILS)(self.d.wrap(self.on_details))
        app.view(ids.FEE_MODAL)(self.d.wrap(self.on_fee_submit))

    async def on_open_fee_modal(
        self, ack: AsyncAck, body: Body, action: Body, client: AsyncWebClient, respond: AsyncRespond
    ) -> None:
        """Open the modal at once (trigger_id lives 3 s), then nothing else."""
        await ack()
        shop, number = ids.unpack_value(action["value"], 2)
        user = body["user"]["id"]
        lang = self.d.lang
        verdict = await self.d.auth.check(user, Role.CONFIRMER, shop)
        if verdict is not Verdict.ALLOWED:
            await audit_refusal(self.d.core, shop, user, "fee", verdict)
            await respond(
                **error_message(refusal(verdict, lang), lang),
                response_type="ephemeral",
                replace_original=False,
            )
            return
        record = await self.d.core.store.get_order(number)
        if record is None:
            await respond(
                **error_message(say("unknown_order", lang, number=number), lang),
                response_type="ephemeral",
                replace_original=False,
            )
            return
        channel = body.get("channel", {}).get("id", "")
        ts = (body.get("message") or {}).get("ts", "")
        metadata = ids.pack_value(shop, number, channel, ts)
        view = fee_modal(record, self.d.core.shop(shop).api_option, lang, metadata)
        await client.views_open(trigger_id=body["trigger_id"], view=view)

    async def on_details(self, ack: AsyncAck, action: Body, respond: AsyncRespond) -> None:
        """詳細: everything about the order, only for the one who asked."""
        await ack()
        _shop, number = ids.unpack_value(action["value"], 2)
        record = await self.d.core.store.get_order(number)
        lang = self.d.lang
        if record is None:
            message = error_message(say("unknown_order", lang, number=number), lang)
        else:
            message = order_details(record, lang, now=self.d.core.clock.now())
        await respond(**message, response_type="ephemeral", replace_original=False)

    async def on_fee_submit(self, ack: AsyncAck, body: Body, view: Body) -> None:
        """Validate every package's fee in the modal; then write/record it after the ack."""
        shop, number, channel, ts = ids.unpack_value(view.get("private_metadata", ""), 4)
        user = body["user"]["id"]
        entered: dict[int, str] = {}
        for block_id, inputs in view.get("state", {}).get("values", {}).items():
            basket = ids.basket_id_of(block_id)
            if basket is not None:
                entered[basket] = (inputs.get(ids.FEE_INPUT) or {}).get("value") or ""
        verdict = await self.d.auth.check(user, Role.CONFIRMER, shop)  # again, at submission
        if verdict is not Verdict.ALLOWED:
            await audit_refusal(self.d.core, shop, user, "fee", verdict)
            text = refusal(verdict, self.d.lang)
            await ack(response_action="errors", errors={ids.fee_block_id(b): text for b in entered})
            return
        record = await self.d.core.store.get_order(number)
        if record is None:
            await ack()
            return
        checked = check_fees(record.snapshot, entered)
        if checked.problems:
            await ack(
                response_action="errors",
                errors={
                    ids.fee_block_id(int(b)): say("fee_invalid", self.d.lang)
                    for b in checked.problems
                },
            )
            return
        await ack()
        if not self.d.dedup.first(f"fee:{view.get('id')}:{number}"):
            return
        self.d.tracker.spawn(self._resolve(shop, number, entered, user, channel, ts), "fee")

    async def _resolve(
        self, shop: str, number: str, entered: dict[int, str], user: str, channel: str, ts: str
    ) -> None:
        report = await resolve_fee(self.d.core, shop, number, entered, user)
        outcome = report.outcomes[0]
        record = await self.d.core.store.get_order(number)
        lang, cfg = self.d.lang, self.d.core.shop(shop)
        if channel and ts and record is not None:
            card = flag_card(
                record,
                cfg.name,
                cfg.api_option,
                lang,
                resolved=outcome,
                now=self.d.core.clock.now(),
                actor=user,
                fees=outcome.fees,
            )
            await self.d.poster.update(channel, ts, card)
        if channel and outcome.outcome not in (Outcome.FEE_RECORDED,):
            for message in confirm_report(report, lang, shop_name=cfg.name):
                await self.d.poster.post(channel, message, thread_ts=ts or None)
        await self.d.publisher.drain(digests=False)

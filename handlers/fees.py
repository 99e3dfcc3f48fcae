"""The -9,999円 flow in Slack: 送料を入力 button → fee form → confirmation (new total, effect)
→ 確定 → core fee resolution → card updated."""

from __future__ import annotations

import logging
from typing import Any

from slack_bolt.async_app import AsyncAck, AsyncRespond
from slack_sdk.web.async_client import AsyncWebClient

from core.auto import config_of
from core.errors import InvalidInputError
from core.fee_table import Proposal, propose
from core.model import OrderRecord, RequestKind
from handlers.deps import HandlerDeps
from handlers.guard import Role
from handlers.messages import say
from handlers.parsing import FeeModalState, parse_fee_state, parse_fees
from handlers.render import ids
from handlers.render.cards import order_details
from handlers.render.i18n import yen
from handlers.render.lists import error_message
from handlers.render.modals import fee_modal, fee_review_modal, notice_modal
from handlers.routes import Routes

logger = logging.getLogger(__name__)
Body = dict[str, Any]


class FeeHandlers:
    """Approve-with-fee on flag cards, and the order details button."""

    def __init__(self, deps: HandlerDeps) -> None:
        self.d = deps

    def register(self, routes: Routes) -> None:
        """Connect the buttons and the modal callback."""
        routes.action(ids.OPEN_FEE_MODAL, self.on_open_fee_modal)
        routes.action(ids.SHOW_DETAILS, self.on_details)
        routes.view(ids.FEE_MODAL, self.on_fee_submit)

    async def on_open_fee_modal(
        self, ack: AsyncAck, body: Body, action: Body, client: AsyncWebClient, respond: AsyncRespond
    ) -> None:
        """Open the modal at once (trigger_id lives 3 s), then nothing else."""
        await ack()
        shop, number = ids.unpack_value(action["value"], 2)
        user = body["user"]["id"]
        lang = self.d.lang
        if denied := await self.d.refused(user, Role.CONFIRMER, shop, "fee"):
            await self.d.tell_clicker(respond, denied)
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
        seen = dict(record.intended_fees or {})  # a record made after this is not overwritten
        metadata = FeeModalState(shop, number, channel, ts, seen=seen).pack()
        api_option = self.d.core.shop(shop).api_option
        view = fee_modal(record, api_option, lang, metadata, self._max_fee, self._proposal(record))
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
            api_option = (
                record.shop in self.d.core.shops and self.d.core.shop(record.shop).api_option
            )
            message = order_details(
                record, lang, now=self.d.core.clock.now(), api_option=api_option
            )
        await respond(**message, response_type="ephemeral", replace_original=False)

    async def on_fee_submit(self, ack: AsyncAck, body: Body, view: Body) -> None:
        """[次へ] checks the fees and shows the new total; [確定] writes or records them."""
        state = parse_fee_state(view.get("private_metadata", ""))
        shop, number, user = state.shop, state.number, body["user"]["id"]
        record = await self.d.core.store.get_order(number)
        if record is None or record.shop != shop:
            await ack()
            return
        text = await self.d.refused(user, Role.CONFIRMER, shop, "fee")  # again, at submission
        if text is not None:
            if state.fees is None:  # the form: the refusal stands on its fields
                blocks = [p.basket_id for p in record.snapshot.packages]
                await ack(
                    response_action="errors", errors={ids.fee_block_id(b): text for b in blocks}
                )
            else:  # the confirmation step has no field: it becomes the refusal
                await ack(response_action="update", view=notice_modal(text, self.d.lang))
            return
        if state.fees is None:
            await self._review(ack, view, state, record)
        else:
            await self._perform(ack, view, state, record, user)

    def _proposal(self, record: OrderRecord) -> Proposal | None:
        """The shop's fee table's proposal for a -9,999 order (prefills the modal)."""
        if not record.snapshot.fee_unset:
            return None
        return propose(record.snapshot, config_of(self.d.core, record.shop).fees)

    @property
    def _max_fee(self) -> int:
        return self.d.core.policy.max_postage_yen

    async def _review(
        self, ack: AsyncAck, view: Body, state: FeeModalState, record: OrderRecord
    ) -> None:
        """Step 1: every field is a fee in 0…MAX_POSTAGE_YEN, or an error on that field."""
        entered: dict[int, str | None] = {}
        for block_id, inputs in view.get("state", {}).get("values", {}).items():
            basket = ids.basket_id_of(block_id)
            if basket is not None:
                entered[basket] = (inputs.get(ids.FEE_INPUT) or {}).get("value")
        baskets = [p.basket_id for p in record.snapshot.packages]
        fees, problems = parse_fees(entered, baskets, self._max_fee)
        if problems:
            errors = {ids.fee_block_id(b): self._fee_error(e) for b, e in problems.items()}
            await ack(response_action="errors", errors=errors)
            return
        api_option = self.d.core.shop(state.shop).api_option
        review = fee_review_modal(record, fees, api_option, self.d.lang, state.pack(fees))
        await ack(response_action="update", view=review)

    async def _perform(
        self, ack: AsyncAck, view: Body, state: FeeModalState, record: OrderRecord, user: str
    ) -> None:
        """Step 2 (確定): the checked fees, checked again against the cap, go to the core."""
        fees = dict(state.fees or {})
        _, problems = parse_fees({b: str(v) for b, v in fees.items()}, fees, self._max_fee)
        if problems or not fees:  # the cap was lowered meanwhile, or metadata we did not write
            api_option = self.d.core.shop(state.shop).api_option
            form = fee_modal(
                record, api_option, self.d.lang, state.pack(), self._max_fee, self._proposal(record)
            )
            await ack(response_action="update", view=form)
            return
        await self.d.request(
            RequestKind.FEE,
            state.shop,
            [state.number],
            user,
            delivery_key=f"view:{view.get('id')}:{view.get('hash', '')}",
            open_key=f"fee:{state.number}",
            channel=state.channel,
            thread_ts=state.ts or None,
            payload={"fees": {str(k): str(v) for k, v in fees.items()}, **_seen(state)},
        )
        await ack()

    def _fee_error(self, error: InvalidInputError) -> str:
        """The field error for a parse_fee problem, naming what was typed."""
        kind, _, typed = str(error).partition(":")
        return say(kind, self.d.lang, text=typed, max=yen(self._max_fee, self.d.lang))


def _seen(state: FeeModalState) -> dict[str, dict[str, int]]:
    """The recorded fees the form showed when opened, for the stale-record check."""
    if state.seen is None:
        return {}
    return {"seen": {str(k): v for k, v in state.seen.items()}}

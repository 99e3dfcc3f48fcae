"""/rms auto and /rms held, and the held card's 保留のまま button and note modal."""

from __future__ import annotations

import logging
from typing import Any

from slack_bolt.async_app import AsyncAck, AsyncRespond
from slack_sdk.web.async_client import AsyncWebClient

from core import auto
from handlers.deps import HandlerDeps
from handlers.guard import Role
from handlers.parsing import RmsRequest
from handlers.render import ids
from handlers.render.held import (
    KEEP_BLOCK,
    KEEP_HOLDING,
    KEEP_INPUT,
    KEEP_MODAL,
    auto_status,
    held_list,
    keep_modal,
)
from handlers.render.lists import error_message
from handlers.routes import Routes

logger = logging.getLogger(__name__)
Body = dict[str, Any]
Message = dict[str, Any]


class AutoHandlers:
    """Control of auto-confirm (admins) and the hold queue (confirmers)."""

    def __init__(self, deps: HandlerDeps) -> None:
        self.d = deps

    def register(self, routes: Routes) -> None:
        """Connect the 保留のまま button and its modal (/rms routes here from admin.py)."""
        routes.action(KEEP_HOLDING, self.on_keep_button)
        routes.view(KEEP_MODAL, self.on_keep_submit)

    async def answer(self, req: RmsRequest, user: str) -> Message:
        """`/rms held [shop]` and `/rms auto …`, answered to the person who asked."""
        core, lang = self.d.core, self.d.lang
        if req.verb == "held":
            rows = await auto.held(core, req.shop)
            return held_list(core.shop(req.shop).name, rows, lang, core.clock.now())
        if req.arg == "status":
            found, paused = await auto.modes(core)
            shops = [req.shop] if req.shop else list(core.shops)
            return auto_status([(core.shop(s).name, found[s].value) for s in shops], paused, lang)
        shops = [req.shop] if req.shop else list(core.shops)
        for shop in shops:  # pause/resume act on every shop: an admin of each, like a change
            if denied := await self.d.refused(user, Role.ADMIN, shop, f"auto_{req.arg}"):
                return error_message(denied, lang)
        if req.arg in ("pause", "resume"):
            await auto.set_paused(core, req.arg == "pause", user)
        else:
            await auto.set_mode(core, req.shop, auto.AutoMode(req.arg), user)
        self.d.wake()
        found, paused = await auto.modes(core)
        return auto_status([(core.shop(s).name, found[s].value) for s in shops], paused, lang)

    async def on_keep_button(
        self, ack: AsyncAck, body: Body, action: Body, client: AsyncWebClient, respond: AsyncRespond
    ) -> None:
        """保留のまま: open the note modal (confirmers only)."""
        await ack()
        shop, number = ids.unpack_value(action["value"], 2)
        user = body["user"]["id"]
        if denied := await self.d.refused(user, Role.CONFIRMER, shop, "keep_holding"):
            await self.d.tell_clicker(respond, denied)
            return
        view = keep_modal(number, self.d.lang, ids.pack_value(shop, number))
        await client.views_open(trigger_id=body["trigger_id"], view=view)

    async def on_keep_submit(self, ack: AsyncAck, body: Body, view: Body) -> None:
        """Record the note; the held card is edited to show it (through the outbox)."""
        shop, number = ids.unpack_value(view.get("private_metadata", ""), 2)
        user = body["user"]["id"]
        if denied := await self.d.refused(user, Role.CONFIRMER, shop, "keep_holding"):  # again
            await ack(response_action="errors", errors={KEEP_BLOCK: denied})
            return
        values = view.get("state", {}).get("values", {})
        note = str((values.get(KEEP_BLOCK, {}).get(KEEP_INPUT, {}) or {}).get("value") or "")
        if shop not in self.d.core.shops or not await auto.keep_holding(
            self.d.core, shop, number, note.strip()[:500], user
        ):
            await ack(response_action="errors", errors={KEEP_BLOCK: number})
            return
        await ack()
        logger.info("%s keeps %s on hold", user, number)
        self.d.wake()

"""/rms: help, pending, flagged, bundle, unbundle, candidates, summary, license; App Home."""

from __future__ import annotations

import logging
import secrets
from typing import Any

from slack_bolt.async_app import AsyncAck
from slack_sdk.web.async_client import AsyncWebClient

from core.bundles import candidates, unbundle
from core.errors import InvalidInputError
from core.model import RequestKind, Stage
from handlers.auto import AutoHandlers
from handlers.deps import HandlerDeps
from handlers.guard import Role
from handlers.input_errors import input_error_text
from handlers.messages import say
from handlers.parsing import parse_rms
from handlers.render import ids
from handlers.render.bundles import bundle_report, candidates_message
from handlers.render.i18n import t
from handlers.render.lists import error_message, flagged_list, help_message, pending_list
from handlers.render.modals import license_modal
from handlers.routes import Routes

logger = logging.getLogger(__name__)
Body = dict[str, Any]
Message = dict[str, Any]

# Hooks filled by the composition root (bot/wiring.py) for the digest/summary/licence features.
ROLE_OF = {"bundle": Role.CONFIRMER, "unbundle": Role.CONFIRMER}  # other verbs only read


class AdminHandlers:
    """Everything behind `/rms`, the licence modal and the App Home tab."""

    def __init__(self, deps: HandlerDeps) -> None:
        self.d = deps
        self.auto = AutoHandlers(deps)  # /rms auto, /rms held and the hold queue

    def register(self, routes: Routes) -> None:
        """Connect the command, modal, events and home buttons."""
        routes.command("/rms", self.on_rms_command)
        self.auto.register(routes)
        routes.view(ids.LICENSE_MODAL, self.on_license_submit)
        routes.event("app_home_opened", self.on_home_opened)
        routes.action(ids.HOME_PENDING, self.on_home_button)
        routes.action(ids.HOME_FLAGGED, self.on_home_button)
        routes.action(ids.HOME_SUMMARY, self.on_home_button)

    async def on_rms_command(self, ack: AsyncAck, command: Body, client: AsyncWebClient) -> None:
        """`/rms <subcommand> …` — answers only the person who asked."""
        lang, user = self.d.lang, command["user_id"]
        try:
            req = await self.d.parse_command(parse_rms, command, client)
        except InvalidInputError as exc:
            await ack(**error_message(input_error_text(exc, lang), lang))
            return
        if req.verb == "license":
            await self._open_license_modal(ack, command, client, req.shop)
            return
        if req.verb in ("auto", "held"):
            await ack(**await self.auto.answer(req, user))
            return
        if req.verb == "bundle":  # re-reads RMS first: a stored request, never in the 3 s
            if denied := await self.d.refused(user, Role.CONFIRMER, req.shop, "bundle"):
                await ack(**error_message(denied, lang))
                return
            await self.d.request(
                RequestKind.BUNDLE,
                req.shop,
                req.numbers,
                user,
                delivery_key=f"command:{command.get('trigger_id') or secrets.token_hex(8)}",
                channel=command["channel_id"],
                response_url=command.get("response_url"),
            )
            await ack(text=say("accepted_bundle", lang))
            return
        await ack(**await self._answer(req.verb, req.shop, req.numbers, user))

    async def _answer(self, verb: str, shop: str, numbers: tuple[str, ...], user: str) -> Message:
        core, lang, name = self.d.core, self.d.lang, self.d.core.shop(shop).name
        if denied := await self.d.refused(user, ROLE_OF.get(verb, Role.ANYONE), shop, verb):
            return error_message(denied, lang)
        now = core.clock.now()
        if verb == "pending":
            records = await core.store.orders_in_stages(shop, [Stage.AWAITING])
            return pending_list(records, lang, name, now=now)
        if verb == "flagged":
            records = await core.store.orders_in_stages(shop, [Stage.NEEDS_ACTION, Stage.ERROR])
            return flagged_list(records, lang, name, now=now)
        if verb == "unbundle":
            return bundle_report(await unbundle(core, shop, numbers[0], user), lang, shop_name=name)
        if verb == "candidates":
            return candidates_message(await candidates(core, shop), lang, shop_name=name)
        if verb == "summary":
            hook = self.d.summary
            if hook is None:
                return error_message(say("summary_unavailable", lang), lang)
            return await hook(shop)
        return help_message(lang)

    async def _open_license_modal(
        self, ack: AsyncAck, command: Body, client: AsyncWebClient, shop: str
    ) -> None:
        lang, user = self.d.lang, command["user_id"]
        if denied := await self.d.refused(user, Role.ADMIN, shop, "license"):
            await ack(**error_message(denied, lang))
            return
        if self.d.license is None:
            await ack(**error_message(say("license_needs_secret_key", lang), lang))
            return
        await ack()
        view = license_modal(self.d.core.shop(shop).name, lang, ids.pack_value(shop))
        await client.views_open(trigger_id=command["trigger_id"], view=view)

    async def on_license_submit(self, ack: AsyncAck, body: Body, view: Body) -> None:
        """Store the pasted key encrypted; never echo or log it."""
        lang, user = self.d.lang, body["user"]["id"]
        (shop,) = ids.unpack_value(view.get("private_metadata", ""), 1)
        if denied := await self.d.refused(user, Role.ADMIN, shop, "license"):  # again, now
            await ack(response_action="errors", errors={ids.LICENSE_BLOCK: denied})
            return
        value = view.get("state", {}).get("values", {}).get(ids.LICENSE_BLOCK, {})
        key = ((value.get(ids.LICENSE_INPUT) or {}).get("value") or "").strip()
        if not key or len(key) > 50:
            problem = "license_empty" if not key else "license_too_long"
            await ack(response_action="errors", errors={ids.LICENSE_BLOCK: say(problem, lang)})
            return
        if self.d.license is None:  # no SECRET_KEY: the modal could not have been opened
            await ack()
            return
        await self.d.license(shop, key, user)
        text = say("license_saved", lang)
        await ack(
            response_action="update",
            view={
                "type": "modal",
                "title": {"type": "plain_text", "text": t("license_title", lang)},
                "close": {"type": "plain_text", "text": "OK"},
                "blocks": [{"type": "section", "text": {"type": "mrkdwn", "text": text}}],
            },
        )

    async def on_home_opened(self, event: Body, client: AsyncWebClient) -> None:
        """Publish the per-shop dashboard for this user."""
        hook = self.d.home
        if hook is None or event.get("tab", "home") != "home":
            return
        await client.views_publish(user_id=event["user"], view=await hook(event["user"]))

    async def on_home_button(
        self, ack: AsyncAck, action: Body, body: Body, client: AsyncWebClient
    ) -> None:
        """Home buttons answer in App Home itself: the dashboard with the answer under it."""
        await ack()
        verb = {
            ids.HOME_PENDING: "pending",
            ids.HOME_FLAGGED: "flagged",
            ids.HOME_SUMMARY: "summary",
        }[action["action_id"]]
        shop = action.get("value") or next(iter(self.d.core.shops))
        user = body["user"]["id"]
        message = await self._answer(verb, shop, (), user)
        hook = self.d.home
        if hook is None:  # no dashboard to show it in: a DM
            await client.chat_postMessage(
                channel=user, text=message.get("text", ""), blocks=message.get("blocks")
            )
            return
        view = await hook(user)
        blocks = [*view.get("blocks", []), {"type": "divider"}, *message.get("blocks", [])]
        await client.views_publish(user_id=user, view={**view, "blocks": blocks[:100]})
